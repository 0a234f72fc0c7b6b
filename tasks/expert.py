"""The experts' toolkit: read an observation by sim-key and answer with actions.

Experts read ``attrs["sim-key"]``, the sim's stable widget key, so one rule
works under every theme, layout and label synonym. (Learned policies must not
read it: it exists only in the sim.)
"""
from __future__ import annotations

from typing import Any, Optional

from controllers.actions import (Answer, Click, Direction, Done, DoneStatus, ElementTarget, Key, LongPress, OpenApp,
                                 PointTarget, Scroll, System, SystemButton, TypeText)
from controllers.elements import Observation, UIElement
from controllers.policy import Decision, HistoryEntry

PACKAGES = {
    "settings": "com.handa.settings", "contacts": "com.handa.contacts", "messages": "com.handa.messages",
    "login": "com.handa.login", "shop": "com.handa.shop", "files": "com.handa.files",
    "calendar": "com.handa.calendar", "notes": "com.handa.notes", "calculator": "com.handa.calculator",
    "webform": "com.handa.webform",
}

APPS_BY_PACKAGE = {package: app for app, package in PACKAGES.items()}


class Kit:
    """One observation seen through sim-keys, plus the expert's episode memory."""

    def __init__(self, obs: Observation, memory: dict[str, Any], history: list[HistoryEntry], seed: int = 0):
        self.obs = obs
        self.memory = memory
        self.history = history
        self.seed = seed
        self.by_key: dict[str, UIElement] = {}
        for e in obs.elements:
            k = e.attrs.get("sim-key")
            if k is not None and k not in self.by_key:
                self.by_key[k] = e
        self.form = "desktop" if obs.device.startswith("sim-desktop") else "phone"

    # ------------------------------------------------------------ reading
    def el(self, key: str) -> Optional[UIElement]:
        return self.by_key.get(key)

    def els(self, prefix: str) -> list[UIElement]:
        return [e for k, e in self.by_key.items() if k.startswith(prefix)]

    def has(self, key: str) -> bool:
        return key in self.by_key

    def in_app(self, app: str) -> bool:
        return self.obs.app == PACKAGES[app]

    def page(self, app: str) -> Optional[str]:
        """The current page of ``app`` if it is in the foreground, e.g. ``main``."""
        if not self.in_app(app):
            return None
        prefix = f"page:{app}/"
        for key in self.by_key:
            if key.startswith(prefix):
                return key[len(prefix):]
        return None

    def key_of(self, e: UIElement) -> str:
        return e.attrs.get("sim-key", "")

    def checked(self, key: str) -> Optional[bool]:
        e = self.el(key)
        return None if e is None else bool(e.states.checked)

    def value(self, key: str) -> Optional[str]:
        e = self.el(key)
        return None if e is None else e.value

    # ------------------------------------------------------------ acting
    def _target(self, target: UIElement | str) -> ElementTarget:
        """An element target for an element or a sim-key; a missing key is the expert's bug."""
        e = self.el(target) if isinstance(target, str) else target
        if e is None:
            raise LookupError(f"expert asked for missing element {target!r}")
        return ElementTarget(id=e.id)

    def click(self, target: UIElement | str, count: int = 1) -> Click:
        return Click(target=self._target(target), count=count)

    def click_at(self, e: UIElement, fx: float, fy: float = 0.5) -> Click:
        """Click a fraction of the way across ``e`` (sliders), as a normalized screen point."""
        w, h = self.obs.screen.width, self.obs.screen.height
        px = e.bounds.left + fx * (e.bounds.width - 1)
        py = e.bounds.top + fy * (e.bounds.height - 1)
        return Click(target=PointTarget(x=px / (w - 1), y=py / (h - 1)))

    def type(self, target: UIElement | str, text: str, clear: bool = True, submit: bool = False,
             secret: bool = False) -> TypeText:
        return TypeText(text=text, target=self._target(target), clear=clear, submit=submit, secret=secret)

    def key(self, *keys: str) -> Key:
        return Key(keys=list(keys))

    def back(self) -> System:
        return System(button=SystemButton.back)

    def home(self) -> System:
        return System(button=SystemButton.home)

    def done(self, status: DoneStatus = DoneStatus.success, summary: str = "") -> Done:
        return Done(status=status, summary=summary)

    def answer(self, text: str) -> Answer:
        return Answer(text=text)

    def scroll(self, direction: str = "down", amount: float = 0.6) -> Scroll:
        return Scroll(direction=Direction(direction), amount=amount)

    def open_app(self, app: str):
        """Open ``app``: from the launcher by its icon on some seeds, else by name."""
        icon = self.el(f"launcher:icon:{app}")
        if icon is not None and (self.seed % 3 == 0):
            return self.click(icon)
        desk = self.el(f"desktop:icon:{app}")
        if desk is not None and (self.seed % 3 == 0):
            return self.click(desk, count=2)
        window_tab = self.el(f"taskbar:app:{app}")
        if window_tab is not None:
            return self.click(window_tab)
        return OpenApp(app=self.memory.get("app_names", {}).get(app, PACKAGES[app]))

    # ------------------------------------------------------------ composite moves
    def interruption(self) -> Optional[Any]:
        """Dismiss distractor dialogs that block the task."""
        # only the foreground app's nag: one left open in a background window may be covered by the front one
        app = APPS_BY_PACKAGE.get(self.obs.app)
        if app is not None and self.has(f"{app}:nag:later"):
            return self.click(f"{app}:nag:later")
        if self.has("taskbar:menu"):
            return self.key("escape") if self.form == "phone" else self.click("taskbar:start")
        return None

    def seek(self, key: str) -> tuple[Optional[UIElement], Optional[Any]]:
        """(element, None) when ``key`` is on screen, else (None, a scroll toward it)."""
        e = self.el(key)
        if e is not None:
            body = self._scroll_parent(e)
            # partially hidden under the body's edge: bring it fully in first
            if body is None or (e.bounds.top >= body.bounds.top and e.bounds.bottom <= body.bounds.bottom
                                and e.bounds.height >= 8):
                return e, None
        fp = self.obs.fingerprint()
        direction = self.memory.get("seek_dir", "down")
        if self.memory.get("seek_fp") == fp:
            direction = "up" if direction == "down" else "down"
        self.memory["seek_dir"] = direction
        self.memory["seek_fp"] = fp
        if e is not None:
            body = self._scroll_parent(e)
            # bounds are clipped to the body: a sliver cut off at the top sits on the body's top edge
            direction = "up" if e.bounds.top <= body.bounds.top else "down"
            return None, Scroll(direction=Direction(direction), amount=0.3, target=ElementTarget(id=body.id))
        bodies = [b for b in self.obs.elements if b.states.scrollable]
        target = ElementTarget(id=bodies[-1].id) if bodies else None
        return None, Scroll(direction=Direction(direction), amount=0.6, target=target)

    def locate(self, key: str) -> tuple[Optional[UIElement], Optional[Any]]:
        """Like ``seek`` but gives up: (element, None), (None, scroll), or (None, None) once surely absent.

        Absent means nothing scrolls, or the search hit both ends of the list
        (two scrolls that changed nothing) without seeing ``key``.
        """
        ends = self.memory.setdefault("locate_ends", {})
        if self.el(key) is not None:
            ends.pop(key, None)
            return self.seek(key)
        if not any(e.states.scrollable for e in self.obs.elements):
            return None, None
        if self.memory.get("seek_fp") == self.obs.fingerprint():  # the last scroll hit an end
            ends[key] = ends.get(key, 0) + 1
            if ends[key] >= 2:
                ends.pop(key)
                return None, None
        return self.seek(key)

    def tap(self, key: str) -> Any:
        """Click ``key``, scrolling to it first if needed."""
        e, move = self.seek(key)
        return move if e is None else self.click(e)

    def long_press(self, target: UIElement | str) -> LongPress:
        return LongPress(target=self._target(target))

    def _scroll_parent(self, e: UIElement) -> Optional[UIElement]:
        p = e.parent
        while p is not None:
            node = self.obs.element(p)
            if node is None:
                return None
            if node.states.scrollable:
                return node
            p = node.parent
        return None

    def goto(self, app: str, path: list[tuple[str, str]] = ()) -> Optional[Any]:
        """Navigate to the page at the end of ``path`` in ``app``; None once there.

        ``path`` lists (page, key to click on the previous page to reach it).
        """
        if not self.in_app(app):
            # the taskbar tab is never covered; another window may cover this one's title bar
            if self.has(f"taskbar:app:{app}"):
                return self.click(f"taskbar:app:{app}")
            if self.has(f"window:{app}") and self.form == "desktop":
                return self.click(f"window:{app}:title")
            return self.open_app(app)
        page = self.page(app)
        pages = ["main"] + [p for p, _ in path]
        if page == pages[-1]:
            return None
        if page in pages:
            nxt = pages.index(page) + 1
            e, move = self.seek(path[nxt - 1][1])
            return move if e is None else self.click(e)
        return self.go_back(app)

    def go_back(self, app: str) -> Any:
        if self.has(f"{app}:back"):
            return self.click(f"{app}:back")
        return self.back()


class ExpertPolicy:
    """A ``Policy`` that plays a task instance's expert."""

    def __init__(self, instance: Any):
        self.instance = instance
        self.name = f"expert:{instance.template.id}"
        self.memory: dict[str, Any] = {}

    def reset(self, goal: str) -> None:
        self.memory = {}

    def decide(self, goal: str, observation: Observation, history: list[HistoryEntry]) -> Decision:
        self.memory.setdefault("goal", goal)
        kit = Kit(observation, self.memory, history, seed=self.instance.seed)
        action = kit.interruption() or self.instance.template.act(kit, self.instance.params)
        return Decision(action=action, confidence=1.0, raw={"expert": self.instance.template.id})
