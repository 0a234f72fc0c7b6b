"""Contacts: a sorted, searchable list; detail, add/edit forms, favorites and delete with confirmation."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from controllers.elements import Role
from controllers.sim.apps.base import App
from controllers.sim.style import person_name, phone_number
from controllers.sim.ui import Node, Page

CHOSEONG = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
HANDLES = ["minjun", "seoyeon", "jihoon", "haeun", "doyun", "sua", "yejun", "jiwoo", "siwoo", "chaewon", "hello",
           "sky", "blue", "moon"]
DOMAINS = ["example.com", "mail.kr", "handa.io", "post.de", "web.fr", "inbox.jp"]


@dataclass
class Contact:
    id: str
    name: str
    phone: str
    email: str = ""
    favorite: bool = False


def index_letter(name: str) -> str:
    """The list section a name falls in: its initial consonant for Hangul, else its base letter."""
    c = name[:1]
    if "가" <= c <= "힣":
        return CHOSEONG[(ord(c) - 0xAC00) // 588]
    c = unicodedata.normalize("NFD", c)[:1]
    return c.upper()[:1] if c.isalpha() else "#"


def sort_key(name: str) -> tuple:
    # grouped by section letter ("#" last) so each section appears once; NFKD puts Émile next to Emma
    letter = index_letter(name)
    return letter == "#", letter, unicodedata.normalize("NFKD", name).casefold()


def digits(text: str) -> str:
    return "".join(ch for ch in text or "" if ch.isdigit())


def search_bar(ui: Page, key: str, label: str, value: str, on_text, on_clear) -> Node:
    """A search field pinned under the header, with a clear button once something is typed."""
    y = ui.pin_top(56)
    bar = Node(f"{key}:bar", Role.toolbar, ui.x, y, ui.w, 56, kind="header")
    field = bar.add(Node(key, Role.text_field, ui.x + ui.pad, y + 6, ui.w - 2 * ui.pad, 44, name=label, hint=label,
                         value=value, on_text=on_text, editable=True, kind="field"))
    field.focused = ui.focus == key
    if value:
        bar.add(Node(f"{key}_clear", Role.button, ui.x + ui.w - ui.pad - 44, y + 8, 40, 40,
                     desc=ui.style.label("clear"), on_click=on_clear, kind="icon_close"))
    ui.fixed.append(bar)
    return field


class ContactsApp(App):
    key = "contacts"
    label_key = "contacts"
    package = "com.handa.contacts"
    icon = (30, 136, 229)

    def init_state(self) -> None:
        r = self.rng
        self.contacts: dict[str, Contact] = {}
        self.next_id = 1
        names: set[str] = set()
        count = r.randint(8, 25)
        while len(names) < count:
            names.add(person_name(r))
        for name in sorted(names):  # sorted so the ids do not depend on set order
            self.add(name, self._random_phone(), self._random_email(name) if r.random() < 0.75 else "",
                     favorite=r.random() < 0.15)
        self.query = ""
        self.current = ""  # contact shown on the detail page
        self.editing = ""  # contact on the edit form ("" on the add form)
        self.pending = ""  # contact the delete dialog asks about
        self.draft = {"name": "", "phone": "", "email": ""}
        self.form_error = ""
        self.add_in_header = r.random() < 0.4  # add button in the app bar vs a floating button

    def _random_phone(self) -> str:
        r = self.rng
        kind = r.random()
        if kind < 0.7:
            return phone_number(r)
        if kind < 0.85:
            return f"+82 10-{r.randint(1000, 9999)}-{r.randint(1000, 9999)}"
        return f"+1 (415) 555-{r.randint(1000, 9999)}"

    def _random_email(self, name: str) -> str:
        plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
        plain = ".".join("".join(ch for ch in part if ch.isalnum()) for part in plain.split())
        handle = plain.strip(".") or f"{self.rng.choice(HANDLES)}{self.rng.randint(1, 99)}"
        return f"{handle}@{self.rng.choice(DOMAINS)}"

    # ------------------------------------------------------------ state API (tasks use these too)
    def add(self, name: str, phone: str, email: str = "", favorite: bool = False) -> Contact:
        c = Contact(f"c{self.next_id}", name, phone, email, favorite)
        self.next_id += 1
        self.contacts[c.id] = c
        return c

    def sorted_contacts(self) -> list[Contact]:
        return sorted(self.contacts.values(), key=lambda c: (sort_key(c.name), c.id))

    def find(self, name: str) -> list[Contact]:
        return [c for c in self.contacts.values() if c.name == name]

    def visible(self) -> list[Contact]:
        q = self.query.strip().casefold()
        if not q:
            return self.sorted_contacts()
        return [c for c in self.sorted_contacts()
                if q in c.name.casefold() or (digits(q) and digits(q) in digits(c.phone))]

    # ------------------------------------------------------------ handlers
    def _set_query(self, text: str) -> None:
        self.query = text
        self.scroll["main"] = 0.0

    def _clear_query(self) -> None:
        self._set_query("")

    def _open(self, cid: str) -> None:
        self.current = cid
        self.scroll["detail"] = 0.0
        self.go("detail")

    def _start_add(self) -> None:
        self.editing = ""
        self.draft = {"name": "", "phone": "", "email": ""}
        self.form_error = ""
        self.scroll["add"] = 0.0
        self.go("add")
        self.focus = "contacts:name"

    def _start_edit(self, cid: str) -> None:
        c = self.contacts[cid]
        self.editing = cid
        self.draft = {"name": c.name, "phone": c.phone, "email": c.email}
        self.form_error = ""
        self.scroll["edit"] = 0.0
        self.go("edit")

    def _draft_setter(self, field: str):
        def set_value(text: str) -> None:
            self.draft[field] = text
            self.form_error = ""
        return set_value

    def _focus(self, key: str):
        def move() -> None:
            self.focus = key
        return move

    def _save(self) -> None:
        name = self.draft["name"].strip()
        if not name:
            self.form_error = "Name is required / 이름을 입력하세요"
            self.focus = "contacts:name"
            return
        phone, email = self.draft["phone"].strip(), self.draft["email"].strip()
        if self.page == "add":
            c = self.add(name, phone, email)
            self.current = c.id
            self.pages[-1] = "detail"  # like Android: saving a new contact shows its card
            self.scroll["detail"] = 0.0
            self.focus = ""
        else:
            c = self.contacts[self.editing]
            c.name, c.phone, c.email = name, phone, email
            self.back()

    def _toggle_favorite(self, cid: str) -> None:
        c = self.contacts[cid]
        c.favorite = not c.favorite
        self.menu = None

    def _ask_delete(self, cid: str) -> None:
        self.pending = cid
        self.menu = None
        self.dialog = "delete"

    def _confirm_delete(self) -> None:
        self.contacts.pop(self.pending, None)
        self.dialog = None
        if self.page != "main":
            self.reset_to("main")

    def _context(self, cid: str) -> None:
        self.pending = cid
        self.menu = "ctx"

    def _message(self, cid: str) -> None:
        """Hand over to the messages app with this person as the recipient."""
        messages = self.device.apps.get("messages")
        if messages is not None and hasattr(messages, "start_compose"):
            messages.start_compose(self.contacts[cid].name)
            self.device.launch("messages")

    # ------------------------------------------------------------ screens
    def build(self, ui: Page) -> None:
        page = self.page
        if page == "detail" and self.current in self.contacts:
            self._build_detail(ui, self.contacts[self.current])
        elif page in ("add", "edit"):
            self._build_form(ui)
        else:
            self._build_main(ui)
        if self.dialog == "delete" and self.pending in self.contacts:
            name = self.contacts[self.pending].name
            ui.dialog(f"contacts:delete_dialog:{self.pending}", f"{self.L('delete')}?", name, [
                ("contacts:delete_cancel", self.L("cancel"), self.close_overlay, 0),
                ("contacts:delete_ok", self.L("delete"), self._confirm_delete, 2),
            ])
        if self.menu == "ctx" and self.pending in self.contacts:
            c = self.contacts[self.pending]
            ui.menu(f"contacts:ctx_menu:{c.id}", [
                ("contacts:ctx:favorite", f"{'☆' if c.favorite else '★'} {self.L('favorite')}",
                 lambda: self._toggle_favorite(c.id)),
                ("contacts:ctx:edit", self.L("edit"), lambda: self._start_edit(c.id)),
                ("contacts:ctx:delete", self.L("delete"), lambda: self._ask_delete(c.id)),
            ], title=c.name)
        elif self.menu == "more":
            ui.menu("contacts:more_menu", [
                ("contacts:more:import", "Import / 가져오기", self.close_overlay),
                ("contacts:more:export", "Export / 내보내기", self.close_overlay),
                ("contacts:more:help", "Help", self.close_overlay),
            ])

    def _build_main(self, ui: Page) -> None:
        actions = [("contacts:more", "⋮", lambda: setattr(self, "menu", "more"))]
        if self.add_in_header:
            actions.insert(0, ("contacts:add", self.L("add"), self._start_add))
        ui.header(self.title, actions=actions)
        search_bar(ui, "contacts:search", self.L("search"), self.query, self._set_query, self._clear_query)
        self.distractor_banner(ui)
        shown = self.visible()
        favorites = [c for c in shown if c.favorite]
        if favorites and not self.query:
            ui.section(f"★ {self.L('favorite')}", key="contacts:section_fav")
            for c in favorites:
                ui.row_item(f"contacts:fav:{c.id}", c.name, lambda i=c.id: self._open(i), subtitle=c.phone,
                            on_long_press=lambda i=c.id: self._context(i))
        letter = None
        for c in shown:
            if index_letter(c.name) != letter:
                letter = index_letter(c.name)
                ui.section(letter, key=f"contacts:letter:{letter}")
            ui.row_item(f"contacts:item:{c.id}", c.name, lambda i=c.id: self._open(i), subtitle=c.phone,
                        trailing="★" if c.favorite else "", on_long_press=lambda i=c.id: self._context(i))
        if not shown:
            ui.text("No contacts found / 연락처 없음", key="contacts:empty")
        ui.text(f"{len(self.contacts)} contacts", key="contacts:count")
        if not self.add_in_header:
            ui.spacer(72)  # room to scroll the last row out from under the floating button
            ui.fab("contacts:add", self.L("add"), self._start_add)

    def _build_detail(self, ui: Page, c: Contact) -> None:
        ui.header(c.name, back=self.back, actions=[("contacts:edit", self.L("edit"),
                                                    lambda: self._start_edit(c.id))])
        ui.image(f"contacts:avatar:{c.id}", f"Photo of {c.name}", h=72)
        ui.text(c.name, key=f"contacts:card:{c.id}", size="big")
        ui.row_item("contacts:phone_row", self.L("phone"), subtitle=c.phone or "—")
        ui.row_item("contacts:email_row", self.L("email"), subtitle=c.email or "—")
        ui.switch("contacts:favorite", self.L("favorite"), c.favorite, lambda: self._toggle_favorite(c.id))
        ui.buttons([("contacts:message", self.L("messages"), lambda: self._message(c.id), 3),
                    ("contacts:delete", self.L("delete"), lambda: self._ask_delete(c.id), 2)])

    def _build_form(self, ui: Page) -> None:
        adding = self.page == "add"
        actions = [("contacts:save", self.L("save"), self._save)] if self.style.primary_on_top else []
        ui.header(self.L("add") if adding else self.L("edit"), back=self.back, actions=actions)
        ui.image(f"contacts:avatar:{'new' if adding else self.editing}", "Add photo" if adding else "Photo", h=72)
        ui.field("contacts:name", self.L("name"), self.draft["name"], self._draft_setter("name"),
                 on_submit=self._focus("contacts:phone"))
        ui.field("contacts:phone", self.L("phone"), self.draft["phone"], self._draft_setter("phone"),
                 hint="010-0000-0000", on_submit=self._focus("contacts:email"))
        ui.field("contacts:email", self.L("email"), self.draft["email"], self._draft_setter("email"),
                 hint="name@example.com", on_submit=self._save)
        if self.form_error:
            ui.text(self.form_error, key="contacts:error")
        if not self.style.primary_on_top:
            ui.buttons([("contacts:cancel", self.L("cancel"), self.back, 0),
                        ("contacts:save", self.L("save"), self._save, 1)])
