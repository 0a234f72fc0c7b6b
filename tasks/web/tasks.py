"""Web task templates: local HTML pages played on a real desktop through Chromium.

A web task names a page in ``tasks/web/pages``, draws parameters from a seeded
RNG, turns them into the page's URL query (the page builds its instance from
it), checks success on the state the page reports to ``TaskServer`` (never the
screen), and has an expert: a reactive rule that picks the next action from the
observation alone — accessible names, roles, states, values and bounds, as
Chromium's accessibility tree gives them — so it can label any state a learner
reaches. Experts never read page internals (ids, classes, the query).

These templates have their own registry (``WEB_TASKS``); ``tasks.base.REGISTRY``
holds the simulator's.
"""
from __future__ import annotations

import hashlib
import json
import random
import re
import secrets as _secrets
import unicodedata
import zlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterable, Optional

from controllers.actions import (Answer, Click, Direction, Done, Drag, Key, MouseButton, PointTarget, Scroll,
                                 TypeText, element)
from controllers.coords import pixels_to_point
from controllers.elements import Observation, Rect, Role, UIElement
from controllers.policy import Decision, HistoryEntry
from tasks.web.server import TaskServer


# ---------------------------------------------------------------- reading the tree


def norm(text: Any) -> str:
    """Text as compared: NFC, no-break spaces as spaces, whitespace collapsed, trimmed, case-folded."""
    s = unicodedata.normalize("NFC", str(text or "")).replace("\u00a0", " ")
    return " ".join(s.split()).casefold()


def same_text(a: Any, b: Any) -> bool:
    """Field contents compared exactly but for line endings and Unicode normal form."""
    def clean(s: Any) -> str:
        return unicodedata.normalize("NFC", str(s or "")).replace("\r\n", "\n").replace("\r", "\n")
    return clean(a) == clean(b)


FIELD_ROLES = frozenset({Role.text_field, Role.unknown})
BUTTON_ROLES = frozenset({Role.button, Role.link, Role.unknown, Role.menu_item})
TOGGLE_ROLES = frozenset({Role.switch, Role.checkbox, Role.button, Role.radio, Role.menu_item, Role.unknown})
OPTION_ROLES = frozenset({Role.menu_item, Role.list_item, Role.unknown, Role.radio})
ITEM_ROLES = frozenset({Role.list_item, Role.unknown, Role.container, Role.menu_item})
LABEL_ROLES = frozenset({Role.text, Role.unknown, Role.heading, Role.container})


class View:
    """One observation of a page, read by accessible names and geometry only.

    The page is the largest visible ``web_view`` (browser chrome around it is
    ignored); without one, the whole tree.
    """

    def __init__(self, obs: Observation):
        self.obs = obs
        self.by_id: dict[int, UIElement] = {e.id: e for e in obs.elements}
        kids: dict[int, list[int]] = {}
        for e in obs.elements:
            for c in e.children:
                if c in self.by_id and c not in kids.setdefault(e.id, []):
                    kids[e.id].append(c)
        for e in obs.elements:
            if e.parent is not None and e.parent in self.by_id and e.id not in kids.setdefault(e.parent, []):
                kids[e.parent].append(e.id)
        self.kids = kids
        views = [e for e in obs.elements if e.role == Role.web_view and self.shown(e)]
        self.root: Optional[UIElement] = max(views, key=lambda e: e.bounds.area) if views else None
        self.scope: list[UIElement] = ([self.root] + self.descendants(self.root)) if self.root else list(obs.elements)
        self.screen = obs.screen.rect

    # ---- structure
    def ancestors(self, e: UIElement) -> list[UIElement]:
        out, seen, p = [], {e.id}, e.parent
        while p is not None and p in self.by_id and p not in seen:
            seen.add(p)
            node = self.by_id[p]
            out.append(node)
            p = node.parent
        return out

    def descendants(self, e: UIElement) -> list[UIElement]:
        out, seen, stack = [], {e.id}, list(reversed(self.kids.get(e.id, [])))
        while stack:
            i = stack.pop()
            if i in seen:
                continue
            seen.add(i)
            out.append(self.by_id[i])
            stack.extend(reversed(self.kids.get(i, [])))
        return out

    def inside(self, e: UIElement, container: UIElement) -> bool:
        return any(a.id == container.id for a in self.ancestors(e))

    # ---- geometry
    @staticmethod
    def shown(e: UIElement) -> bool:
        return e.states.visible and e.bounds.width > 0 and e.bounds.height > 0

    def clip(self, e: UIElement) -> Optional[Rect]:
        """The part of the screen where ``e`` can be seen: the screen, the page, and any list it scrolls in."""
        box: Optional[Rect] = self.screen
        if self.root is not None and e.id != self.root.id:
            box = box.intersect(self.root.bounds) if box else None
        for a in self.ancestors(e):
            if a.role == Role.list and box is not None and self.shown(a):
                box = box.intersect(a.bounds)
        return box

    def in_view(self, e: UIElement, slack: int = 3) -> bool:
        """Shown and vertically whole inside its clip box, horizontally at least its centre."""
        if not self.shown(e):
            return False
        box = self.clip(e)
        if box is None:
            return False
        b = e.bounds
        cx = (b.left + b.right) / 2
        return (b.top >= box.top - slack and b.bottom <= box.bottom + slack and box.left <= cx < box.right)

    def scroller(self, e: Optional[UIElement] = None) -> Optional[UIElement]:
        """What to scroll to move ``e``: its nearest shown list, else the page."""
        if e is not None:
            for a in self.ancestors(e):
                if a.role == Role.list and self.shown(a):
                    return a
        return self.root

    def scroll(self, direction: str, over: Optional[UIElement] = None, amount: float = 0.5) -> Scroll:
        target = element(over.id) if over is not None and self.shown(over) and self.visible_part(over) else None
        return Scroll(direction=Direction(direction), amount=amount, target=target)

    def visible_part(self, e: UIElement) -> Optional[Rect]:
        return e.bounds.intersect(self.screen)

    def reveal(self, e: UIElement) -> Optional[Scroll]:
        """None when ``e`` is in view, else a scroll that brings it closer."""
        if self.in_view(e):
            return None
        over = self.scroller(e)
        box = self.clip(e) or self.screen
        if over is not None and over.role == Role.list:
            span = max(1, over.bounds.height)
        else:
            span = max(1, box.height)
        b = e.bounds
        if b.height <= 0 and b.width <= 0 and b.top == 0 and b.left == 0:
            direction = "down"  # no geometry at all: search on downwards
        elif b.top < box.top:
            direction = "up"
        else:
            direction = "down"
        distance = (box.top - b.top) if direction == "up" else (b.bottom - box.bottom)
        amount = min(0.8, max(0.25, (distance + 24) / span))
        return self.scroll(direction, over, amount=round(amount, 2))

    def point_at(self, x: float, y: float) -> PointTarget:
        """A screen point (normalized) at pixel (x, y), kept on the screen."""
        x = min(max(x, 0), self.screen.width - 1)
        y = min(max(y, 0), self.screen.height - 1)
        return pixels_to_point(x, y, self.obs)

    # ---- finding
    def find(self, name: str, roles: Optional[Iterable[Role]] = None, within: Optional[UIElement] = None,
             contains: bool = False) -> list[UIElement]:
        """Elements of the page whose accessible name is ``name`` (or contains it), best first.

        Elements with an exactly matching role family come first, shown ones before hidden ones.
        """
        want = norm(name)
        pool = self.descendants(within) if within is not None else self.scope
        roles = frozenset(roles) if roles is not None else None
        hits = []
        for e in pool:
            got = norm(e.name)
            if not got or (want not in got if contains else got != want):
                continue
            if roles is not None and e.role not in roles:
                continue
            hits.append(e)
        return sorted(hits, key=lambda e: (not self.shown(e), e.role == Role.unknown, e.bounds.top, e.bounds.left))

    def first(self, name: str, roles: Optional[Iterable[Role]] = None, within: Optional[UIElement] = None
              ) -> Optional[UIElement]:
        hits = self.find(name, roles, within)
        return hits[0] if hits else None

    def texts(self, within: Optional[UIElement] = None) -> list[str]:
        pool = ([within] + self.descendants(within)) if within is not None else self.scope
        return [t for e in pool if self.shown(e) for t in (e.name, e.value) if t]

    def says(self, *needles: str, within: Optional[UIElement] = None) -> bool:
        """Whether one shown text of the page holds every needle (case-insensitive)."""
        wants = [norm(n) for n in needles]
        return any(all(w in norm(t) for w in wants) for t in self.texts(within))

    def dialog(self) -> Optional[UIElement]:
        """The open dialog, if any (the topmost: the last in tree order)."""
        open_ = [e for e in self.scope if e.role == Role.dialog and self.shown(e)]
        return open_[-1] if open_ else None

    def menu(self) -> Optional[UIElement]:
        """An open context menu: a shown menu with shown items, not a dropdown's list."""
        for e in reversed(self.scope):
            if e.role != Role.menu or not self.shown(e):
                continue
            if any(a.role == Role.dropdown for a in self.ancestors(e)):
                continue
            if any(c.role == Role.menu_item and self.shown(c) for c in self.descendants(e)):
                return e
        return None

    def item(self, name: str, within: Optional[UIElement] = None) -> Optional[UIElement]:
        """The list row (or card) called ``name``: a list item of that name, or the row holding that text."""
        rows = [e for e in self.find(name, ITEM_ROLES, within) if e.role != Role.menu_item]
        rows.sort(key=lambda e: (e.role != Role.list_item, not self.shown(e)))
        if rows and rows[0].role == Role.list_item:
            return rows[0]
        for t in self.find(name, None, within):
            for a in self.ancestors(t):
                if a.role == Role.list_item:
                    return a
        if rows:
            return rows[0]
        texts = self.find(name, LABEL_ROLES, within)
        return texts[0] if texts else None

    def checked(self, e: UIElement) -> Optional[bool]:
        return e.states.checked

    def toggle(self, name: str) -> Optional[UIElement]:
        """The switch or checkbox called ``name`` (one that reports a checked state first)."""
        hits = self.find(name, TOGGLE_ROLES)
        hits.sort(key=lambda e: (e.states.checked is None, e.role not in (Role.switch, Role.checkbox)))
        return hits[0] if hits else None

    def row_of(self, e: UIElement) -> list[UIElement]:
        """Shown elements on the same row as ``e`` to its right, nearest first."""
        b = e.bounds
        mid_lo, mid_hi = b.top - 4, b.bottom + 4
        out = []
        for o in self.scope:
            if o.id == e.id or not self.shown(o) or not o.name.strip():
                continue
            cy = (o.bounds.top + o.bounds.bottom) / 2
            if mid_lo <= cy <= mid_hi and o.bounds.left >= b.right - 2:
                out.append(o)
        return sorted(out, key=lambda o: (o.bounds.left, o.bounds.width))


def click(e: UIElement, button: str = "left", count: int = 1) -> Click:
    return Click(target=element(e.id), button=MouseButton(button), count=count)


def done(summary: str = "") -> Done:
    return Done(summary=summary)


def _last_action(history: list[HistoryEntry]) -> Any:
    for h in reversed(history):
        if h.action is not None:
            return h.action if h.ok else None
    return None


def _typed_secret(history: list[HistoryEntry]) -> bool:
    return any(h.ok and h.action is not None and h.action.type == "type" and h.action.secret for h in history)


def dropdown_value(view: View, dd: UIElement) -> str:
    """A dropdown's shown choice: its value, else its selected option."""
    if dd.value.strip():
        return dd.value
    for o in view.descendants(dd):
        if o.role in OPTION_ROLES and o.states.selected and o.name.strip():
            return o.name
    return ""


def choose(view: View, dd: UIElement, want: str) -> Optional[Any]:
    """A move toward ``want`` chosen in dropdown ``dd``; None once chosen and closed.

    An open popup shows its options off the dropdown's own box: click the one
    wanted. Closed and focused, type its first letter (type-ahead); else open it.
    """
    def popped(o: UIElement) -> bool:  # a shown option lying outside the dropdown's box: the popup is open
        return (view.shown(o) and o.id != dd.id and o.role in OPTION_ROLES
                and (o.bounds.top >= dd.bounds.bottom - 2 or o.bounds.bottom <= dd.bounds.top + 2))

    options = [o for o in view.descendants(dd) if popped(o)]
    current = dropdown_value(view, dd)
    if norm(current) == norm(want):
        return Key(keys=["escape"]) if options else None
    for o in options:
        if norm(o.name) == norm(want):
            return click(o)
    if dd.states.focused and not options and want[:1].isascii() and want[:1].isalnum():
        return Key(keys=[want[0].lower()])
    return click(dd)


def seek(view: View, name: str, roles: Optional[Iterable[Role]] = None) -> tuple[Optional[UIElement], Optional[Any]]:
    """(element, None) when ``name`` is in view; else (None, a scroll toward it)."""
    e = view.first(name, roles)
    if e is None:
        return None, view.scroll("down", view.root)
    move = view.reveal(e)
    return (None, move) if move is not None else (e, None)


# ---------------------------------------------------------------- templates


class WebTask(ABC):
    """A task on one page of ``tasks/web/pages``.

    A template samples its parameters (``sample``), configures its page with some
    of them (``query``: by default ``query_params`` as JSON), judges the state its
    page reports (``check``, called by ``is_successful`` only for a state from that
    page) and plays the expert on each observation read as a ``View`` (``expert``).
    """

    id: ClassVar[str] = ""
    page: ClassVar[str] = ""
    goals: ClassVar[list[str]] = []
    steps_hint: ClassVar[int] = 1  # typical expert actions, not counting done/answer
    secret_params: ClassVar[tuple[str, ...]] = ()
    query_params: ClassVar[tuple[str, ...]] = ()  # the params the page reads from its URL query, as JSON
    description: ClassVar[str] = ""

    @abstractmethod
    def sample(self, rng: random.Random) -> dict[str, Any]:
        """Parameters for one instance (JSON-ready)."""

    def query(self, params: dict[str, Any]) -> dict[str, str]:
        """The page's configuration for this instance, as URL query values (never a secret)."""
        return {name: _js(params[name]) for name in self.query_params}

    def is_successful(self, state: Optional[dict], params: dict[str, Any], answer: Optional[str] = None) -> bool:
        """Whether the page's reported state (and the answer, for questions) shows the task done."""
        return isinstance(state, dict) and state.get("page") == self.page_name and self.check(state, params, answer)

    @abstractmethod
    def check(self, state: dict, params: dict[str, Any], answer: Optional[str]) -> bool:
        """``is_successful`` for a state that this task's page reported."""

    def act(self, obs: Observation, params: dict[str, Any], history: list[HistoryEntry]) -> Any:
        """The expert's next action for this observation."""
        return self.expert(View(obs), params, history)

    @abstractmethod
    def expert(self, v: View, params: dict[str, Any], history: list[HistoryEntry]) -> Any:
        """``act`` on the observation read as a ``View``."""

    @property
    def page_name(self) -> str:
        """What the page reports as its ``page``: its file name without ``.html``."""
        return self.page.removesuffix(".html")

    @property
    def multi_step(self) -> bool:
        return self.steps_hint >= 3

    def info(self) -> dict[str, Any]:
        return {"id": self.id, "page": self.page, "steps_hint": self.steps_hint, "multi_step": self.multi_step,
                "goals": list(self.goals), "description": self.description or self.goals[0]}


WEB_TASKS: dict[str, WebTask] = {}


def register(cls: type[WebTask]) -> type[WebTask]:
    if not cls.id or cls.id in WEB_TASKS:
        raise ValueError(f"web task id {cls.id!r} is empty or registered twice")
    if not cls.goals or not cls.page:
        raise ValueError(f"web task {cls.id} needs a page and goal wordings")
    WEB_TASKS[cls.id] = cls()
    return cls


def get_web_task(task_id: str) -> WebTask:
    try:
        return WEB_TASKS[task_id]
    except KeyError:
        known = ", ".join(sorted(WEB_TASKS))
        raise KeyError(f"unknown web task {task_id!r}; known web tasks: {known}") from None


def _js(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# ---------------------------------------------------------------- data

PEOPLE = [("Mina Park", "mina.park"), ("James Lee", "james.lee"), ("Sofia Garcia", "sofia.g"),
          ("Daniel Kim", "dan.kim"), ("Emma Wilson", "emma.w"), ("Noah Choi", "noah.choi"),
          ("김민지", "minji.kim"), ("이서준", "seojun.lee"), ("박지훈", "jihoon.park"), ("최유나", "yuna.choi"),
          ("정하은", "haeun.jung"), ("강도윤", "doyun.kang"), ("윤서연", "seoyeon.yoon"), ("한지우", "jiwoo.han")]
DOMAINS = ["example.com", "mail.example.org", "handa.test", "inbox.example.net"]
ABOUT = ["I like R&D <3 그리고 커피 > 차", "Rust & Python > Java? 아마도요 <웃음>", "Tom & Jerry 팬입니다 <진심>",
         "a < b && b > c 는 참이에요", "안녕하세요! Coffee & code <always>", "5 > 3 & 2 < 4 — 수학 좋아해요",
         "<hello> & 반가워요 :)", "Cats & dogs > 고양이 < 강아지?"]  # each has <, >, & and Korean
PLANS = ["Free", "Basic", "Pro", "Team", "Enterprise", "Student"]  # distinct first letters: type-ahead picks one
PW_WORDS = ["maple", "river", "tiger", "cloud", "Seoul", "Busan", "lemon", "orbit", "piano", "comet"]

SWITCHES = ["Wi-Fi", "Bluetooth", "Airplane mode", "Dark mode", "Location", "Notifications", "Auto-rotate",
            "Battery saver", "Hotspot", "방해 금지 모드", "자동 업데이트", "블루투스 테더링"]
CHECKBOXES = ["Send usage statistics", "Show message previews", "Allow marketing emails", "Start on login",
              "Remember passwords", "개인 맞춤 광고 허용", "위치 기록 저장", "잠금 화면에 알림 표시"]
SLIDERS = ["Volume", "Brightness", "Text size", "음량", "화면 밝기"]

FILE_STEMS = ["Budget", "Quarterly report", "Meeting notes", "Invoice", "Travel plan", "Team photo", "Roadmap",
              "Contract", "Resume", "Presentation", "Design spec", "Expenses", "Timeline", "Survey results",
              "Backup", "Playlist", "Recipe", "Checklist", "회의록", "예산안", "보고서", "여행 계획", "사진첩",
              "계약서", "이력서", "발표 자료", "견적서", "주간 일정", "가계부", "강의 노트", "설문 결과", "영수증"]
FILE_TAGS = ["", " 2024", " 2025", " v2", " final", " draft", " (1)", " 3월", " 최종", " copy"]
FILE_EXTS = ["docx", "xlsx", "pdf", "pptx", "txt", "png", "jpg", "zip", "hwp", "csv"]
FILE_FIELDS = {"size": ("Size", "size", "크기"), "owner": ("Owner", "owner", "소유자"),
               "modified": ("Modified", "last-modified date", "수정 날짜")}

BOARDS = [["To do", "Doing", "Done"], ["Backlog", "In progress", "Review", "Done"], ["할 일", "진행 중", "완료"]]
CARDS = ["Fix login bug", "Write release notes", "Update dependencies", "Design new logo", "Plan team lunch",
         "Review pull request", "Prepare demo", "Call the supplier", "결제 오류 수정", "회의실 예약",
         "신규 직원 교육", "월간 보고서 작성", "고객 문의 답변", "서버 점검", "디자인 시안 검토", "출장 일정 정리"]

NOTE_TITLES = ["Shopping list", "Weekend plans", "장보기 목록", "회의 메모", "Ideas"]
NOTE_LINES = ["Buy milk and eggs", "Call mom at 7", "우유 2개, 계란 한 판", "Book the dentist", "세탁소 들르기",
              "Return library books", "Pay the phone bill", "화분에 물 주기", "Pick up the parcel"]
NOTE_NEW = ["Meeting moved to Friday 3pm", "Dinner at 7 with Jiwoo", "내일 오전 10시 회의", "Pack for the trip & charge the camera",
            "Send the report to 박지훈", "Gym after work", "주말에 영화 보기", "Order more coffee beans"]

SUBSCRIPTIONS = ["Daily Tech Digest", "Weekly Deals", "Product updates", "Travel alerts", "Community newsletter",
                 "Security notices", "주간 요리 레시피", "여행 뉴스레터", "오늘의 경제 브리핑", "신상품 알림", "이벤트 소식"]


# ---------------------------------------------------------------- sign-up form


@register
class SignUp(WebTask):
    id = "web.signup"
    page = "signup.html"
    steps_hint = 9
    secret_params = ("password",)
    query_params = ("plans", "prefill")
    description = "Fill in the sign-up form (free text with < > & and Korean, a dropdown, a password) and submit it."
    goals = [
        'Sign up as {name} with the email {email} and the password {password}, choose the {plan} plan, '
        'write "{about}" under About you, agree to the terms and submit.',
        'Create an account for {name} ({email}, password {password}) on the {plan} plan. About you: "{about}". '
        'Accept the terms and submit the form.',
        '{name} 이름으로 가입해줘. 이메일은 {email}, 비밀번호는 {password}, 요금제는 {plan}, '
        '자기소개는 "{about}"로 쓰고 약관에 동의한 뒤 제출해.',
    ]

    def sample(self, rng):
        name, handle = rng.choice(PEOPLE)
        email = f"{handle}{rng.randrange(1, 100)}@{rng.choice(DOMAINS)}"
        password = f"{rng.choice(PW_WORDS)}{rng.choice('#!@$')}{rng.choice(PW_WORDS)}{rng.randrange(10, 1000)}"
        plans = rng.sample(PLANS, 4)
        plan = rng.choice(plans)
        start = rng.choice(["blank", "blank", "stale", "other_plan"])
        prefill: dict[str, Any] = {}
        if start == "stale":
            prefill = {"name": f"guest{rng.randrange(100, 1000)}", "email": "guest@"}
        elif start == "other_plan":
            prefill = {"plan": rng.choice([p for p in plans if p != plan])}
        return {"name": name, "email": email, "password": password, "about": rng.choice(ABOUT), "plan": plan,
                "plans": plans, "prefill": prefill}

    def check(self, state, params, answer):
        sub = state.get("submitted")
        if not isinstance(sub, dict):
            return False
        pw_hash = hashlib.sha256(str(params["password"]).encode("utf-8")).hexdigest()
        return (sub.get("name") == params["name"] and sub.get("email") == params["email"]
                and same_text(sub.get("about"), params["about"]) and sub.get("plan") == params["plan"]
                and sub.get("agree") is True and sub.get("password_sha256") == pw_hash)

    def expert(self, v, params, history):
        for label, want in (("Full name", params["name"]), ("Email", params["email"])):
            e, move = seek(v, label, FIELD_ROLES)
            if e is None:
                return move
            if not same_text(e.value, want):
                return TypeText(text=want, target=element(e.id), clear=True)
        pw, move = seek(v, "Password", FIELD_ROLES)
        if pw is None:
            return move
        # a password field shows bullets: its length, or (none shown at all) whether we typed it
        typed = len(pw.value) == len(params["password"]) or (not pw.value and _typed_secret(history))
        if not typed:
            return TypeText(text=params["password"], target=element(pw.id), clear=True, secret=True)
        about, move = seek(v, "About you", FIELD_ROLES)
        if about is None:
            return move
        if not same_text(about.value, params["about"]):
            return TypeText(text=params["about"], target=element(about.id), clear=True)
        dd, move = seek(v, "Plan", {Role.dropdown, Role.unknown, Role.button})
        if dd is None:
            return move
        move = choose(v, dd, params["plan"])
        if move is not None:
            return move
        box, move = seek(v, "I agree to the terms", TOGGLE_ROLES)
        if box is None:
            return move
        if not box.states.checked:
            return click(box)
        if v.says("Account created for", params["name"]):
            return done("account created")
        submit, move = seek(v, "Submit", BUTTON_ROLES)
        return move if submit is None else click(submit)


# ---------------------------------------------------------------- settings


class SettingsTask(WebTask):
    """A task on the settings page: switches, checkboxes and a slider, sampled alike for every such task."""

    page = "settings.html"
    query_params = ("switches", "boxes", "slider")

    def sample(self, rng):
        switches = [[label, rng.random() < 0.5] for label in rng.sample(SWITCHES, 6)]
        boxes = [[label, rng.random() < 0.5] for label in rng.sample(CHECKBOXES, 3)]
        slider = {"label": rng.choice(SLIDERS), "value": rng.randrange(0, 101)}
        return {"switches": switches, "boxes": boxes, "slider": slider}

    @staticmethod
    def toggles_ok(state: dict, params: dict[str, Any], changed: Optional[tuple[str, str, bool]] = None) -> bool:
        """Whether the switches and checkboxes are as sampled but for ``changed``: (kind, label, on)."""
        want = {"switch": dict(params["switches"]), "checkbox": dict(params["boxes"])}
        if changed is not None:
            kind, label, on = changed
            want[kind][label] = on
        return state.get("switches") == want["switch"] and state.get("checkboxes") == want["checkbox"]


@register
class SettingsToggle(SettingsTask):
    id = "web.settings_toggle"
    steps_hint = 1
    description = "Turn one named switch or checkbox on or off (the others stay as they are)."
    goals = ["Turn {state} {label}", "Switch {label} {state} in the settings", "{label} {onoff_ko}줘",
             "Please make sure {label} is {state}.", "설정에서 {label} 항목을 {state_ko}으로 바꿔줘"]

    def sample(self, rng):
        p = super().sample(rng)
        rows = [("switch", r) for r in p["switches"]] + [("checkbox", r) for r in p["boxes"]]
        kind, (label, initial) = rng.choice(rows)
        on = not initial
        p.update(label=label, kind=kind, on=on, state="on" if on else "off", onoff_ko="켜" if on else "꺼",
                 state_ko="켬" if on else "끔")
        return p

    def check(self, state, params, answer):
        return self.toggles_ok(state, params, (params["kind"], params["label"], params["on"]))

    def expert(self, v, params, history):
        e = v.toggle(params["label"])
        if e is None:
            return v.scroll("down", v.root)
        if e.states.checked is None:
            raise LookupError(f"{params['label']!r} shows no checked state")
        if bool(e.states.checked) == params["on"]:
            return done(f"{params['label']} is {params['state']}")
        return v.reveal(e) or click(e)


@register
class SettingsSlider(SettingsTask):
    id = "web.settings_slider"
    steps_hint = 2
    description = "Set the range slider to a percentage (drag close, then arrow keys)."
    goals = ["Set {label} to {value}%", "Change the {label} slider to {value}", "{label} {value}%로 맞춰줘",
             "Move the {label} slider so it reads {value}%."]

    def sample(self, rng):
        p = super().sample(rng)
        value = rng.randrange(0, 101, 5)
        while abs(value - p["slider"]["value"]) < 15:
            value = rng.randrange(0, 101, 5)
        p.update(label=p["slider"]["label"], value=value)
        return p

    def check(self, state, params, answer):
        slider = state.get("slider") or {}
        return slider.get("value") == params["value"] and self.toggles_ok(state, params)

    def expert(self, v, params, history):
        s, move = seek(v, params["label"], {Role.slider, Role.unknown})
        if s is None:
            return move
        number = re.search(r"-?\d+(?:\.\d+)?", s.value)
        if number is None:
            raise LookupError(f"slider {params['label']!r} shows no number (value {s.value!r})")
        value = float(number.group())
        want = params["value"]
        if round(value) == want:
            return done(f"{params['label']} is {want}%")
        b = s.bounds
        pad = min(8.0, b.width / 10)  # the thumb's centre travels between the track's ends less half a thumb
        y = (b.top + b.bottom - 1) / 2

        def x_of(p: float) -> float:
            return b.left + pad + (b.width - 1 - 2 * pad) * min(max(p, 0.0), 100.0) / 100

        if abs(value - want) > 3:
            return Drag(start=v.point_at(x_of(value), y), end=v.point_at(x_of(want), y), duration=0.6)
        if not s.states.focused:
            return Click(target=v.point_at(x_of(value), y))
        return Key(keys=["right" if want > value else "left"])


# ---------------------------------------------------------------- files: list, context menu, dialog


def _files_sample(rng: random.Random) -> list[list[str]]:
    names: set[str] = set()
    while len(names) < 40:
        names.add(f"{rng.choice(FILE_STEMS)}{rng.choice(FILE_TAGS)}.{rng.choice(FILE_EXTS)}")
    files = []
    for name in sorted(names, key=lambda n: n.casefold()):
        size = (f"{rng.randrange(12, 1000)} KB" if rng.random() < 0.4 else f"{rng.randrange(1, 500) / 10:.1f} MB")
        owner = rng.choice(PEOPLE)[0]
        modified = f"{rng.choice([2024, 2025])}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
        files.append([name, size, owner, modified])
    return files


def _dismiss(v: View, d: UIElement) -> Any:
    """Close dialog ``d`` without doing what it asks."""
    cancel = v.first("Cancel", BUTTON_ROLES, within=d)
    return click(cancel) if cancel is not None else Key(keys=["escape"])


def _handle_dialog(v: View, confirm: Optional[str] = None) -> Optional[Any]:
    """None without an open dialog; else OK in it when it speaks of ``confirm``, or else a move that dismisses it."""
    d = v.dialog()
    if d is None:
        return None
    ok = v.first("OK", BUTTON_ROLES, within=d) if confirm is not None and v.says(confirm, within=d) else None
    return click(ok) if ok is not None else _dismiss(v, d)


def _back_button(v: View) -> Optional[UIElement]:
    """The shown "Back to files" button of an open file's details; None on the list."""
    back = v.first("Back to files", BUTTON_ROLES)
    return back if back is not None and v.shown(back) else None


def _reach_file(v: View, name: str, via: str) -> tuple[Optional[UIElement], Optional[Any]]:
    """(the row of file ``name``, None) once in view; else (None, a move toward it): search or scroll."""
    search = v.first("Search files", FIELD_ROLES)
    if search is not None and search.value:
        if via != "search" and norm(search.value) not in norm(name):
            return None, TypeText(text="", target=element(search.id), clear=True)
    if via == "search" and search is not None and not same_text(search.value, name):
        return None, TypeText(text=name, target=element(search.id), clear=True)
    row = v.item(name, within=v.first("Files", {Role.list}))
    if row is None:
        row = v.item(name)
    if row is None:
        lst = v.first("Files", {Role.list})
        return None, v.scroll("down", lst or v.root)
    move = v.reveal(row)
    return (None, move) if move is not None else (row, None)


class FilesTask(WebTask):
    """A task on the files page: a long list of 40 files, sampled alike for every such task."""

    page = "files.html"
    query_params = ("files",)

    def sample(self, rng):
        return {"files": _files_sample(rng)}


@register
class DeleteFile(FilesTask):
    id = "web.delete_file"
    steps_hint = 5
    description = "Delete a file far down a long list through its right-click menu and confirm the dialog."
    goals = ["Delete the file {file}", "Remove {file} from the files list (confirm when asked)",
             "{file} 파일을 삭제해줘", "Right-click {file}, choose Delete and confirm."]

    def sample(self, rng):
        p = super().sample(rng)
        p["file"] = p["files"][rng.randrange(24, len(p["files"]))][0]
        return p

    def check(self, state, params, answer):
        names = [f[0] for f in params["files"]]
        return (state.get("deleted") == [params["file"]] and not state.get("renamed")
                and state.get("files") == [n for n in names if n != params["file"]])

    def expert(self, v, params, history):
        name = params["file"]
        move = _handle_dialog(v, confirm=name)
        if move is not None:
            return move
        if v.says("Deleted", name):
            return done(f"deleted {name}")
        menu = v.menu()
        if menu is not None:
            if norm(name) in norm(menu.name):
                item = v.first("Delete", {Role.menu_item, Role.unknown, Role.button}, within=menu)
                if item is not None:
                    return click(item)
            return Key(keys=["escape"])
        back = _back_button(v)
        if back is not None:
            return click(back)
        row, move = _reach_file(v, name, "scroll")
        return move if row is None else click(row, button="right")


@register
class FileQuestion(FilesTask):
    id = "web.file_question"
    steps_hint = 3
    description = "Open a file's details by double click (searching or scrolling to it) and answer a question."
    goals = ["Open {file} and tell me its {field_en}.", "What is the {field_en} of the file {file}?",
             "{file} 파일을 열어서 {field_ko}를 알려줘", "Double-click {file} and report its {field_en}."]

    def sample(self, rng):
        files = super().sample(rng)["files"]
        via = rng.choice(["search", "scroll"])
        i = rng.randrange(0, len(files)) if via == "search" else rng.randrange(15, len(files))
        key = rng.choice(sorted(FILE_FIELDS))
        label, en, ko = FILE_FIELDS[key]
        f = files[i]
        expected = {"size": f[1], "owner": f[2], "modified": f[3]}[key]
        return {"files": files, "file": f[0], "field": key, "field_label": label, "field_en": en, "field_ko": ko,
                "via": via, "expected": expected}

    def check(self, state, params, answer):
        if answer is None or params["file"] not in (state.get("opened_ever") or []):
            return False
        got, want = norm(answer), norm(params["expected"])
        return bool(want) and want in got and len(got) <= len(want) + 40

    def expert(self, v, params, history):
        name = params["file"]
        move = _handle_dialog(v)
        if move is not None:
            return move
        if v.menu() is not None:
            return Key(keys=["escape"])
        back = _back_button(v)
        if back is not None:
            title = v.first(name, {Role.heading})
            if title is None or not v.shown(title):
                return click(back)
            key = v.first(params["field_label"], LABEL_ROLES - {Role.heading})
            if key is None or not v.in_view(key):
                return v.reveal(key) if key is not None else v.scroll("down", v.root)
            values = [o for o in v.row_of(key) if o.role not in (Role.button, Role.heading)]
            if not values:
                raise LookupError(f"no value next to {params['field_label']!r}")
            return Answer(text=values[0].name.strip())
        row, move = _reach_file(v, name, params["via"])
        return move if row is None else click(row, count=2)


# ---------------------------------------------------------------- board: drag and drop


@register
class MoveCard(WebTask):
    id = "web.move_card"
    page = "board.html"
    query_params = ("columns", "cards")
    steps_hint = 1
    description = "Drag a card from one column of a board to another (mouse-based drag)."
    goals = ['Move the card "{card}" to {column}', "Drag {card} into the {column} column",
             '"{card}" 카드를 {column} 열로 옮겨줘', 'Put "{card}" under {column} on the board.']

    def sample(self, rng):
        columns = rng.choice(BOARDS)
        titles = rng.sample(CARDS, rng.randrange(6, 10))
        cards = [[t, rng.randrange(len(columns))] for t in titles]
        card, col = rng.choice(cards)
        target = rng.choice([c for c in range(len(columns)) if c != col])
        return {"columns": columns, "cards": cards, "card": card, "column": columns[target]}

    def check(self, state, params, answer):
        cols = state.get("columns")
        if not isinstance(cols, dict):
            return False
        where = {t: c for c, ts in cols.items() if isinstance(ts, list) for t in ts}
        want = {t: params["columns"][c] for t, c in params["cards"]}
        want[params["card"]] = params["column"]
        return where == want

    def expert(self, v, params, history):
        head = v.first(params["column"], {Role.heading})
        card = v.item(params["card"])
        if head is None or card is None:
            return v.scroll("down", v.root)
        move = v.reveal(head) or v.reveal(card)
        if move is not None:
            return move
        cx = (card.bounds.left + card.bounds.right) / 2
        if head.bounds.left <= cx < head.bounds.right and card.bounds.top >= head.bounds.top:
            return done(f"{params['card']} is in {params['column']}")
        return Drag(start=element(card.id), end=element(head.id), duration=0.8)


# ---------------------------------------------------------------- notes: keyboard chords


@register
class ReplaceNote(WebTask):
    id = "web.replace_note"
    page = "notes.html"
    steps_hint = 5
    description = "Select all in a text area (ctrl+a), delete it, type new text and save with ctrl+s."
    goals = ['Replace everything in the note with "{text}" and save it',
             'Clear the note, type "{text}" and press Ctrl+S to save',
             '메모 내용을 모두 지우고 "{text}"라고 쓴 다음 저장해줘']

    def sample(self, rng):
        lines = rng.sample(NOTE_LINES, rng.randrange(2, 4))
        return {"title": rng.choice(NOTE_TITLES), "initial": "\n".join(lines), "text": rng.choice(NOTE_NEW)}

    def query(self, params):  # plain text, not JSON
        return {"title": params["title"], "text": params["initial"]}

    def check(self, state, params, answer):
        return same_text(state.get("saved_text"), params["text"]) and same_text(state.get("text"), params["text"])

    def expert(self, v, params, history):
        note, move = seek(v, "Note", FIELD_ROLES)
        if note is None:
            return move
        want = params["text"]
        if same_text(note.value, want):
            if v.says("All changes saved"):
                return done("note replaced and saved")
            # ctrl+s only where the page has the keyboard: elsewhere it is the browser's "save page"
            return Key(keys=["ctrl", "s"]) if note.states.focused else click(note)
        if note.value == "":
            return TypeText(text=want, target=element(note.id))
        if not note.states.focused:
            return click(note)
        last = _last_action(history)
        if last is not None and last.type == "key" and last.keys == ["ctrl", "a"]:
            return Key(keys=["delete"])
        return Key(keys=["ctrl", "a"])


# ---------------------------------------------------------------- subscriptions: confirmation dialog


@register
class Unsubscribe(WebTask):
    id = "web.unsubscribe"
    page = "subscriptions.html"
    query_params = ("subs",)
    steps_hint = 2
    description = "Press a row's Unsubscribe button and confirm the modal dialog with OK."
    goals = ["Unsubscribe from {name}", "Stop the {name} emails", "{name} 구독을 해지해줘",
             "Cancel my subscription to {name} and confirm it."]

    def sample(self, rng):
        names = rng.sample(SUBSCRIPTIONS, 7)
        subs = [[n, i < 5] for i, n in enumerate(names)]
        rng.shuffle(subs)
        target = rng.choice([n for n, on in subs if on])
        return {"subs": subs, "name": target}

    def check(self, state, params, answer):
        want = [n for n, on in params["subs"] if on and n != params["name"]]
        return sorted(state.get("subscribed") or []) == sorted(want) and state.get("dialog_for") is None

    def expert(self, v, params, history):
        name = params["name"]
        move = _handle_dialog(v, confirm=name)
        if move is not None:
            return move
        row = v.item(name)
        if row is None:
            return v.scroll("down", v.root)
        if row.role == Role.list_item:
            inner = v.descendants(row)
            if any(norm(e.name) == "unsubscribed" for e in inner) or v.first("Subscribe", BUTTON_ROLES, within=row):
                return done(f"unsubscribed from {name}")
            button = v.first("Unsubscribe", BUTTON_ROLES, within=row)
        else:
            button = None
        if button is None:  # no row structure: the button on the same line as the name
            line = v.row_of(row)
            if any(norm(o.name) == "unsubscribed" for o in line):
                return done(f"unsubscribed from {name}")
            button = next((o for o in line if norm(o.name) == "unsubscribe" and o.role in BUTTON_ROLES), None)
            if button is None:
                raise LookupError(f"no Unsubscribe button on the row of {name!r}")
        return v.reveal(button) or click(button)


# ---------------------------------------------------------------- instances and the expert policy


@dataclass
class WebInstance:
    """One concrete web task: the page's URL (open it in the browser) and the goal."""

    task: WebTask
    seed: int
    params: dict[str, Any]
    goal: str
    session: str
    url: str
    server: TaskServer = field(repr=False)

    def state(self) -> Optional[dict]:
        return self.server.state(self.session)

    def wait_loaded(self, timeout: float = 10.0) -> Optional[dict]:
        """The page's first reported state, once it has loaded (None on timeout)."""
        return self.server.wait_state(self.session, lambda s: True, timeout)

    def is_successful(self, answer: Optional[str] = None, timeout: float = 1.0) -> bool:
        """Whether the page's state shows the task done; waits up to ``timeout`` s for a late report."""
        state = self.server.wait_state(self.session, lambda s: self.task.is_successful(s, self.params, answer),
                                       timeout)
        return state is not None

    @property
    def secrets(self) -> dict[str, str]:
        return {name: str(self.params[name]) for name in self.task.secret_params if self.params.get(name)}


def make_web_instance(task_id: str, seed: int, server: TaskServer, wording: Optional[int] = None) -> WebInstance:
    """Sample ``task_id`` for ``seed`` (deterministic), with a fresh session on ``server``."""
    task = get_web_task(task_id)
    rng = random.Random(zlib.crc32(f"{task_id}/{seed}".encode()))
    params = task.sample(rng)
    index = rng.randrange(len(task.goals)) if wording is None else wording % len(task.goals)
    goal = task.goals[index].format(**params)
    session = f"{re.sub(r'[^A-Za-z0-9]+', '-', task_id)}-{seed}-{_secrets.token_hex(4)}"
    query = task.query(params)
    if "session" in query:
        raise ValueError(f"{task_id}: the query must not set 'session'")
    url = server.url(task.page, session=session, **query)
    return WebInstance(task, seed, params, goal, session, url, server)


class WebExpertPolicy:
    """A ``Policy`` that plays a web instance's expert; an expert failure becomes a decision error."""

    name = "expert"

    def __init__(self, instance: WebInstance):
        self.instance = instance

    def reset(self, goal: str) -> None:
        pass

    def decide(self, goal: str, obs: Observation, history: list[HistoryEntry]) -> Decision:
        task = self.instance.task
        try:
            action = task.act(obs, self.instance.params, history)
        except Exception as exc:  # the loop records it and asks again
            return Decision(error=f"expert {task.id} failed: {type(exc).__name__}: {exc}",
                            raw={"expert": task.id})
        if action is None:
            return Decision(error=f"expert {task.id} had no action", raw={"expert": task.id})
        return Decision(action=action, confidence=1.0, raw={"expert": task.id})
