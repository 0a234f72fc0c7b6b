"""Messages: conversation list with search and an unread tab, chat threads, compose, delete with confirmation."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from controllers.elements import Role
from controllers.sim.apps.base import App
from controllers.sim.apps.contacts import search_bar
from controllers.sim.style import PHRASES, person_name
from controllers.sim.ui import Node, Page


def renderable(text: str) -> bool:
    """The sim's font has Latin, Hangul and CJK but no emoji; keep chat texts readable on screenshots."""
    return all(ord(ch) < 0x2000 or 0x3000 <= ord(ch) < 0xE000 for ch in text)


REPLIES = [p for p in PHRASES if renderable(p)] + [
    "Okay!", "네 알겠습니다", "Where are you?", "I'm home", "고마워요", "Let's meet at 6", "Did you see this?",
    "Call you later", "Bis morgen!", "Miss you", "ㅋㅋㅋ", "좋아요", "Sure, why not", "No worries", "Just landed",
    "주말에 뭐해?", "Bon appétit", "¿Dónde estás?"]
BUBBLE_H, BUBBLE_GAP, DAY_H = 40, 8, 28


@dataclass
class Message:
    text: str
    out: bool  # sent by the device owner
    time: str


@dataclass
class Thread:
    id: str
    name: str
    messages: list[Message] = field(default_factory=list)
    unread: int = 0
    time: str = ""

    def last(self) -> Message | None:
        return self.messages[-1] if self.messages else None

    def last_incoming(self) -> Message | None:
        return next((m for m in reversed(self.messages) if not m.out), None)


def text_width(text: str, scale: float) -> float:
    """Rough rendered width in dp: wide (CJK, emoji) characters take about twice a Latin one."""
    return sum(15 if unicodedata.east_asian_width(ch) in "WF" or ord(ch) > 0x2000 else 8.5 for ch in text) * scale


class MessagesApp(App):
    key = "messages"
    label_key = "messages"
    package = "com.handa.messages"
    icon = (67, 160, 71)

    def init_state(self) -> None:
        r = self.rng
        self.threads: list[Thread] = []  # most recent first
        self.next_id = 1
        names: list[str] = []
        count = r.randint(6, 12)
        while len(names) < count:
            name = person_name(r)
            if name not in names:
                names.append(name)
        times = self._recent_times(count)
        for name, when in zip(names, times):
            t = self._new_thread(name, when)
            incoming = r.random() < 0.5
            for _ in range(r.randint(2, 8)):
                t.messages.append(Message(r.choice(REPLIES), not incoming, when))
                incoming = not incoming if r.random() < 0.7 else incoming
            self.threads.append(t)
        for t in r.sample(self.threads[:6], r.randint(0, 3)):
            if t.messages[-1].out:
                t.messages.append(Message(r.choice(REPLIES), False, t.time))
            t.unread = sum(1 for _ in self._trailing_incoming(t))
        self.current = ""  # open thread id
        self.pending = ""  # thread the delete dialog / context menu is about
        self.query = ""
        self.tab = "all"
        self.drafts: dict[str, str] = {}
        self.to_draft = ""
        self.compose_draft = ""
        self.compose_error = ""

    def _recent_times(self, n: int) -> list[str]:
        r = self.rng
        minutes = sorted((r.randint(0, 9 * 60) for _ in range(min(n, 4))), reverse=True)
        out = [f"{8 + m // 60:02d}:{m % 60:02d}" for m in minutes]
        older = ["Yesterday", "어제", "Mon", "Sun", "Sat", "3/14", "2/28", "1/09", "12/24", "11/30", "10/02"]
        return (out + older)[:n]

    @staticmethod
    def _trailing_incoming(t: Thread):
        for m in reversed(t.messages):
            if m.out:
                return
            yield m

    def _new_thread(self, name: str, when: str) -> Thread:
        t = Thread(f"t{self.next_id}", name, time=when)
        self.next_id += 1
        return t

    # ------------------------------------------------------------ state API (tasks use these too)
    def thread(self, tid: str) -> Thread | None:
        return next((t for t in self.threads if t.id == tid), None)

    def by_name(self, name: str) -> Thread | None:
        wanted = name.strip().casefold()
        return next((t for t in self.threads if t.name.casefold() == wanted), None)

    def unread_threads(self) -> list[Thread]:
        return [t for t in self.threads if t.unread]

    def visible(self) -> list[Thread]:
        shown = self.unread_threads() if self.tab == "unread" else list(self.threads)
        q = self.query.strip().casefold()
        if q:
            shown = [t for t in shown if q in t.name.casefold() or any(q in m.text.casefold() for m in t.messages)]
        return shown

    def now(self) -> str:
        c = self.device.clock
        return f"{c // 60 % 24:02d}:{c % 60:02d}"

    def send(self, t: Thread, text: str) -> bool:
        """Append an outgoing message; empty text is not sent."""
        if not text.strip():
            return False
        t.messages.append(Message(text.strip(), True, self.now()))
        t.time = self.now()
        t.unread = 0
        self.threads.remove(t)
        self.threads.insert(0, t)
        return True

    def start_compose(self, name: str) -> None:
        """Open a chat with ``name`` (used by the contacts app): the thread if one exists, else a new message."""
        self.reset_to("main")
        t = self.by_name(name)
        if t is not None:
            self._open(t.id)
        else:
            self._start_compose()
            self.to_draft = name
            self.focus = "messages:compose_text"

    # ------------------------------------------------------------ handlers
    def _set_query(self, text: str) -> None:
        self.query = text
        self.scroll["main"] = 0.0

    def _set_tab(self, tab: str) -> None:
        self.tab = tab
        self.scroll["main"] = 0.0

    def _open(self, tid: str) -> None:
        t = self.thread(tid)
        if t is None:
            return
        t.unread = 0
        self.current = tid
        self.scroll["thread"] = 1e9  # chats open at the newest message; build clamps it
        self.go("thread")

    def _set_draft(self, text: str) -> None:
        self.drafts[self.current] = text

    def _send_current(self) -> None:
        t = self.thread(self.current)
        if t is not None and self.send(t, self.drafts.get(self.current, "")):
            self.drafts[self.current] = ""
            self.scroll["thread"] = 1e9

    def _start_compose(self) -> None:
        self.to_draft = ""
        self.compose_draft = ""
        self.compose_error = ""
        self.go("compose")
        self.focus = "messages:to"

    def _set_to(self, text: str) -> None:
        self.to_draft = text
        self.compose_error = ""

    def _set_compose(self, text: str) -> None:
        self.compose_draft = text
        self.compose_error = ""

    def _pick(self, name: str) -> None:
        self.to_draft = name
        self.focus = "messages:compose_text"

    def _send_compose(self) -> None:
        name = self.to_draft.strip()
        if not name:
            self.compose_error = "Add a recipient / 받는 사람을 입력하세요"
            return
        if not self.compose_draft.strip():
            self.compose_error = "Type a message / 메시지를 입력하세요"
            return
        t = self.by_name(name)
        if t is None:
            t = self._new_thread(name, self.now())
            self.threads.insert(0, t)
        self.send(t, self.compose_draft)
        self.current = t.id
        self.pages[-1] = "thread"  # the new message lands in its conversation
        self.scroll["thread"] = 1e9
        self.focus = ""

    def _context(self, tid: str) -> None:
        self.pending = tid
        self.menu = "ctx"

    def _ask_delete(self, tid: str) -> None:
        self.pending = tid
        self.menu = None
        self.dialog = "delete"

    def _confirm_delete(self) -> None:
        t = self.thread(self.pending)
        if t is not None:
            self.threads.remove(t)
        self.dialog = None
        if self.page != "main":
            self.reset_to("main")

    def _toggle_read(self, tid: str) -> None:
        t = self.thread(tid)
        if t is not None:
            t.unread = 0 if t.unread else 1
        self.menu = None

    def _read_all(self) -> None:
        for t in self.threads:
            t.unread = 0
        self.menu = None

    def _suggestions(self) -> list[str]:
        q = self.to_draft.strip().casefold()
        if not q:
            return []
        names = [t.name for t in self.threads]
        contacts = self.device.apps.get("contacts")
        if contacts is not None and hasattr(contacts, "contacts"):
            names += [c.name for c in contacts.contacts.values() if c.name not in names]
        return [n for n in names if q in n.casefold() and n.casefold() != q][:4]

    # ------------------------------------------------------------ screens
    def build(self, ui: Page) -> None:
        t = self.thread(self.current)
        if self.page == "thread" and t is not None:
            self._build_thread(ui, t)
        elif self.page == "compose":
            self._build_compose(ui)
        else:
            self._build_main(ui)
        pending = self.thread(self.pending)
        if self.dialog == "delete" and pending is not None:
            ui.dialog(f"messages:delete_dialog:{pending.id}", f"{self.L('delete')}?", pending.name, [
                ("messages:delete_cancel", self.L("cancel"), self.close_overlay, 0),
                ("messages:delete_ok", self.L("delete"), self._confirm_delete, 2),
            ])
        if self.menu == "ctx" and pending is not None:
            ui.menu(f"messages:ctx_menu:{pending.id}", [
                ("messages:ctx:read", "Mark as read / 읽음" if pending.unread else "Mark as unread / 안 읽음",
                 lambda: self._toggle_read(pending.id)),
                ("messages:ctx:delete", self.L("delete"), lambda: self._ask_delete(pending.id)),
            ], title=pending.name)
        elif self.menu == "main_more":
            ui.menu("messages:main_menu", [
                ("messages:menu:read_all", self.L("mark_all_read"), self._read_all),
                ("messages:menu:archived", "Archived / 보관함", self.close_overlay),
                ("messages:menu:help", "Help", self.close_overlay),
            ])
        elif self.menu == "thread_more" and t is not None:
            ui.menu("messages:thread_menu", [
                ("messages:menu:unread", "Mark as unread / 안 읽음", lambda: self._toggle_read(t.id)),
                ("messages:menu:delete", self.L("delete"), lambda: self._ask_delete(t.id)),
            ])

    def _open_menu(self, which: str):
        def open_menu() -> None:
            self.menu = which
        return open_menu

    def _build_main(self, ui: Page) -> None:
        ui.header(self.title, actions=[("messages:more", "⋮", self._open_menu("main_more"))])
        search_bar(ui, "messages:search", self.L("search"), self.query, self._set_query, lambda: self._set_query(""))
        y = ui.pin_top(44)
        bar = Node("messages:tabs", Role.container, ui.x, y, ui.w, 44, kind="tabbar")
        unread = len(self.unread_threads())
        for i, (value, label) in enumerate((("all", "All / 전체"), ("unread", f"Unread / 안 읽음 ({unread})"))):
            tab = bar.add(Node(f"messages:tab:{value}", Role.tab, ui.x + i * ui.w / 2, y, ui.w / 2, 44, name=label,
                               selected=self.tab == value, on_click=lambda v=value: self._set_tab(v), kind="tab"))
            if value == "unread":
                tab.value = str(unread)
        ui.fixed.append(bar)
        self.distractor_banner(ui)
        shown = self.visible()
        for t in shown:
            last = t.last()
            preview = "" if last is None else (f"{self.L('you')}: {last.text}" if last.out else last.text)
            ui.row_item(f"messages:thread:{t.id}", t.name, lambda i=t.id: self._open(i), subtitle=preview,
                        trailing=f"● {t.time}" if t.unread else t.time, selected=bool(t.unread),
                        on_long_press=lambda i=t.id: self._context(i))
        if not shown:
            ui.text("No conversations / 대화 없음", key="messages:empty")
        ui.spacer(72)
        ui.fab("messages:compose", self.L("new_message"), self._start_compose)

    def _build_thread(self, ui: Page, t: Thread) -> None:
        ui.header(t.name, back=self.back, actions=[("messages:more", "⋮", self._open_menu("thread_more"))])
        top = ui.pin_bottom(60)
        # a chat opens scrolled to its newest message: clamp the scroll before laying out
        content = 8 + DAY_H + len(t.messages) * (BUBBLE_H + BUBBLE_GAP)
        ui.scroll = min(ui.scroll, max(0.0, content - ui.body.h))
        ui.spacer(8)
        ui.text("Today / 오늘", key="messages:day", height=DAY_H)
        scale = ui.theme.font_scale
        for i, m in enumerate(t.messages):
            y = ui._place(BUBBLE_H, BUBBLE_GAP)
            w = min(ui.w * 0.75, max(64.0, text_width(m.text, scale) + 28))
            x = ui.x + ui.w - ui.pad - w if m.out else ui.x + ui.pad
            bubble = ui._add(Node(f"messages:msg:{i}:{'out' if m.out else 'in'}", Role.container, x, y, w, BUBBLE_H,
                                  desc=m.time, kind="card"))
            bubble.add(Node(f"messages:msg:{i}:text", Role.text, x + 12, y, w - 16, BUBBLE_H, name=m.text,
                            kind="text"))
        bar = Node(f"messages:composer:{t.id}", Role.toolbar, ui.x, top, ui.w, 60, kind="bottom_bar")
        send_w = 84
        box = bar.add(Node("messages:input", Role.text_field, ui.x + ui.pad, top + 8, ui.w - 2 * ui.pad - send_w - 8,
                           44, name=self.L("message_hint"), hint=self.L("message_hint"),
                           value=self.drafts.get(t.id, ""), on_text=self._set_draft, on_submit=self._send_current,
                           editable=True, kind="field"))
        box.focused = ui.focus == "messages:input"
        bar.add(Node("messages:send", Role.button, ui.x + ui.w - ui.pad - send_w, top + 8, send_w, 44,
                     name=self.L("send"), on_click=self._send_current, emphasis=1, kind="button"))
        ui.fixed.append(bar)

    def _build_compose(self, ui: Page) -> None:
        ui.header(self.L("new_message"), back=self.back)
        ui.field("messages:to", self.L("to"), self.to_draft, self._set_to,
                 on_submit=lambda: setattr(self, "focus", "messages:compose_text"))
        for i, name in enumerate(self._suggestions()):
            ui.row_item(f"messages:suggest:{i}", name, lambda n=name: self._pick(n))
        ui.field("messages:compose_text", self.L("message_hint"), self.compose_draft, self._set_compose,
                 multiline=True)
        if self.compose_error:
            ui.text(self.compose_error, key="messages:error")
        ui.button("messages:compose_send", self.L("send"), self._send_compose)
