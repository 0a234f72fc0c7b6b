"""The simulated device: a phone or a desktop running the sim apps.

Pure Python and deterministic for a seed. The device builds a scene of ``Node``
trees (system UI + apps), turns it into contract elements, renders screenshots
with Pillow, and routes input (in logical dp) to the nodes' handlers.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import random
import time
import zlib
from typing import Optional

from controllers.elements import (ElementStates, Observation, Orientation, Platform, Rect, Role, ScreenFrame,
                                  UIElement)
from controllers.sim.apps import APP_CLASSES
from controllers.sim.apps.base import App
from controllers.sim.style import LEXICON, Split, Style
from controllers.sim.ui import Node, Page

# logical screen sizes (dp) of common devices; each seed picks one
PHONE_SIZES = [(360, 760), (360, 800), (384, 832), (393, 851), (412, 892)]
DESKTOP_SIZES = [(1280, 800), (1366, 768), (1440, 900), (1280, 720), (1536, 864)]
STATUS_H, NAV_H, TASKBAR_H, TITLE_H = 24, 48, 40, 32
BLOCKING_KINDS = {"scrim", "scrim_clear", "dialog", "menu", "window", "page", "body", "header", "card",
                  "bottom_bar", "tabbar", "launcher", "taskbar", "statusbar", "navbar"}


def _plain(value):
    """JSON-ready, address-free form of app state (dataclasses and plain objects by their fields)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((_plain(v) for v in value), key=repr)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if callable(value):
        return None
    if hasattr(value, "__dict__"):
        return _plain({k: v for k, v in vars(value).items() if not k.startswith("_")})
    slots = [n for cls in type(value).__mro__ for n in getattr(cls, "__slots__", ())]
    if slots:
        return _plain({n: getattr(value, n, None) for n in slots if not n.startswith("_")})
    return value


class SimDevice:
    """The whole simulated machine. ``form`` is ``phone`` or ``desktop``."""

    def __init__(self, form: str = "phone", seed: int = 0, split: Split | str = Split.all, scale: float = 1.0,
                 look_seed: Optional[int] = None):
        """``look_seed`` (default: ``seed``) draws the looks alone: theme, typeface, label synonyms, header and
        button placement, screen size, launcher order and window placement. The data, the distractors, the
        clock and everything a task samples stay those of ``seed``: the same world on another look."""
        if form not in ("phone", "desktop"):
            raise ValueError(f"unknown form factor {form!r}: use phone or desktop")
        self.form, self.seed, self.scale = form, seed, float(scale)
        self.look_seed = seed if look_seed is None else look_seed
        self.split = Split(split)
        self.rng = random.Random(zlib.crc32(f"device/{seed}".encode()))
        self.style = Style(self.rng, self.split)
        self.size = self.rng.choice(PHONE_SIZES if form == "phone" else DESKTOP_SIZES)
        look_rng = self.rng
        if self.look_seed != seed:  # the same draws from the look's own generator; data-bearing ones kept
            look_rng = random.Random(zlib.crc32(f"device/{self.look_seed}".encode()))
            style = Style(look_rng, self.split)
            style.distractors = self.style.distractors  # apps draw their distractors (and data) after this flag
            self.style = style
            self.size = look_rng.choice(PHONE_SIZES if form == "phone" else DESKTOP_SIZES)
            look_rng.randint(0, 600)  # the clock's draw: launcher order then matches a device seeded look_seed
        self.apps: dict[str, App] = {cls.key: cls(self) for cls in APP_CLASSES}
        self.foreground: Optional[str] = None  # None: home screen / desktop
        self.recents: list[str] = []
        self.showing_recents = False
        self.start_menu = False
        self.minimized: set[str] = set()
        self.windows: dict[str, tuple[float, float, float, float]] = {}
        self.selected_icon: Optional[str] = None
        self.clock = 9 * 60 + self.rng.randint(0, 600)
        self.icon_order = list(self.apps)
        look_rng.shuffle(self.icon_order)
        self.actions_done = 0
        self._scene: Optional[list[Node]] = None
        self._viewports: dict[str, tuple[Page, float]] = {}

    # ------------------------------------------------------------ app management
    def app(self, key: str) -> App:
        return self.apps[key]

    def names_of(self, key: str) -> list[str]:
        app = self.apps[key]
        names = [key, app.package, app.title, *app.aliases]
        if app.label_key:
            names += LEXICON.get(app.label_key, [])
        return names

    def find_app(self, name: str) -> Optional[str]:
        wanted = name.strip().casefold()
        for key in self.apps:
            if wanted in (n.casefold() for n in self.names_of(key)):
                return key
        return None

    def launch(self, key: str) -> None:
        app = self.apps[key]
        self.foreground = key
        self.showing_recents = False
        self.start_menu = False
        self.minimized.discard(key)
        if key in self.recents:
            self.recents.remove(key)
        self.recents.append(key)
        if self.form == "desktop" and key not in self.windows:
            r = random.Random(zlib.crc32(f"{self.look_seed}/win/{key}".encode()))
            w = r.randint(560, 760)
            h = min(r.randint(560, 700), self.size[1] - TASKBAR_H - 20)
            x = r.randint(40, self.size[0] - w - 40)
            y = r.randint(10, self.size[1] - TASKBAR_H - h - 6)
            self.windows[key] = (x, y, w, h)
        app.on_open()
        self.invalidate()

    def go_home(self) -> None:
        self.foreground = None
        self.showing_recents = False
        self.start_menu = False
        if self.form == "desktop":
            self.minimized.update(self.windows)
        self.invalidate()

    def close_app(self, key: str) -> None:
        self.windows.pop(key, None)
        self.minimized.discard(key)
        if key in self.recents:
            self.recents.remove(key)
        self.apps[key].reset_to()
        if self.foreground == key:
            visible = [k for k in self.recents if k in self.windows and k not in self.minimized]
            self.foreground = visible[-1] if (visible and self.form == "desktop") else None
        self.invalidate()

    def back(self) -> None:
        if self.start_menu:
            self.start_menu = False
        elif self.showing_recents:
            self.showing_recents = False
        elif self.foreground is not None:
            if not self.apps[self.foreground].back() and self.form == "phone":
                self.foreground = None
        self.invalidate()

    def show_recents(self) -> None:
        if self.form == "phone":
            self.showing_recents = True
        elif self.recents:
            # desktop: cycle to the next window, like alt+tab
            order = [k for k in self.recents if k in self.windows]
            if order:
                self.launch(order[0])
        self.invalidate()

    def invalidate(self) -> None:
        self._scene = None

    # ------------------------------------------------------------ scene
    def scene(self) -> list[Node]:
        if self._scene is None:
            self._scene = self._build_scene()
        return self._scene

    def _build_scene(self) -> list[Node]:
        self._viewports = {}
        if self.form == "phone":
            return self._phone_scene()
        return self._desktop_scene()

    def _time_text(self) -> str:
        return f"{self.clock // 60 % 24:02d}:{self.clock % 60:02d}"

    def _build_app(self, key: str, x: float, y: float, w: float, h: float) -> Node:
        app = self.apps[key]
        for _ in range(2):
            page = Page(self.style, key, app.page, x, y, w, h, scroll=app.scroll.get(app.page, 0.0), focus=app.focus,
                        scrolls=app.scroll)
            app.build(page)
            app.common_overlays(page)
            root, content_h = page.finish()
            # a state change may have shrunk the content under the scroll offset: clamp and lay out again
            max_scroll = max(0.0, content_h - (page.body.h if page.body is not page.root else h))
            if app.scroll.get(app.page, 0.0) <= max_scroll:
                break
            app.scroll[app.page] = max_scroll
        self._viewports[key] = (page, content_h)
        return root

    def _phone_scene(self) -> list[Node]:
        W, H = self.size
        status = Node("sys:statusbar", Role.container, 0, 0, W, STATUS_H, kind="statusbar")
        status.add(Node("sys:clock", Role.text, 8, 0, 60, STATUS_H, name=self._time_text(), kind="status_text"))
        status.add(Node("sys:battery", Role.icon, W - 40, 2, 32, STATUS_H - 4, desc="Battery 87%", kind="battery"))
        wifi_on = getattr(self.apps.get("settings"), "wifi", False)
        status.add(Node("sys:wifi", Role.icon, W - 68, 2, 24, STATUS_H - 4,
                        desc="Wi-Fi connected" if wifi_on else "Wi-Fi off", kind="wifi_icon"))
        nav = Node("sys:navbar", Role.container, 0, H - NAV_H, W, NAV_H, kind="navbar")
        third = W / 3
        for i, (key, label, handler) in enumerate((("sys:back", "back", self.back),
                                                  ("sys:home", "home", self.go_home),
                                                  ("sys:recents", "recents", self.show_recents))):
            nav.add(Node(key, Role.button, i * third + third / 2 - 30, H - NAV_H + 4, 60, NAV_H - 8,
                         desc=self.style.label(label), on_click=handler, kind=f"nav_{label}"))
        top, height = STATUS_H, H - STATUS_H - NAV_H
        if self.showing_recents:
            content = self._recents_screen(0, top, W, height)
        elif self.foreground is None:
            content = self._launcher(0, top, W, height)
        else:
            content = self._build_app(self.foreground, 0, top, W, height)
        return [content, status, nav]

    def _launcher(self, x: float, y: float, w: float, h: float) -> Node:
        root = Node("page:launcher/home", Role.container, x, y, w, h, kind="launcher")
        cols = 4
        cell_w = w / cols
        cell_h = 96
        top = y + 80
        root.add(Node("launcher:clock", Role.text, x + 16, y + 12, w - 32, 56, name=self._time_text(),
                      kind="text_big"))
        for i, key in enumerate(self.icon_order):
            r, c = divmod(i, cols)
            app = self.apps[key]
            root.add(Node(f"launcher:icon:{key}", Role.button, x + c * cell_w + 8, top + r * cell_h, cell_w - 16,
                          cell_h - 8, name=app.title, kind="app_icon", on_click=(lambda k=key: self.launch(k)),
                          rid=key))
        return root

    def _recents_screen(self, x: float, y: float, w: float, h: float) -> Node:
        root = Node("page:launcher/recents", Role.container, x, y, w, h, kind="launcher")
        root.add(Node("recents:title", Role.heading, x + 16, y + 8, w - 32, 40, name=self.style.label("recents"),
                      kind="title"))
        cy = y + 56
        for key in reversed(self.recents[-6:]):
            app = self.apps[key]
            card = root.add(Node(f"recents:card:{key}", Role.list_item, x + 24, cy, w - 48, 80, name=app.title,
                                 on_click=(lambda k=key: self.launch(k)), kind="card"))
            card.add(Node(f"recents:close:{key}", Role.button, x + w - 72, cy + 20, 40, 40,
                          desc=f"{self.style.label('close')} {app.title}",
                          on_click=(lambda k=key: self.close_app(k)), kind="icon_close"))
            cy += 92
        if self.recents:
            root.add(Node("recents:clear_all", Role.button, x + w / 2 - 70, y + h - 56, 140, 44,
                          name=self.style.label("clear_all"), on_click=self._clear_recents, kind="button", emphasis=3))
        else:
            root.add(Node("recents:empty", Role.text, x + 24, cy, w - 48, 40, name=self.style.label("no_recents"),
                          kind="text"))
        return root

    def _clear_recents(self) -> None:
        for key in list(self.recents):
            self.close_app(key)
        self.showing_recents = False

    def _desktop_scene(self) -> list[Node]:
        W, H = self.size
        desk = Node("page:desktop/home", Role.container, 0, 0, W, H - TASKBAR_H, kind="launcher")
        for i, key in enumerate(self.icon_order):
            app = self.apps[key]
            r, c = i % 7, i // 7
            desk.add(Node(f"desktop:icon:{key}", Role.icon, 12 + c * 96, 12 + r * 92, 84, 84, name=app.title,
                          selected=self.selected_icon == key, kind="desk_icon",
                          on_click=(lambda k=key: self._select_icon(k)), rid=key))
        scene = [desk]
        order = [k for k in self.recents if k in self.windows and k not in self.minimized]
        for key in order:
            scene.append(self._window(key))
        scene.append(self._taskbar(W, H))
        return scene

    def _select_icon(self, key: str) -> None:
        self.selected_icon = key
        self.start_menu = False

    def _window(self, key: str) -> Node:
        x, y, w, h = self.windows[key]
        app = self.apps[key]
        active = key == self.foreground
        win = Node(f"window:{key}", Role.window, x, y, w, h, name=app.title, kind="window", selected=active,
                   on_click=(lambda k=key: self._focus_window(k)))
        bar = win.add(Node(f"window:{key}:titlebar", Role.toolbar, x, y, w, TITLE_H, kind="titlebar",
                           selected=active))
        bar.add(Node(f"window:{key}:title", Role.text, x + 10, y, w - 120, TITLE_H, name=app.title, kind="title_small",
                     selected=active))
        bar.add(Node(f"window:{key}:minimize", Role.button, x + w - 72, y + 2, 32, TITLE_H - 4, desc="Minimize",
                     kind="win_min", on_click=(lambda k=key: self._minimize(k))))
        bar.add(Node(f"window:{key}:close", Role.button, x + w - 36, y + 2, 32, TITLE_H - 4, desc="Close",
                     kind="win_close", on_click=(lambda k=key: self.close_app(k))))
        content = self._build_app(key, x, y + TITLE_H, w, h - TITLE_H)
        win.add(content)
        return win

    def _focus_window(self, key: str) -> None:
        if self.foreground != key:
            self.foreground = key
            self.recents.remove(key)
            self.recents.append(key)
            self.invalidate()

    def _minimize(self, key: str) -> None:
        self.minimized.add(key)
        visible = [k for k in self.recents if k in self.windows and k not in self.minimized]
        self.foreground = visible[-1] if visible else None

    def _taskbar(self, W: float, H: float) -> Node:
        bar = Node("sys:taskbar", Role.toolbar, 0, H - TASKBAR_H, W, TASKBAR_H, kind="taskbar")
        bar.add(Node("taskbar:start", Role.button, 4, H - TASKBAR_H + 4, 80, TASKBAR_H - 8, name="Apps",
                     kind="button", emphasis=1, on_click=self._toggle_start))
        x = 96
        for key in self.recents:
            if key not in self.windows:
                continue
            bar.add(Node(f"taskbar:app:{key}", Role.tab, x, H - TASKBAR_H + 4, 140, TASKBAR_H - 8,
                         name=self.apps[key].title, selected=key == self.foreground, kind="tab",
                         on_click=(lambda k=key: self.launch(k))))
            x += 146
        bar.add(Node("taskbar:clock", Role.text, W - 70, H - TASKBAR_H, 64, TASKBAR_H, name=self._time_text(),
                     kind="status_text"))
        if self.start_menu:
            mh = 40 * len(self.apps) + 8
            menu = bar.add(Node("taskbar:menu", Role.menu, 4, H - TASKBAR_H - mh, 240, mh, name="Apps", kind="menu"))
            for i, key in enumerate(sorted(self.apps, key=lambda k: self.apps[k].title.casefold())):
                menu.add(Node(f"taskbar:menu:{key}", Role.menu_item, 4, H - TASKBAR_H - mh + 4 + 40 * i, 240, 40,
                              name=self.apps[key].title, kind="menu_item", on_click=(lambda k=key: self.launch(k))))
        return bar

    def _toggle_start(self) -> None:
        self.start_menu = not self.start_menu

    # ------------------------------------------------------------ contract view
    def paint_order(self) -> list[Node]:
        out: list[Node] = []
        for root in self.scene():
            out.extend(root.walk())
        return out

    def _px_rect(self, n: Node) -> Optional[Rect]:
        x0, y0, x1, y1 = n.x, n.y, n.x + n.w, n.y + n.h
        if n.clip is not None:
            cx0, cy0, cx1, cy1 = n.clip
            x0, y0, x1, y1 = max(x0, cx0), max(y0, cy0), min(x1, cx1), min(y1, cy1)
        W, H = self.size
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, W), min(y1, H)
        if x1 - x0 < 1 or y1 - y0 < 1:
            return None
        px = self._px
        left, top, right, bottom = px(x0), px(y0), px(x1), px(y1)
        if right <= left or bottom <= top:
            return None
        return Rect.model_construct(left=left, top=top, right=right, bottom=bottom)

    def _px(self, dp: float) -> int:
        """The first pixel whose centre lies at or after ``dp``: exactly the pixels input maps back inside.

        Input converts pixel p to dp (p + 0.5) / scale, so p is inside [x0, x1) iff
        px(x0) <= p < px(x1). Plain rounding disagrees at fractional scales.
        """
        return math.ceil(dp * self.scale - 0.5)

    def elements(self) -> tuple[list[UIElement], dict[int, Node]]:
        """The scene as contract elements (ids in depth-first order) and the node behind each id."""
        elements: list[UIElement] = []
        nodes: dict[int, Node] = {}
        hide_ids = self.seed % 4 == 3  # some builds strip resource ids, as minified apps do

        def visit(n: Node, parent: Optional[int], app_key: str, window: str) -> None:
            rect = self._px_rect(n)
            if rect is None:
                return
            if n.key.startswith("page:"):
                app_key = n.key[5:].split("/", 1)[0]
            if n.kind == "window":
                window = n.name
            eid = len(elements)
            attrs = {"sim-key": n.key, "class": n.kind}
            app = self.apps.get(app_key)
            pkg = app.package if app else "com.handa.system"
            attrs["package"] = pkg
            if not hide_ids:
                attrs["resource-id"] = f"{pkg}:id/{n.key.split(':')[-1] if ':' in n.key else n.key}"
            states = ElementStates.model_construct(
                enabled=n.enabled, visible=True, focused=n.focused, selected=n.selected, checked=n.checked,
                clickable=n.clickable and n.enabled, editable=n.editable, scrollable=n.scrollable,
                password=n.password)
            value = "•" * len(n.value) if n.password else n.value
            el = UIElement.model_construct(id=eid, role=n.role, name=n.name, description=n.desc, value=value,
                                           hint=n.hint, bounds=rect, states=states, parent=parent, children=[],
                                           app=pkg, window=window, attrs=attrs)
            elements.append(el)
            nodes[eid] = n
            if parent is not None:
                elements[parent].children.append(eid)
            for c in n.children:
                visit(c, eid, app_key, window)

        for root in self.scene():
            visit(root, None, "", "")
        return elements, nodes

    def frame(self) -> ScreenFrame:
        W, H = self.size
        return ScreenFrame(width=self._px(W), height=self._px(H), scale_factor=self.scale,
                           orientation=Orientation.portrait if H >= W else Orientation.landscape)

    def state_digest(self) -> str:
        """A digest of the device and every app's state (not looks): equal digests, equal worlds."""
        state = {"foreground": self.foreground, "recents": self.recents, "windows": sorted(self.windows),
                 "minimized": sorted(self.minimized),
                 "apps": {k: _plain({n: v for n, v in vars(a).items() if n not in ("device", "style", "rng")})
                          for k, a in self.apps.items()}}
        return hashlib.blake2b(json.dumps(state, sort_keys=True, default=str).encode("utf-8", "replace"),
                               digest_size=12).hexdigest()

    def observe(self) -> tuple[Observation, dict[int, Node]]:
        elements, nodes = self.elements()
        W, H = self.size
        frame = self.frame()
        fg = self.apps[self.foreground] if self.foreground and not self.showing_recents else None
        window_bounds = None
        if fg is not None and self.form == "desktop" and self.foreground in self.windows:
            x, y, w, h = self.windows[self.foreground]
            window_bounds = Rect(left=self._px(x), top=self._px(y), right=self._px(x + w), bottom=self._px(y + h))
        elif fg is not None:
            window_bounds = Rect(left=0, top=self._px(STATUS_H), right=frame.width, bottom=self._px(H - NAV_H))
        obs = Observation.model_construct(
            platform=Platform.sim, screen=frame, elements=elements, app=fg.package if fg else "com.handa.launcher",
            window=fg.title if fg else ("Recents" if self.showing_recents else "Home"), window_bounds=window_bounds, timestamp=time.time(),
            device=f"sim-{self.form}-{self.seed}", warnings=[])
        obs.__pydantic_private__ = {"_screenshot_loader": None, "_screenshot": None, "_index": None}
        # the scene is rebuilt (not mutated) after input, so this snapshot renders the screen as observed
        scene = self.scene()
        obs.attach_screenshot(lambda: self.render(scene))
        return obs, nodes

    def render(self, scene: Optional[list[Node]] = None):
        from controllers.sim.render import render_scene
        return render_scene(self, scene)

    # ------------------------------------------------------------ input (logical dp)
    def hit(self, x: float, y: float) -> Optional[Node]:
        """The topmost node at (x, y) dp that reacts to input or blocks it.

        Compared in whole pixels with the same conversion as element bounds, so a
        pixel inside an element's bounds always reaches that element.
        """
        px, py = math.floor(x * self.scale), math.floor(y * self.scale)
        to_px = self._px
        for n in reversed(self.paint_order()):
            x0, y0, x1, y1 = n.x, n.y, n.x + n.w, n.y + n.h
            if n.clip is not None:
                x0, y0, x1, y1 = max(x0, n.clip[0]), max(y0, n.clip[1]), min(x1, n.clip[2]), min(y1, n.clip[3])
            if not (to_px(x0) <= px < to_px(x1) and to_px(y0) <= py < to_px(y1)):
                continue
            if n.on_click or n.on_point or n.editable or n.on_long_press or n.kind in BLOCKING_KINDS:
                return n
        return None

    def _app_key_of(self, node: Node) -> Optional[str]:
        """The app a node belongs to, from its namespaced key (``app:...``, ``page:app/...``, ``window:app...``)."""
        for key in self.apps:
            if node.key.startswith((f"{key}:", f"page:{key}/", f"window:{key}")):
                return key
        return None

    def _owner(self, node: Node) -> Optional[App]:
        key = self._app_key_of(node) or self.foreground
        return self.apps.get(key) if key else None

    def _after_input(self) -> None:
        self.actions_done += 1
        if self.actions_done % 7 == 0:
            self.clock += 1
        self.invalidate()

    def tap(self, x: float, y: float, count: int = 1, button: str = "left") -> str:
        node = self.hit(x, y)
        if self.start_menu and (node is None or not node.key.startswith("taskbar:")):
            self.start_menu = False
            self._after_input()
            return "closed the apps menu"
        if node is None:
            return "nothing there"
        if self.form == "desktop" and node.kind != "win_close":
            win_key = self._window_of(node)
            if win_key and win_key != self.foreground:
                self._focus_window(win_key)
        effect = self._activate(node, x, y, count, button)
        self._after_input()
        return effect

    def _window_of(self, node: Node) -> Optional[str]:
        key = self._app_key_of(node)
        return key if key in self.windows else None

    def _activate(self, node: Node, x: float, y: float, count: int, button: str) -> str:
        if not node.enabled:
            return f"{node.key} is disabled"
        if node.kind in ("scrim", "scrim_clear"):
            app = self._owner(node)
            if app is not None:
                app.close_overlay()
            return "dismissed overlay"
        if button == "right":
            if node.on_long_press:
                node.on_long_press()
                return "context menu"
            return "no context menu"
        if node.kind == "desk_icon":
            self._select_icon(node.rid)
            if count >= 2:
                self.launch(node.rid)
                return f"opened {node.rid}"
            return "selected icon"
        app = self._owner(node)
        if node.editable:
            if app is not None:
                app.focus = node.key
                app.select_all = False
            return f"focused {node.key}"
        if node.on_point is not None:
            fx = (x - node.x) / max(1.0, node.w)
            fy = (y - node.y) / max(1.0, node.h)
            node.on_point(fx, fy)
            if app is not None:
                app.focus = node.key
            return f"set {node.key}"
        if node.on_click is not None:
            for _ in range(count if node.kind not in ("app_icon", "button", "list_item") else 1):
                node.on_click()
            return f"clicked {node.key}"
        return "no effect"

    def long_press(self, x: float, y: float) -> str:
        node = self.hit(x, y)
        if node is None:
            return "nothing there"
        if node.on_long_press is not None:
            node.on_long_press()
            self._after_input()
            return f"long pressed {node.key}"
        return self.tap(x, y)

    def scroller_at(self, x: Optional[float], y: Optional[float]) -> Optional[tuple[App, Page, float]]:
        """The app page whose body scrolls at (x, y), or the foreground page."""
        self.scene()
        key = None
        if x is not None and y is not None:
            node = self.hit(x, y)
            if node is not None:
                owner = self._owner(node)
                key = owner.key if owner else None
        key = key or self.foreground
        if key is None or key not in self._viewports:
            return None
        page, content_h = self._viewports[key]
        return self.apps[key], page, content_h

    def _scroll_menu(self, direction: str, amount: float, x: Optional[float], y: Optional[float]) -> Optional[str]:
        """Scroll an open long menu under (x, y), or the foreground app's when no point is given."""
        for key, (page, _) in self._viewports.items():
            if x is None and key != self.foreground:
                continue
            for menu_key, (node, count, rows) in page.menus.items():
                if x is not None and not (node.x <= x < node.x + node.w and node.y <= y < node.y + node.h):
                    continue
                app = self.apps[key]
                step = max(1, round(amount * rows))
                before = int(app.scroll.get(f"menu:{menu_key}", 0))
                after = min(count - rows, max(0, before + (step if direction == "down" else -step)))
                app.scroll[f"menu:{menu_key}"] = after
                self._after_input()
                return f"scrolled the menu {after - before:+d} items" if after != before else "already at the end"
        return None

    def scroll(self, direction: str, amount: float, x: Optional[float] = None, y: Optional[float] = None) -> str:
        self.scene()
        if direction in ("up", "down"):
            effect = self._scroll_menu(direction, amount, x, y)
            if effect is not None:
                return effect
        found = self.scroller_at(x, y)
        if found is None:
            return "nothing to scroll"
        app, page, content_h = found
        view_h = page.body.h
        if direction in ("left", "right"):
            return "nothing scrolls sideways here"
        delta = amount * view_h * (1 if direction == "down" else -1)
        before = app.scroll.get(app.page, 0.0)
        after = min(max(0.0, content_h - view_h), max(0.0, before + delta))
        app.scroll[app.page] = after
        self._after_input()
        return f"scrolled {after - before:+.0f}dp" if after != before else "already at the end"

    def drag(self, x0: float, y0: float, x1: float, y1: float) -> str:
        node = self.hit(x0, y0)
        if node is not None and node.on_point is not None:
            node.on_point((x1 - node.x) / max(1.0, node.w), (y1 - node.y) / max(1.0, node.h))
            self._after_input()
            return f"dragged {node.key}"
        dy = y0 - y1
        if abs(dy) < 4:
            return "no movement"
        found = self.scroller_at(x0, y0)
        if found is None:
            return "nothing to scroll"
        _, page, _ = found
        return self.scroll("down" if dy > 0 else "up", abs(dy) / page.body.h, x0, y0)

    def focused_field(self) -> Optional[tuple[App, Node]]:
        if self.foreground is None:
            return None
        app = self.apps[self.foreground]
        for n in self.paint_order():
            if n.editable and n.key == app.focus:
                return app, n
        return None

    def type_text(self, text: str, clear: bool = False) -> str:
        found = self.focused_field()
        if found is None:
            return ""
        app, node = found
        new = text if (clear or app.select_all) else node.value + text
        app.select_all = False
        node.on_text(new)
        self._after_input()
        return f"typed into {node.key}"

    def submit(self) -> str:
        found = self.focused_field()
        if found is None:
            return "nothing to submit"
        _, node = found
        if node.on_submit is not None:
            node.on_submit()
            self._after_input()
            return f"submitted {node.key}"
        return "field has no submit"

    def key(self, keys: list[str]) -> str:
        chord = set(keys)
        app = self.apps.get(self.foreground) if self.foreground else None
        if chord == {"ctrl", "a"} and app is not None:
            app.select_all = True
            return "selected all"
        if len(keys) != 1:
            return "no effect"
        k = keys[0]
        if k in ("escape", "back"):
            self.back()
            return "back"
        if k == "enter":
            return self.submit()
        if k in ("backspace", "delete"):
            found = self.focused_field()
            if found is None:
                return "no focused field"
            app, node = found
            node.on_text("" if app.select_all else node.value[:-1])
            app.select_all = False
            self._after_input()
            return "deleted"
        if k == "tab" and app is not None:
            fields = [n.key for n in self.paint_order() if n.editable and self._owner(n) is app]
            if fields:
                i = fields.index(app.focus) + 1 if app.focus in fields else 0
                app.focus = fields[i % len(fields)]
                self._after_input()
                return f"focused {app.focus}"
            return "no field"
        if k == "app_switch":
            self.show_recents()
            return "recents"
        if k in ("page_down", "page_up"):
            return self.scroll("down" if k == "page_down" else "up", 0.9)
        if app is not None:
            for n in self.paint_order():
                if n.key == app.focus and n.on_key is not None and n.on_key(k):
                    self._after_input()
                    return f"key {k} on {n.key}"
        if len(k) == 1 and self.focused_field() is not None:
            return self.type_text(k)
        return "no effect"
