"""Notes: a note list (pinned first), search, an editor with pin, delete and an unsaved-changes guard."""
from __future__ import annotations

from typing import Optional

from controllers.sim.apps.base import App
from controllers.sim.ui import Page

# (title, body) pools; bodies are multi-line on purpose (the editor's body field is multiline).
NOTE_POOL = [
    ("장보기 목록", "우유\n계란\n빵\n사과"),
    ("Meeting notes", "Q3 budget review\nAction items: send the slides"),
    ("회의록", "다음 주 월요일 10시\n참석: 민준, 서연"),
    ("Kimchi jjigae recipe", "kimchi, pork, tofu\n20분 끓이기"),
    ("Books to read", "Dune\n채식주의자\nLe Petit Prince"),
    ("Gift ideas", "Mom: scarf\nDad: headphones"),
    ("Travel plan", "Tokyo 3 days\nOsaka 2 days"),
    ("Workout", "Push-ups 3×15\nSquats 3×20"),
    ("Ideas", "An app for plants\nBlog post about résumés"),
    ("일기", "오늘은 날씨가 좋았다.\n산책을 했다."),
    ("Packing list", "Passport\nCharger\nSocks"),
    ("Café list", "Café de Flore\nBlue Bottle"),
    ("Movie night", "Parasite\nAmélie"),
    ("Birthdays", "Zoë: May 3\nBjörn: Oct 12"),
    ("Project plan", "Design, build, test\nShip by Friday"),
    ("Quotes", "« Carpe diem »\nStay hungry"),
    ("여행 준비", "여권\n충전기\n환전"),
    ("Garden", "Water the tomatoes\nBuy basil seeds"),
    ("To do", "Call the bank\nRenew the library card"),
    ("Podcast notes", "Episode 12: naïve Bayes\nEpisode 13: taxes"),
    ("점심 메뉴", "김밥\n라면\n비빔밥"),
    ("Wish list", "Headphones\nDesk lamp"),
]

# Notes holding one fact each; the answer-type task asks for the value.
FACTS = [
    ("wifi", "Wi-Fi password", "Wi-Fi password"),
    ("locker", "Locker code", "Locker code"),
    ("parking", "Parking spot", "Parking spot"),
    ("door", "현관 비밀번호", "Door code"),
    ("flight", "Flight", "Flight number"),
]


def fact_value(kind: str, rng) -> str:
    if kind == "wifi":
        return f"{rng.choice(['sunflower', 'blue-moon', 'hanbit', 'Kiwi', 'café'])}{rng.randint(100, 9999)}"
    if kind == "locker":
        return str(rng.randint(1000, 9999))
    if kind == "parking":
        return f"B{rng.randint(1, 4)}-{rng.randint(10, 99)}"
    if kind == "door":
        return f"#{rng.randint(1000, 9999)}*"
    return f"{rng.choice(['KE', 'OZ', 'LH', 'AF', 'JL'])} {rng.randint(100, 999)}"


class Note:
    __slots__ = ("id", "title", "body", "pinned", "updated")

    def __init__(self, nid: int, title: str, body: str, pinned: bool, updated: int):
        self.id, self.title, self.body, self.pinned, self.updated = nid, title, body, pinned, updated

    def matches(self, query: str) -> bool:
        q = query.strip().casefold()
        return not q or q in self.title.casefold() or q in self.body.casefold()


class NotesApp(App):
    key = "notes"
    label_key = "notes"
    package = "com.handa.notes"
    icon = (251, 192, 45)

    def init_state(self) -> None:
        r = self.rng
        chosen = r.sample(NOTE_POOL, r.randint(7, 11))
        self.facts: dict[str, str] = {}
        for kind, title, label in r.sample(FACTS, r.randint(2, 3)):
            value = fact_value(kind, r)
            self.facts[kind] = value
            extra = r.choice(["Do not share", "공유 금지", "Updated last week", ""])
            chosen.append((title, f"{label}: {value}\n{extra}".strip()))
        r.shuffle(chosen)
        ids = r.sample(range(10, 99), len(chosen))  # ids are not list positions
        self.notes: list[Note] = [Note(ids[i], t, b, r.random() < 0.15, r.randint(0, 5000))
                                  for i, (t, b) in enumerate(chosen)]
        self.next_id = 100 + r.randint(0, 50)
        self.tick = 6000
        self.searching = False
        self.query = ""
        self.draft_title = self.draft_body = ""
        self.draft_pinned = False
        self.pending_delete: Optional[int] = None
        self.date_style = r.choice(["en", "ko", "iso"])

    # ------------------------------------------------------------ queries (also used by tasks)
    def note(self, nid: Optional[int]) -> Optional[Note]:
        return next((n for n in self.notes if n.id == nid), None)

    def by_title(self, title: str) -> list[Note]:
        return [n for n in self.notes if n.title.strip() == title.strip()]

    def shown(self) -> list[Note]:
        notes = [n for n in self.notes if not self.searching or n.matches(self.query)]
        return sorted(notes, key=lambda n: (not n.pinned, -n.updated, n.id))

    def _date(self, t: int) -> str:
        day = t // 1440  # minutes -> a day of a made-up spring
        month, dom = 3 + day // 28, 1 + day % 28
        if self.date_style == "ko":
            return f"{month}월 {dom}일"
        if self.date_style == "iso":
            return f"2026-{month:02d}-{dom:02d}"
        return f"{['Mar', 'Apr', 'May', 'Jun', 'Jul'][min(4, month - 3)]} {dom}"

    @property
    def editing(self) -> Optional[Note]:
        """The note open in the editor (page ``note/<id>``), None on the list or a new note."""
        if self.page.startswith("note/"):
            return self.note(int(self.page.split("/", 1)[1]))
        return None

    def _dirty(self) -> bool:
        if self.page == "new":
            return bool(self.draft_title.strip() or self.draft_body.strip())
        n = self.editing
        return n is not None and (self.draft_title != n.title or self.draft_body != n.body)

    # ------------------------------------------------------------ actions
    def _open(self, nid: int) -> None:
        n = self.note(nid)
        if n is None:
            return
        self.draft_title, self.draft_body = n.title, n.body
        self.go(f"note/{nid}")

    def _new(self) -> None:
        self._close_search()  # the new note must show up on the list afterwards
        self.draft_title = self.draft_body = ""
        self.draft_pinned = False
        self.go("new")
        self.focus = "notes:title_field"

    def _save(self) -> None:
        """Save and stay in the editor (a new note becomes an existing one)."""
        self.tick += 1
        self.draft_title, self.draft_body = self.draft_title.strip(), self.draft_body.rstrip()
        if self.page == "new":
            if self.draft_title or self.draft_body:
                self.notes.append(Note(self.next_id, self.draft_title, self.draft_body, self.draft_pinned, self.tick))
                self.pages[-1] = f"note/{self.next_id}"
                self.next_id += 1
                self.scroll["main"] = 0.0  # back on the list, the new note is at the top
        elif self.editing is not None:
            n = self.editing
            n.title, n.body, n.updated = self.draft_title, self.draft_body, self.tick
        self.focus = ""

    def _toggle_pin(self) -> None:
        n = self.editing
        if n is not None:
            n.pinned = not n.pinned  # pinning applies at once, like Keep
        else:
            self.draft_pinned = not self.draft_pinned

    def _menu_pin(self, nid: int) -> None:
        n = self.note(nid)
        if n is not None:
            n.pinned = not n.pinned
        self.menu = None

    def _ask_delete(self, nid: int) -> None:
        self.pending_delete = nid
        self.menu = None
        self.dialog = "delete"

    def _delete(self) -> None:
        self.notes = [n for n in self.notes if n.id != self.pending_delete]
        self.pending_delete = None
        self.reset_to("main")

    def _discard(self) -> None:
        self.dialog = None
        self.reset_to("main")

    def _open_search(self) -> None:
        self.searching = True
        self.scroll["main"] = 0.0  # the search field sits at the top of the list
        self.focus = "notes:search_field"

    def _close_search(self) -> None:
        self.searching = False
        self.query = ""
        self.focus = ""

    def back(self) -> bool:
        if self.menu or self.dialog:
            return super().back()
        if self.page != "main" and self._dirty():
            self.dialog = "discard"  # unsaved edits: ask before throwing them away
            return True
        if self.page == "main" and self.searching:
            self._close_search()
            return True
        return super().back()

    # ------------------------------------------------------------ screens
    def build(self, ui: Page) -> None:
        if self.page == "main":
            self._build_list(ui)
        else:
            self._build_editor(ui)

    def _build_list(self, ui: Page) -> None:
        if self.searching:
            actions = [("notes:search_close", "✖", self._close_search)]
        else:
            actions = [("notes:search", self.L("search"), self._open_search)]
        ui.header(self.title, actions=actions)
        self.distractor_banner(ui)
        if self.searching:
            ui.field("notes:search_field", self.L("search"), self.query, self.setter("query"),
                     hint=self.L("search") + "…")
        notes = self.shown()
        if not notes:
            ui.text(self.L("notes_empty"), key="notes:empty")
        pinned = [n for n in notes if n.pinned]
        if pinned:
            ui.section(self.L("notes_pinned"), key="notes:section:pinned")
        for i, n in enumerate(notes):
            if pinned and i == len(pinned):
                ui.section(self.L("notes_others"), key="notes:section:others")
            preview = n.body.split("\n", 1)[0][:40]
            ui.row_item(f"notes:item:{n.id}", n.title or "…", lambda i=n.id: self._open(i), subtitle=preview,
                        trailing=("★ " if n.pinned else "") + self._date(n.updated),
                        on_long_press=lambda i=n.id: self._open_menu(i))
        ui.spacer(72)  # room so the FAB never hides the last note
        ui.fab("notes:add", self.L("notes_new"), self._new)
        if self.menu and self.menu.startswith("item/"):
            nid = int(self.menu.split("/")[1])
            n = self.note(nid)
            if n is not None:
                ui.menu("notes:menu", [
                    ("notes:menu:pin", self.L("notes_unpin") if n.pinned else self.L("notes_pin"),
                     lambda: self._menu_pin(nid)),
                    ("notes:menu:delete", self.L("delete"), lambda: self._ask_delete(nid)),
                ], title=n.title)
        self._delete_dialog(ui)

    def _open_menu(self, nid: int) -> None:
        self.menu = f"item/{nid}"

    def _build_editor(self, ui: Page) -> None:
        n = self.editing
        pinned = n.pinned if n is not None else self.draft_pinned
        actions = [("notes:pin", "★" if pinned else "☆", self._toggle_pin)]
        if n is not None:
            actions.append(("notes:delete", self.L("delete"), lambda: self._ask_delete(n.id)))
        if self.style.primary_on_top:
            actions.append(("notes:save", self.L("save"), self._save))
        ui.header(self.L("notes_new") if n is None else self.L("edit"), back=self.back, actions=actions)
        for node in ui.root.walk():  # the star is an icon: say what it does and expose its state
            if node.key == "notes:pin":
                node.desc = self.L("notes_unpin") if pinned else self.L("notes_pin")
                node.selected = pinned
            elif node.key == "notes:save":
                node.enabled = self._dirty()  # nothing to save until something changed
        ui.field("notes:title_field", self.L("title"), self.draft_title, self.setter("draft_title"),
                 hint=self.L("title"))
        ui.field("notes:body_field", self.L("body"), self.draft_body, self.setter("draft_body"),
                 hint=self.L("body"), multiline=True)
        if n is not None:
            ui.text(f"{self._date(n.updated)} · {len(n.body)} chars", key="notes:meta")
        if not self.style.primary_on_top:
            ui.button("notes:save", self.L("save"), self._save, enabled=self._dirty())
        if self.dialog == "discard":
            ui.dialog("notes:discard", self.L("notes_discard"), self.L("notes_unsaved"), [
                ("notes:discard_keep", self.L("cancel"), self.close_overlay, 0),
                ("notes:discard_ok", self.L("notes_discard"), self._discard, 2),
            ])
        self._delete_dialog(ui)

    def _delete_dialog(self, ui: Page) -> None:
        if self.dialog == "delete":
            n = self.note(self.pending_delete)
            ui.dialog("notes:confirm", self.L("delete") + "?", n.title if n else "", [
                ("notes:confirm_cancel", self.L("cancel"), self.close_overlay, 0),
                ("notes:confirm_delete", self.L("delete"), self._delete, 2),
            ])
