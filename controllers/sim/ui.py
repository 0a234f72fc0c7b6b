"""A tiny retained-mode UI toolkit for the simulated device.

Apps describe their current screen with a ``Page`` builder each time the device
is observed; the builder lays widgets out top-down in logical units (dp) and
produces ``Node`` trees with handlers. The device turns nodes into contract
elements (scaled to pixels) and routes input back to the handlers.
"""
from __future__ import annotations

from typing import Callable, Optional

from controllers.elements import Role
from controllers.sim.style import Style

Handler = Optional[Callable[..., None]]


class Node:
    __slots__ = (
        "key", "role", "name", "desc", "value", "hint", "x", "y", "w", "h", "children", "kind",
        "on_click", "on_long_press", "on_text", "on_submit", "on_point", "on_key",
        "checked", "selected", "enabled", "focused", "editable", "password", "scrollable", "clickable",
        "rid", "emphasis", "clip", "fraction",
    )

    def __init__(self, key: str, role: Role, x: float, y: float, w: float, h: float, *, name: str = "",
                 desc: str = "", value: str = "", hint: str = "", kind: str = "", on_click: Handler = None,
                 on_long_press: Handler = None, on_text: Handler = None, on_submit: Handler = None,
                 on_point: Handler = None, on_key: Handler = None, checked: Optional[bool] = None,
                 selected: bool = False, enabled: bool = True, editable: bool = False, password: bool = False,
                 scrollable: bool = False, clickable: Optional[bool] = None, rid: str = "", emphasis: int = 0,
                 fraction: float = 0.0):
        self.key, self.role, self.name, self.desc, self.value, self.hint = key, role, name, desc, value, hint
        self.x, self.y, self.w, self.h = x, y, w, h
        self.children: list[Node] = []
        self.kind = kind or role.value
        self.on_click, self.on_long_press, self.on_text = on_click, on_long_press, on_text
        self.on_submit, self.on_point, self.on_key = on_submit, on_point, on_key
        self.checked, self.selected, self.enabled, self.editable = checked, selected, enabled, editable
        self.focused = False
        self.password, self.scrollable = password, scrollable
        self.clickable = clickable if clickable is not None else bool(on_click or on_point or editable)
        self.rid = rid
        self.emphasis = emphasis  # 0 plain, 1 primary, 2 danger, 3 subtle
        self.clip: Optional[tuple[float, float, float, float]] = None
        self.fraction = fraction  # slider position / progress

    def add(self, child: "Node") -> "Node":
        self.children.append(child)
        return child

    def walk(self):
        yield self
        for c in self.children:
            yield from c.walk()


class Page:
    """Lays out one screen of an app inside a viewport.

    The header is fixed; the body scrolls by ``scroll`` dp. Widgets placed below
    the viewport exist in the app but are not on screen (like a RecyclerView),
    so they are dropped from the tree until scrolled into view.
    """

    def __init__(self, style: Style, app: str, page: str, x: float, y: float, w: float, h: float,
                 scroll: float = 0.0, focus: str = "", scrolls: Optional[dict[str, float]] = None):
        self.style, self.theme = style, style.theme
        self.app, self.page = app, page
        self.x, self.y, self.w, self.h = x, y, w, h
        self.scroll = scroll
        self.focus = focus
        self.scrolls = scrolls if scrolls is not None else {}  # the app's offsets, for scrollable menus
        self.menus: dict[str, tuple[Node, int, int]] = {}  # open scrollable menus: node, items, rows shown
        self.root = Node(f"page:{app}/{page}", Role.container, x, y, w, h, kind="page")
        self.body: Node = self.root
        self.body_top = y
        self.cursor = 0.0  # body content y
        self.overlays: list[Node] = []
        self.content_height = 0.0
        self.fixed: list[Node] = []
        self.bottom_inset = 0.0  # height of bars pinned to the bottom, which the body must not scroll under

    # ------------------------------------------------------------ structure
    def header(self, title: str, *, back: Handler = None, actions: list[tuple[str, str, Handler]] = ()) -> None:
        t = self.theme
        hh = t.header_height
        bar = self.root.add(Node(f"{self.app}:header", Role.toolbar, self.x, self.y, self.w, hh, kind="header"))
        left = self.x + 4
        if back is not None:
            bar.add(Node(f"{self.app}:back", Role.button, left, self.y + (hh - 40) / 2, 40, 40,
                         desc=self.style.label("back"), kind="icon_back", on_click=back))
            left += 44
        right = self.x + self.w - 4
        for key, label, handler in reversed(list(actions)):
            width = max(40, 9 * len(label) * t.font_scale + 16) if len(label) > 1 else 40
            right -= width
            bar.add(Node(key, Role.button, right, self.y + (hh - 36) / 2, width, 36, name=label,
                         kind="header_action", on_click=handler))
            right -= 4
        tw = right - left - 8
        tx = left + 8 if not self.style.header_center else self.x + (self.w - tw) / 2
        bar.add(Node(f"{self.app}:title", Role.heading, tx, self.y, max(40, tw), hh, name=title, kind="title"))
        self.body_top = self.y + hh
        self.body = self.root.add(Node(f"{self.app}:body", Role.list, self.x, self.body_top, self.w,
                                       self.y + self.h - self.body_top, kind="body"))

    def pin_top(self, h: float) -> float:
        """Reserve a fixed strip of ``h`` dp under the header (search bars, tabs); returns its top."""
        self._ensure_body()
        y = self.body_top
        self.body_top += h
        self.body.y += h
        self.body.h -= h
        return y

    def pin_bottom(self, h: float) -> float:
        """Reserve a fixed strip of ``h`` dp at the bottom (a composer, a footer); returns its top."""
        self._ensure_body()
        self.body.h -= h
        return self.body.y + self.body.h

    def _place(self, h: float, gap: float = 0.0) -> float:
        """Reserve ``h`` dp in the body and return its on-screen y."""
        y = self.body_top + self.cursor - self.scroll
        self.cursor += h + gap
        return y

    def _ensure_body(self) -> None:
        if self.body is self.root:  # no header: the whole page is the body
            self.body = self.root.add(Node(f"{self.app}:body", Role.list, self.x, self.y, self.w, self.h,
                                           kind="body"))

    def _add(self, node: Node) -> Node:
        self._ensure_body()
        return self.body.add(node)

    @property
    def pad(self) -> float:
        return self.theme.padding

    @property
    def row(self) -> float:
        return self.theme.row_height

    # ------------------------------------------------------------ widgets
    def spacer(self, h: float = 8) -> None:
        self._place(h)

    def section(self, label: str, key: str = "") -> Node:
        y = self._place(32)
        return self._add(Node(key or f"{self.app}:section:{label}", Role.heading, self.x + self.pad, y,
                              self.w - 2 * self.pad, 32, name=label, kind="section"))

    def text(self, label: str, key: str = "", *, size: str = "body", height: float = 0) -> Node:
        lines = max(1, label.count("\n") + 1)
        h = height or (22 * lines + 6 if size != "big" else 44)
        y = self._place(h)
        return self._add(Node(key or f"{self.app}:text:{label[:20]}", Role.text, self.x + self.pad, y,
                              self.w - 2 * self.pad, h, name=label, kind="text_big" if size == "big" else "text"))

    def switch(self, key: str, label: str, checked: bool, on_toggle: Handler, *, desc: str = "",
               enabled: bool = True) -> Node:
        y = self._place(self.row)
        row = self._add(Node(f"{key}:row", Role.container, self.x, y, self.w, self.row, kind="row"))
        row.add(Node(f"{key}:label", Role.text, self.x + self.pad, y, self.w - 2 * self.pad - 60, self.row,
                     name=label, kind="text"))
        return row.add(Node(key, Role.switch, self.x + self.w - self.pad - 52, y + (self.row - 30) / 2, 52, 30,
                            name=label, desc=desc, checked=checked, on_click=on_toggle, enabled=enabled,
                            kind="switch"))

    def checkbox(self, key: str, label: str, checked: bool, on_toggle: Handler) -> Node:
        y = self._place(self.row)
        return self._add(Node(key, Role.checkbox, self.x + self.pad, y, self.w - 2 * self.pad, self.row,
                              name=label, checked=checked, on_click=on_toggle, kind="checkbox"))

    def radios(self, key: str, label: str, options: list[tuple[str, str]], selected: str,
               on_select: Callable[[str], None]) -> list[Node]:
        self.section(label, key=f"{key}:label")
        nodes = []
        for value, text in options:
            y = self._place(self.row - 8)
            nodes.append(self._add(Node(f"{key}:{value}", Role.radio, self.x + self.pad, y,
                                        self.w - 2 * self.pad, self.row - 8, name=text,
                                        checked=value == selected, kind="radio",
                                        on_click=(lambda v=value: on_select(v)))))
        return nodes

    def row_item(self, key: str, title: str, on_click: Handler = None, *, subtitle: str = "",
                 on_long_press: Handler = None, role: Role = Role.list_item, selected: bool = False,
                 trailing: str = "", checked: Optional[bool] = None) -> Node:
        h = self.row + (18 if subtitle else 0)
        y = self._place(h)
        node = self._add(Node(key, role, self.x, y, self.w, h, name=title, desc=subtitle, value=trailing,
                              on_click=on_click, on_long_press=on_long_press, selected=selected,
                              checked=checked, kind="list_item"))
        return node

    def button(self, key: str, label: str, on_click: Handler, *, emphasis: int = 1, enabled: bool = True,
               align: str = "full", desc: str = "") -> Node:
        h = 44
        y = self._place(h + 8)
        width = self.w - 2 * self.pad if align == "full" else max(96, 10 * len(label) * self.theme.font_scale + 32)
        x = self.x + self.pad if align in ("full", "left") else self.x + self.w - self.pad - width
        return self._add(Node(key, Role.button, x, y + 4, width, h, name=label, desc=desc, on_click=on_click,
                              enabled=enabled, emphasis=emphasis, kind="button"))

    def buttons(self, items: list[tuple[str, str, Handler, int]]) -> list[Node]:
        """Side-by-side buttons: (key, label, handler, emphasis)."""
        h = 44
        y = self._place(h + 8)
        n = max(1, len(items))
        gap = 8
        width = (self.w - 2 * self.pad - gap * (n - 1)) / n
        out = []
        for i, (key, label, handler, emphasis) in enumerate(items):
            out.append(self._add(Node(key, Role.button, self.x + self.pad + i * (width + gap), y + 4, width, h,
                                      name=label, on_click=handler, emphasis=emphasis, kind="button")))
        return out

    def field(self, key: str, label: str, value: str, on_text: Callable[[str], None], *, hint: str = "",
              password: bool = False, on_submit: Handler = None, multiline: bool = False) -> Node:
        lh = 18
        y = self._place(lh)
        self._add(Node(f"{key}:label", Role.text, self.x + self.pad, y, self.w - 2 * self.pad, lh, name=label,
                       kind="caption"))
        h = 96 if multiline else 44
        y = self._place(h + 10)
        node = self._add(Node(key, Role.text_field, self.x + self.pad, y, self.w - 2 * self.pad, h, name=label,
                              value=value, hint=hint, on_text=on_text, on_submit=on_submit, editable=True,
                              password=password, kind="field_multi" if multiline else "field"))
        node.focused = self.focus == key
        return node

    def slider(self, key: str, label: str, value: int, lo: int, hi: int, on_set: Callable[[int], None]) -> Node:
        self.text(f"{label}", key=f"{key}:label")
        y = self._place(40)
        frac = (value - lo) / max(1, hi - lo)

        def on_point(fx: float, fy: float) -> None:
            on_set(int(round(lo + min(1.0, max(0.0, fx)) * (hi - lo))))

        def on_key(k: str) -> bool:
            step = {"right": 1, "up": 1, "left": -1, "down": -1, "page_up": 10, "page_down": -10}.get(k)
            if step is None:
                return False
            on_set(min(hi, max(lo, value + step)))
            return True

        node = self._add(Node(key, Role.slider, self.x + self.pad, y, self.w - 2 * self.pad, 40, name=label,
                              value=str(value), on_point=on_point, on_key=on_key, kind="slider", fraction=frac))
        node.focused = self.focus == key
        return node

    def dropdown(self, key: str, label: str, value: str, on_open: Handler, *, hint: str = "") -> Node:
        lh = 18
        y = self._place(lh)
        self._add(Node(f"{key}:label", Role.text, self.x + self.pad, y, self.w - 2 * self.pad, lh, name=label,
                       kind="caption"))
        y = self._place(54)
        return self._add(Node(key, Role.dropdown, self.x + self.pad, y, self.w - 2 * self.pad, 44, name=label,
                              value=value, hint=hint, on_click=on_open, kind="dropdown"))

    def tabs(self, key: str, items: list[tuple[str, str]], selected: str, on_select: Callable[[str], None]) -> list[Node]:
        y = self._place(44, 4)
        n = max(1, len(items))
        width = self.w / n
        bar = self._add(Node(f"{key}:bar", Role.container, self.x, y, self.w, 44, kind="tabbar"))
        return [bar.add(Node(f"{key}:{value}", Role.tab, self.x + i * width, y, width, 44, name=text,
                             selected=value == selected, kind="tab", on_click=(lambda v=value: on_select(v))))
                for i, (value, text) in enumerate(items)]

    def image(self, key: str, desc: str, h: float = 120) -> Node:
        y = self._place(h + 8)
        return self._add(Node(key, Role.image, self.x + self.pad, y, self.w - 2 * self.pad, h, desc=desc,
                              kind="image"))

    def banner(self, key: str, text: str, on_close: Handler) -> Node:
        """A distractor: a dismissible promotional banner."""
        y = self._place(56, 6)
        box = self._add(Node(key, Role.container, self.x + self.pad, y, self.w - 2 * self.pad, 56, kind="card"))
        box.add(Node(f"{key}:text", Role.text, self.x + self.pad + 10, y, self.w - 2 * self.pad - 60, 56,
                     name=text, kind="text"))
        box.add(Node(f"{key}:close", Role.button, self.x + self.w - self.pad - 44, y + 8, 40, 40,
                     desc=self.style.label("close"), on_click=on_close, kind="icon_close"))
        return box

    def fab(self, key: str, label: str, on_click: Handler) -> Node:
        """A floating action button pinned to the bottom-right of the viewport."""
        node = Node(key, Role.button, self.x + self.w - 72, self.y + self.h - 76, 56, 56, desc=label,
                    on_click=on_click, kind="fab")
        self.fixed.append(node)
        return node

    def bottom_bar(self, items: list[tuple[str, str, Handler, int]]) -> list[Node]:
        """Buttons pinned to the bottom of the viewport (e.g. Send, Checkout)."""
        h = 56
        bar = Node(f"{self.app}:bottom_bar", Role.toolbar, self.x, self.y + self.h - h, self.w, h, kind="bottom_bar")
        n = max(1, len(items))
        gap = 8
        width = (self.w - 2 * self.pad - gap * (n - 1)) / n
        out = []
        for i, (key, label, handler, emphasis) in enumerate(items):
            out.append(bar.add(Node(key, Role.button, self.x + self.pad + i * (width + gap), self.y + self.h - h + 6,
                                    width, 44, name=label, on_click=handler, emphasis=emphasis, kind="button")))
        self.fixed.append(bar)
        self.bottom_inset = max(self.bottom_inset, h)
        return out

    # ------------------------------------------------------------ overlays
    def dialog(self, key: str, title: str, message: str, buttons: list[tuple[str, str, Handler, int]],
               fields: list[tuple[str, str, str, Callable[[str], None]]] = ()) -> Node:
        """A modal dialog: a scrim over the page, a title, a message, fields and buttons."""
        w = min(self.w - 40, 420)
        h = 140 + 70 * len(fields)
        x = self.x + (self.w - w) / 2
        y = self.y + (self.h - h) / 2
        scrim = Node(f"{key}:scrim", Role.container, self.x, self.y, self.w, self.h, kind="scrim")
        box = scrim.add(Node(key, Role.dialog, x, y, w, h, name=title, kind="dialog"))
        box.add(Node(f"{key}:title", Role.heading, x + 20, y + 12, w - 40, 28, name=title, kind="title"))
        box.add(Node(f"{key}:message", Role.text, x + 20, y + 42, w - 40, 30, name=message, kind="text"))
        fy = y + 74
        for fkey, label, value, on_text in fields:
            f = box.add(Node(fkey, Role.text_field, x + 20, fy, w - 40, 44, name=label, value=value, hint=label,
                             on_text=on_text, editable=True, kind="field"))
            f.focused = self.focus == fkey
            fy += 60
        n = len(buttons)
        bw = min(120, (w - 40 - 8 * (n - 1)) / max(1, n))
        bx = x + w - 20 - n * bw - 8 * (n - 1)
        for i, (bkey, label, handler, emphasis) in enumerate(buttons):
            box.add(Node(bkey, Role.button, bx + i * (bw + 8), y + h - 56, bw, 40, name=label, on_click=handler,
                         emphasis=emphasis, kind="button"))
        self.overlays.append(scrim)
        return box

    def menu(self, key: str, items: list[tuple[str, str, Handler]], *, anchor: Optional[Node] = None,
             title: str = "") -> Node:
        """A popup menu (also used for dropdown lists) under ``anchor`` or centred."""
        ih = 44
        w = max(160, anchor.w if anchor is not None else min(self.w - 40, 280))
        h = ih * len(items) + 8
        if anchor is not None:
            x, y = anchor.x, anchor.y + anchor.h
            if y + h > self.y + self.h:
                y = max(self.y, anchor.y - h)
        else:
            x, y = self.x + (self.w - w) / 2, self.y + max(0, (self.h - h) / 2)
        h = min(h, self.y + self.h - y)
        scrim = Node(f"{key}:scrim", Role.container, self.x, self.y, self.w, self.h, kind="scrim_clear")
        box = scrim.add(Node(key, Role.menu, x, y, w, h, name=title, kind="menu"))
        rows = max(1, int((h - 8) // ih))
        first = 0
        if rows < len(items):  # too long for the screen: the menu scrolls, like a real dropdown list
            box.scrollable = True
            first = min(len(items) - rows, max(0, int(self.scrolls.get(f"menu:{key}", 0))))
            self.menus[key] = (box, len(items), rows)
        for slot, (ikey, label, handler) in enumerate(items[first:first + rows]):
            box.add(Node(ikey, Role.menu_item, x, y + 4 + slot * ih, w, ih, name=label, on_click=handler,
                         kind="menu_item"))
        self.overlays.append(scrim)
        return box

    # ------------------------------------------------------------ finish
    def finish(self) -> tuple[Node, float]:
        """Clip the body to its viewport; returns the root and the body's content height."""
        self.content_height = self.cursor
        if self.body is not self.root:
            self.body.h = max(0.0, self.body.h - self.bottom_inset)
            view_top, view_bottom = self.body.y, self.body.y + self.body.h
            overflow = self.content_height > self.body.h + 0.5
            self.body.scrollable = overflow
            self.body.clip = (self.body.x, view_top, self.body.x + self.body.w, view_bottom)
            self.body.children = [c for c in self.body.children if c.y + c.h > view_top and c.y < view_bottom]
            for c in self.body.children:
                for n in c.walk():
                    n.clip = self.body.clip
        for node in self.fixed:
            self.root.add(node)
        for node in self.overlays:
            self.root.add(node)
        return self.root, self.content_height
