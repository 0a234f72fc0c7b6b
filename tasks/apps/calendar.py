"""Calendar tasks: open a day, add, delete, rename and reschedule events, and read the agenda.

Experts navigate by the month grid (``calendar:month`` holds ``YYYY-MM``, day
cells are ``calendar:day:<iso>``); day pages list ``calendar:event:<id>`` rows
whose value is the time; the event form's date field holds an ISO date and is
set through the picker page.
"""
from __future__ import annotations

from abc import abstractmethod
from datetime import date, timedelta
from typing import Any, Optional

from controllers.sim.apps.calendar import MAX_PER_DAY, MONTHS_EN, TIMES
from tasks.base import TaskTemplate, answer_digits, register

NEW_TITLES = ["Dentist", "치과", "Team dinner", "Yoga class", "Zoë's recital", "Sprint planning", "미용실",
              "Parents' visit", "Café with Amélie", "Vet appointment", "독서 모임", "Tax deadline"]


def when(day: str) -> dict[str, str]:
    """Goal wordings of an ISO date: English and Korean."""
    d = date.fromisoformat(day)
    return {"when": f"{MONTHS_EN[d.month - 1]} {d.day}", "when_ko": f"{d.month}월 {d.day}일"}


def _event_params(rng, device, *, unique_title: bool = True) -> dict[str, Any]:
    """An existing event whose title is unique on its day (so the goal is unambiguous)."""
    app = device.app("calendar")
    events = [e for e in app.events
              if not unique_title or sum(1 for o in app.on_day(e["date"]) if o["title"] == e["title"]) == 1]
    e = rng.choice(events)
    return {"id": e["id"], "title": e["title"], "date": e["date"], "time": e["time"], **when(e["date"])}


def close_stray_overlay(kit, time: str = "", event: str = "") -> Optional[Any]:
    """Close dialogs and menus the expert does not want: all but the time menu when picking ``time``
    and the delete dialog on the page of ``event``."""
    if kit.has("calendar:need_title_ok"):
        return kit.click("calendar:need_title_ok")
    if kit.has("calendar:time_menu") and not time:
        return kit.back()
    if kit.has("calendar:delete_cancel") and kit.page("calendar") != f"event/{event}":
        return kit.click("calendar:delete_cancel")
    return None


def goto_day(kit, day: str):
    """Open the day page of ``day``; None once there."""
    page = kit.page("calendar")
    if page == f"day/{day}":
        return None
    if page is not None and page.startswith("day/"):
        delta = (date.fromisoformat(day) - date.fromisoformat(page[4:])).days
        if abs(delta) <= 2:  # a neighbour: step with the ‹ › buttons
            return kit.tap("calendar:next_day" if delta > 0 else "calendar:prev_day")
    if page != "main":
        return kit.goto("calendar")
    month, move = kit.seek("calendar:month")
    if month is None:
        return move
    if month.value != day[:7]:
        return kit.click("calendar:next" if month.value < day[:7] else "calendar:prev")
    return kit.tap(f"calendar:day:{day}")


def fill_form(kit, *, title: str = "", day: str = "", time: str = ""):
    """Drive the event form (and its picker and time menu) to the given values, then save."""
    if time and kit.has("calendar:time_menu"):
        return kit.tap(f"calendar:time:{time}")
    if kit.page("calendar") == "picker":
        if not day:  # some other form's picker
            return kit.go_back("calendar")
        month = kit.el("calendar:pick:month")
        if month.value != day[:7]:
            return kit.click("calendar:pick:next" if month.value < day[:7] else "calendar:pick:prev")
        return kit.tap(f"calendar:pick:day:{day}")
    for key, want, typed in (("calendar:title_field", title, True), ("calendar:date_field", day, False),
                             ("calendar:time_field", time, False)):
        if not want:
            continue
        e, move = kit.seek(key)
        if e is None:
            return move
        if e.value != want:
            return kit.type(e, want) if typed else kit.click(e)
    return kit.tap("calendar:save")


def in_form(kit) -> bool:
    page = kit.page("calendar") or ""
    return page in ("new", "picker") or page.startswith("edit/")


def rows(kit) -> list:
    return [e for e in kit.els("calendar:event:") if kit.key_of(e).count(":") == 2]


@register
class ShowDay(TaskTemplate):
    id = "calendar.show_day"
    app = "calendar"
    steps_hint = 4
    goals = ["Show my schedule for {when}", "Open the calendar on {when}", "{when_ko} 일정 보여줘",
             "What's on {when}? Open that day"]

    def sample(self, rng, device):
        day = (device.app("calendar").today + timedelta(days=rng.randint(-10, 45))).isoformat()
        return {"date": day, **when(day)}

    def is_successful(self, device, params, answer=None):
        return device.foreground == "calendar" and device.app("calendar").page == f"day/{params['date']}"

    def act(self, kit, params):
        return close_stray_overlay(kit) or goto_day(kit, params["date"]) or kit.done()


@register
class AddEvent(TaskTemplate):
    id = "calendar.add_event"
    app = "calendar"
    steps_hint = 9
    goals = ["Add an event '{title}' on {when} at {time}", "Schedule \"{title}\" for {when}, {time}",
             "{when_ko} {time}에 '{title}' 일정 추가해줘", "Put {title} in my calendar on {when} at {time}"]

    def sample(self, rng, device):
        app = device.app("calendar")
        days = [app.today + timedelta(days=i) for i in range(0, 50)]
        day = rng.choice([d.isoformat() for d in days if len(app.on_day(d.isoformat())) < MAX_PER_DAY])
        return {"title": rng.choice(NEW_TITLES), "date": day, "time": rng.choice(TIMES), **when(day)}

    def is_successful(self, device, params, answer=None):
        return any(e["title"] == params["title"] and e["date"] == params["date"] and e["time"] == params["time"]
                   for e in device.app("calendar").events)

    def act(self, kit, params):
        stray = close_stray_overlay(kit, time=params["time"])
        if stray:
            return stray
        page = kit.page("calendar")
        if page == "new" or page == "picker" or kit.has("calendar:time_menu"):
            return fill_form(kit, title=params["title"], day=params["date"], time=params["time"])
        if page == f"day/{params['date']}":
            if any(e.name == params["title"] and e.value == params["time"] for e in rows(kit)):
                return kit.done()
            return kit.click("calendar:add")
        if page == "main" and kit.seed % 2:  # start from the month's "+" and pick the date in the form
            return kit.click("calendar:add")
        return goto_day(kit, params["date"])


@register
class DeleteEvent(TaskTemplate):
    id = "calendar.delete_event"
    app = "calendar"
    steps_hint = 7
    goals = ["Delete the event '{title}' on {when}", "Remove \"{title}\" from my calendar ({when})",
             "{when_ko} '{title}' 일정 삭제해줘", "Cancel {title} on {when}"]

    def sample(self, rng, device):
        return {**_event_params(rng, device), "count": len(device.app("calendar").events)}

    def is_successful(self, device, params, answer=None):
        events = device.app("calendar").events
        return all(e["id"] != params["id"] for e in events) and len(events) == params["count"] - 1

    def act(self, kit, params):
        stray = close_stray_overlay(kit, event=params["id"])
        if stray:
            return stray
        page = kit.page("calendar")
        if page == f"event/{params['id']}":
            return kit.click("calendar:delete_ok") if kit.has("calendar:delete_ok") else kit.tap("calendar:delete")
        if page == f"day/{params['date']}":
            row = kit.el(f"calendar:event:{params['id']}")
            return kit.click(row) if row is not None else kit.done()
        return goto_day(kit, params["date"])


@register
class ReadTime(TaskTemplate):
    id = "calendar.read_time"
    app = "calendar"
    steps_hint = 4
    goals = ["What time is '{title}' on {when}?", "When does \"{title}\" start on {when}?",
             "{when_ko} '{title}' 몇 시야?", "Check the start time of {title} ({when})"]

    def sample(self, rng, device):
        return _event_params(rng, device)

    def is_successful(self, device, params, answer=None):
        e = next((e for e in device.app("calendar").events if e["id"] == params["id"]), None)
        return answer is not None and e is not None and e["time"] in answer

    def act(self, kit, params):
        stray = close_stray_overlay(kit)
        if stray:
            return stray
        if kit.page("calendar") == f"event/{params['id']}":
            return kit.answer(kit.value("calendar:event_time"))
        move = goto_day(kit, params["date"])
        if move:
            return move
        row = kit.el(f"calendar:event:{params['id']}")
        return kit.answer(row.value) if row is not None else kit.done()


@register
class CountEvents(TaskTemplate):
    id = "calendar.count_events"
    app = "calendar"
    steps_hint = 4
    goals = ["How many events do I have on {when}?", "Count my appointments on {when}", "{when_ko}에 일정이 몇 개야?",
             "How busy am I on {when}? Give the number of events"]

    def sample(self, rng, device):
        app = device.app("calendar")
        days = sorted({e["date"] for e in app.events})
        day = rng.choice(days) if rng.random() < 0.85 else (app.today + timedelta(days=rng.randint(1, 30))).isoformat()
        return {"date": day, **when(day)}

    def is_successful(self, device, params, answer=None):
        want = len(device.app("calendar").on_day(params["date"]))
        return answer_digits(answer) == want

    def act(self, kit, params):
        return close_stray_overlay(kit) or goto_day(kit, params["date"]) or kit.answer(str(len(rows(kit))))


class _EditEvent(TaskTemplate):
    """Change an existing event through its page's Edit form; the event page shows the result."""

    app = "calendar"

    @abstractmethod
    def want(self, params) -> dict[str, str]:
        """The event fields this template changes, and their new values."""

    def is_successful(self, device, params, answer=None):
        e = next((e for e in device.app("calendar").events if e["id"] == params["id"]), None)
        return e is not None and all(e[k] == v for k, v in self.want(params).items())

    def act(self, kit, params):
        eid, want = params["id"], self.want(params)
        stray = close_stray_overlay(kit, time=want.get("time", ""))
        if stray:
            return stray
        page = kit.page("calendar") or ""
        if page == f"edit/{eid}" or page == "picker" or kit.has("calendar:time_menu"):
            return fill_form(kit, title=want.get("title", ""), day=want.get("date", ""), time=want.get("time", ""))
        if page == f"event/{eid}":
            shown = {"title": kit.value("calendar:event_title"), "date": kit.value("calendar:event_date"),
                     "time": kit.value("calendar:event_time")}
            if all(shown[k] == v for k, v in want.items()):
                return kit.done()
            return kit.tap("calendar:edit")
        # the event is on its old day, or on the new one if it already moved
        days = [params["date"], want.get("date", params["date"])]
        look = days[1] if kit.memory.get("look_new") else days[0]
        if page == f"day/{look}":
            row = kit.el(f"calendar:event:{eid}")
            if row is not None:
                return kit.click(row)
            kit.memory["look_new"] = not kit.memory.get("look_new")
            look = days[1] if kit.memory["look_new"] else days[0]
        return goto_day(kit, look)


@register
class RenameEvent(_EditEvent):
    id = "calendar.rename_event"
    steps_hint = 8
    goals = ["Rename '{title}' on {when} to '{new_title}'", "Change the title of \"{title}\" ({when}) to \"{new_title}\"",
             "{when_ko} '{title}' 일정 이름을 '{new_title}'(으)로 바꿔줘", "{title} on {when} should be called {new_title}"]

    def sample(self, rng, device):
        p = _event_params(rng, device)
        return {**p, "new_title": rng.choice([t for t in NEW_TITLES if t != p["title"]])}

    def want(self, params):
        return {"title": params["new_title"]}


@register
class Reschedule(_EditEvent):
    id = "calendar.reschedule"
    steps_hint = 11
    goals = ["Move '{title}' from {when} to {new_when} at {new_time}",
             "Reschedule \"{title}\" ({when}) to {new_when}, {new_time}",
             "{when_ko} '{title}' 일정을 {new_when_ko} {new_time}(으)로 옮겨줘",
             "Push {title} on {when} to {new_when} at {new_time}"]

    def sample(self, rng, device):
        app = device.app("calendar")
        p = _event_params(rng, device)
        old = date.fromisoformat(p["date"])
        days = [(old + timedelta(days=i)).isoformat() for i in range(-20, 21) if i]
        new = rng.choice([d for d in days if len(app.on_day(d)) < MAX_PER_DAY])
        new_when = when(new)
        return {**p, "new_date": new, "new_time": rng.choice([t for t in TIMES if t != p["time"]]),
                "new_when": new_when["when"], "new_when_ko": new_when["when_ko"]}

    def want(self, params):
        return {"date": params["new_date"], "time": params["new_time"]}
