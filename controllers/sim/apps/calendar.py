"""Calendar: a month grid, day agendas, event details, and an event form with a date picker.

State that tasks check: ``events`` (a list of dicts with ``id``, ``title``,
``date`` as ISO ``YYYY-MM-DD`` and ``time`` as ``HH:MM``) and ``today``.
Pages: ``main`` (month view), ``day/<iso>``, ``event/<id>``, ``new`` and
``edit/<id>`` (the event form) and ``picker`` (the form's date picker).
"""
from __future__ import annotations

import calendar as pycal
from datetime import date, timedelta
from typing import Callable

from controllers.elements import Role
from controllers.sim.apps.base import App
from controllers.sim.style import CITIES, GIVEN_NAMES
from controllers.sim.ui import Node, Page

TIMES = ["08:00", "09:00", "10:00", "11:00", "12:00", "13:30", "15:00", "17:00", "19:00"]
TITLES = ["Team meeting", "회의", "Lunch with {name}", "Yoga", "Gym", "Standup", "Haircut", "Birthday party",
          "Call Mom", "치과 예약", "Project review", "Coffee with {name}", "Flight to {city}", "Book club",
          "Piano lesson", "저녁 약속", "1:1 with {name}", "Car service", "Réunion budget", "병원"]
MONTHS_EN = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December"]
WEEKDAYS_EN = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
WEEKDAYS_KO = ["월", "화", "수", "목", "금", "토", "일"]
PLACES = ["Room 3", "강남역", "Online", "Home", "Café Zoë", "Office 12F", "회의실 A", "Gym", "Downtown", ""]
MAX_PER_DAY = 4


def iso(d: date) -> str:
    return d.isoformat()


def shift_month(year: int, month: int, delta: int) -> tuple[int, int]:
    n = year * 12 + (month - 1) + delta
    return n // 12, n % 12 + 1


class CalendarApp(App):
    key = "calendar"
    label_key = "calendar"
    package = "com.handa.calendar"
    icon = (66, 133, 244)

    def init_state(self) -> None:
        r = self.rng
        self.today = date(2026, r.randint(1, 12), r.randint(1, 28))
        self.korean = r.random() < 0.3  # date wording of this install
        self.week_start = r.choice([0, 6])  # Monday- or Sunday-first grid
        self.view = (self.today.year, self.today.month)
        self.pick_view = self.view
        self.events: list[dict] = []
        self.next_id = 1
        start = date(*shift_month(self.today.year, self.today.month, -1), 1)
        for _ in range(r.randint(14, 22)):
            day = start + timedelta(days=r.randint(0, 88))
            title = r.choice(TITLES).format(name=r.choice(GIVEN_NAMES), city=r.choice(CITIES))
            self.add_event(title, iso(day), r.choice(TIMES))
        self.draft = {"title": "", "date": iso(self.today), "time": TIMES[0], "reminder": True}

    # ------------------------------------------------------------ model
    def add_event(self, title: str, day: str, time: str, force: bool = False) -> str:
        """Add an event and return its id; seeding (not ``force``) keeps days to ``MAX_PER_DAY`` events."""
        if len(self.on_day(day)) >= MAX_PER_DAY and not force:
            return ""
        event_id = f"e{self.next_id}"
        self.next_id += 1
        self.events.append({"id": event_id, "title": title, "date": day, "time": time,
                            "place": self.rng.choice(PLACES)})
        return event_id

    def on_day(self, day: str) -> list[dict]:
        return sorted((e for e in self.events if e["date"] == day), key=lambda e: (e["time"], e["id"]))

    def event(self, event_id: str) -> dict | None:
        return next((e for e in self.events if e["id"] == event_id), None)

    # ------------------------------------------------------------ wording
    def month_label(self, year: int, month: int) -> str:
        return f"{year}년 {month}월" if self.korean else f"{MONTHS_EN[month - 1]} {year}"

    def day_label(self, day: str) -> str:
        d = date.fromisoformat(day)
        if self.korean:
            return f"{d.month}월 {d.day}일 ({WEEKDAYS_KO[d.weekday()]})"
        return f"{WEEKDAYS_EN[d.weekday()]}, {MONTHS_EN[d.month - 1][:3]} {d.day}"

    # ------------------------------------------------------------ actions
    def open_day(self, day: str) -> None:
        self.go(f"day/{day}")

    def _step_day(self, day: str, delta: int) -> None:
        # replace the day page so back still leads to the month
        self.pages[-1] = f"day/{iso(date.fromisoformat(day) + timedelta(days=delta))}"

    def _move_view(self, attr: str, delta: int) -> None:
        setattr(self, attr, shift_month(*getattr(self, attr), delta))

    def _go_today(self) -> None:
        self.view = (self.today.year, self.today.month)

    def _new_event(self, day: str) -> None:
        self.draft = {"title": "", "date": day, "time": TIMES[self.rng.randrange(len(TIMES))], "reminder": True}
        self.go("new")
        self.focus = "calendar:title_field"

    def _edit_event(self, event_id: str) -> None:
        e = self.event(event_id)
        self.draft = {"title": e["title"], "date": e["date"], "time": e["time"], "reminder": True}
        self.go(f"edit/{event_id}")

    def _open_picker(self) -> None:
        d = date.fromisoformat(self.draft["date"])
        self.pick_view = (d.year, d.month)
        self.go("picker")

    def _pick(self, day: str) -> None:
        self.draft["date"] = day
        self.back()

    def _pick_time(self, time: str) -> None:
        self.draft["time"] = time
        self.menu = None

    def _set_title(self, text: str) -> None:
        self.draft["title"] = text

    def _toggle_reminder(self) -> None:
        self.draft["reminder"] = not self.draft["reminder"]

    def _save(self) -> None:
        d = self.draft
        if not d["title"].strip():
            self.dialog = "need_title"
            return
        editing = self.event(self.page[5:]) if self.page.startswith("edit/") else None
        if editing:
            editing.update(title=d["title"].strip(), date=d["date"], time=d["time"])
            self.back()  # to the event page, which now shows the change
            return
        self.add_event(d["title"].strip(), d["date"], d["time"], force=True)
        self.back()
        if self.page.startswith("day/"):
            self.pages[-1] = f"day/{d['date']}"  # show the day the event landed on
        else:
            self.go(f"day/{d['date']}")

    def _ask_delete(self) -> None:
        self.dialog = "delete"

    def _delete(self, event_id: str) -> None:
        self.events = [e for e in self.events if e["id"] != event_id]
        self.dialog = None
        self.back()

    # ------------------------------------------------------------ screens
    def build(self, ui: Page) -> None:
        page = self.page
        if page == "main":
            self._build_month(ui)
        elif page.startswith("day/"):
            self._build_day(ui, page.split("/", 1)[1])
        elif page.startswith("event/") and self.event(page.split("/", 1)[1]):
            self._build_event(ui, self.event(page.split("/", 1)[1]))
        elif page == "new" or page.startswith("edit/"):
            self._build_form(ui)
        elif page == "picker":
            ui.header(self.L("date"), back=self.back)
            self._grid(ui, "calendar:pick", self.pick_view, self.draft["date"], self._pick,
                       lambda d: self._move_view("pick_view", d))
        else:  # e.g. an event page whose event was deleted elsewhere
            ui.header(self.title, back=self.back)

    def _grid(self, ui: Page, prefix: str, view: tuple[int, int], selected: str, on_pick: Callable[[str], None],
              on_step: Callable[[int], None]) -> None:
        """A month grid: ‹ Month › then weekday initials and one button per day."""
        year, month = view
        y = ui._place(48)
        ui._add(Node(f"{prefix}:prev", Role.button, ui.x + 4, y + 4, 44, 40, desc="‹", name="‹",
                     on_click=lambda: on_step(-1), kind="button", emphasis=3))
        ui._add(Node(f"{prefix}:next", Role.button, ui.x + ui.w - 48, y + 4, 44, 40, desc="›", name="›",
                     on_click=lambda: on_step(1), kind="button", emphasis=3))
        ui._add(Node(f"{prefix}:month", Role.heading, ui.x + 56, y, ui.w - 112, 48, name=self.month_label(year, month),
                     value=f"{year:04d}-{month:02d}", kind="title"))
        cw = (ui.w - 8) / 7
        y = ui._place(24)
        order = [(self.week_start + i) % 7 for i in range(7)]
        names = WEEKDAYS_KO if self.korean else WEEKDAYS_EN
        for col, wd in enumerate(order):
            ui._add(Node(f"{prefix}:wd:{wd}", Role.text, ui.x + 4 + col * cw + cw / 2 - 9, y, cw / 2 + 9, 24,
                         name=names[wd][:2], kind="caption"))  # captions draw left-aligned: start near the middle
        first = date(year, month, 1)
        col = (first.weekday() - self.week_start) % 7
        days = pycal.monthrange(year, month)[1]
        y = ui._place(44)
        for n in range(1, days + 1):
            if col == 7:
                col, y = 0, ui._place(44)
            day = iso(date(year, month, n))
            count = len(self.on_day(day))
            ui._add(Node(f"{prefix}:day:{day}", Role.button, ui.x + 4 + col * cw + 1, y + 2, cw - 2, 40,
                         name=f"{n}{' •' if count else ''}", desc=f"{count} events" if count else "",
                         selected=day == selected, on_click=lambda d=day: on_pick(d), kind="button",
                         emphasis=1 if day == selected else (3 if day == iso(self.today) else 0)))
            col += 1
        ui.spacer(8)

    def _build_month(self, ui: Page) -> None:
        ui.header(self.title, actions=[("calendar:today", self.L("today"), self._go_today),
                                       ("calendar:add", "+", lambda: self._new_event(iso(self.today)))])
        self.distractor_banner(ui)
        self._grid(ui, "calendar", self.view, iso(self.today), self.open_day, lambda d: self._move_view("view", d))
        ui.section(self.L("upcoming"), key="calendar:upcoming")
        soon = sorted((e for e in self.events if e["date"] >= iso(self.today)), key=lambda e: (e["date"], e["time"]))
        for e in soon[:4]:
            ui.row_item(f"calendar:upcoming:{e['id']}", e["title"], lambda i=e["id"]: self.go(f"event/{i}"),
                        subtitle=self.day_label(e["date"]), trailing=e["time"])

    def _build_day(self, ui: Page, day: str) -> None:
        ui.header(self.day_label(day), back=self.back)
        ui.text(day, key="calendar:day_date").value = day
        ui.buttons([("calendar:prev_day", "‹", lambda: self._step_day(day, -1), 3),
                    ("calendar:next_day", "›", lambda: self._step_day(day, 1), 3)])
        events = self.on_day(day)
        if not events:
            ui.text(self.L("no_events"), key="calendar:no_events")
        for e in events:
            ui.row_item(f"calendar:event:{e['id']}", e["title"], lambda i=e["id"]: self.go(f"event/{i}"),
                        subtitle=e["place"], trailing=e["time"])
        ui.spacer(72)
        ui.fab("calendar:add", self.L("new_event"), lambda: self._new_event(day))

    def _build_event(self, ui: Page, e: dict) -> None:
        ui.header(e["title"], back=self.back)
        ui.text(e["title"], key="calendar:event_title", size="big").value = e["title"]
        ui.text(self.day_label(e["date"]), key="calendar:event_date").value = e["date"]
        ui.text(e["time"], key="calendar:event_time").value = e["time"]
        if e["place"]:
            ui.text(e["place"], key="calendar:event_place")
        ui.buttons([("calendar:edit", self.L("edit"), lambda: self._edit_event(e["id"]), 3),
                    ("calendar:delete", self.L("delete"), self._ask_delete, 2)])
        if self.dialog == "delete":
            ui.dialog("calendar:delete_dialog", f"{self.L('delete')}?", f"“{e['title']}” · {self.day_label(e['date'])}", [
                ("calendar:delete_cancel", self.L("cancel"), self.close_overlay, 0),
                ("calendar:delete_ok", self.L("delete"), lambda: self._delete(e["id"]), 2)])

    def _build_form(self, ui: Page) -> None:
        d = self.draft
        on_top = self.style.primary_on_top
        ui.header(self.L("edit") if self.page.startswith("edit/") else self.L("new_event"), back=self.back,
                  actions=[("calendar:save", self.L("save"), self._save)] if on_top else [])
        ui.field("calendar:title_field", self.L("title"), d["title"], self._set_title, hint=self.L("event"))
        ui.dropdown("calendar:date_field", self.L("date"), d["date"], self._open_picker)
        time = ui.dropdown("calendar:time_field", self.L("time"), d["time"], self._open_time_menu)
        ui.switch("calendar:reminder", self.L("reminder"), d["reminder"], self._toggle_reminder)
        if not on_top:
            ui.button("calendar:save", self.L("save"), self._save)
        if self.menu == "time":
            ui.menu("calendar:time_menu", [(f"calendar:time:{t}", t, lambda t=t: self._pick_time(t)) for t in TIMES],
                    anchor=time)
        if self.dialog == "need_title":
            ui.dialog("calendar:need_title", self.L("title"), "! " + self.L("title") + "?", [
                ("calendar:need_title_ok", self.L("confirm"), self.close_overlay, 1)])

    def _open_time_menu(self) -> None:
        self.menu = "time"
