"""Top-level windows through python-xlib and EWMH: list, focus, raise, and the monitors' layout.

The ``ewmh`` package breaks on real windows and wmctrl misreports geometry, so the few EWMH properties needed
are read here directly. Geometry is the client area translated to root coordinates (physical pixels), the
same frame as AT-SPI screen extents and screenshots.
"""
from __future__ import annotations

import time
from typing import Optional

from pydantic import BaseModel

from controllers.base import DeviceLost
from controllers.elements import Rect


class WindowInfo(BaseModel):
    id: int
    title: str = ""
    pid: Optional[int] = None
    wm_class: str = ""
    bounds: Rect
    active: bool = False
    minimized: bool = False


# ISO 2022 designations that X compound text uses for CJK sets, and the codec of their 8-bit (EUC) form
_COMPOUND_94x94 = {b"C": "euc-kr", b"B": "euc-jp", b"A": "gb2312"}


def decode_compound_text(data: bytes) -> str:
    """Decode X COMPOUND_TEXT, which older clients (xterm, Motif) use for window titles.

    Handles ASCII and Latin-1 halves, the Korean, Japanese and Chinese 94x94 sets (ESC $ ( F / ESC $ ) F) and
    UTF-8 segments (ESC % G); anything else becomes U+FFFD rather than an error.
    """
    out: list[str] = []
    i, gl, gr = 0, "ascii", "latin-1"
    while i < len(data):
        b = data[i]
        if b == 0x1B:
            if data[i + 1:i + 3] == b"%G":  # UTF-8 until ESC % @
                end = data.find(b"\x1b%@", i + 3)
                end = len(data) if end < 0 else end
                out.append(data[i + 3:end].decode("utf-8", "replace"))
                i = end + 3
                continue
            if data[i + 1:i + 3] in (b"$(", b"$)") and i + 3 < len(data):
                codec = _COMPOUND_94x94.get(data[i + 3:i + 4])
                if data[i + 2:i + 3] == b"(":
                    gl = codec or "?"
                else:
                    gr = codec or "?"
                i += 4
                continue
            if data[i + 1:i + 2] in (b"(", b"-", b")") and i + 2 < len(data):
                final = data[i + 2:i + 3]
                if data[i + 1:i + 2] == b"(":
                    gl = "ascii" if final in (b"B", b"J") else "?"
                else:
                    gr = "latin-1" if final == b"A" else "?"
                i += 3
                continue
            out.append("\ufffd")
            i += 1
            continue
        half = gl if b < 0x80 else gr
        if half in ("ascii", "latin-1") or b in (0x09, 0x0A):
            out.append(chr(b) if b < 0x80 or half == "latin-1" else "\ufffd")
            i += 1
        elif half == "?":
            out.append("\ufffd")
            i += 1
        else:  # a two-byte character of a 94x94 set, as its EUC form
            pair = bytes([data[i] | 0x80, data[i + 1] | 0x80]) if i + 1 < len(data) else b""
            out.append(pair.decode(half, "replace") if pair else "\ufffd")
            i += 2
    return "".join(out)


class WindowManager:
    """One connection to an X display. Raises ``DeviceLost`` when the display cannot be reached."""

    def __init__(self, display: str):
        from Xlib import X, display as xdisplay, error as xerror

        self.name = display
        self._X = X
        self._xerror = xerror
        try:
            self.d = xdisplay.Display(display)
        except (xerror.DisplayError, xerror.ConnectionClosedError, OSError) as exc:
            raise DeviceLost(f"cannot reach X display {display}: {exc}") from exc
        self.root = self.d.screen().root
        self._atoms: dict[str, int] = {}

    def __enter__(self) -> "WindowManager":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.d.close()
        except Exception:
            pass

    def atom(self, name: str) -> int:
        if name not in self._atoms:
            self._atoms[name] = self.d.intern_atom(name)
        return self._atoms[name]

    def _prop(self, window, name: str):
        try:
            p = window.get_full_property(self.atom(name), self._X.AnyPropertyType)
        except (self._xerror.BadWindow, self._xerror.BadMatch):
            return None
        except self._xerror.ConnectionClosedError as exc:
            raise DeviceLost(f"the X display {self.name} closed: {exc}") from exc
        return None if p is None else p.value

    # ------------------------------------------------------------ reading
    def has_window_manager(self) -> bool:
        return self._prop(self.root, "_NET_SUPPORTING_WM_CHECK") is not None

    def screen_size(self) -> tuple[int, int]:
        s = self.d.screen()
        return s.width_in_pixels, s.height_in_pixels

    def monitors(self) -> list[Rect]:
        """Each monitor's rectangle in root pixels (one covering the screen when RandR says nothing)."""
        try:
            reply = self.root.xrandr_get_monitors(is_active=True)
            rects = [Rect(left=m.x, top=m.y, right=m.x + m.width_in_pixels, bottom=m.y + m.height_in_pixels)
                     for m in reply.monitors]
            # a monitor that covers two or more others is the output's own, standing behind declared ones
            rects = [r for r in rects if sum(1 for o in rects if o is not r and r.intersect(o) == o) < 2]
            if rects:
                return sorted(rects, key=lambda r: (r.left, r.top))
        except Exception:
            pass
        w, h = self.screen_size()
        return [Rect(left=0, top=0, right=w, bottom=h)]

    def root_text(self, name: str) -> str:
        """A text property of the root window ("" when absent)."""
        return self._text(self.root, name)

    def xft_dpi(self) -> Optional[float]:
        """The Xft.dpi X resource, which desktops set for HiDPI screens (96 is scale 1)."""
        value = self._prop(self.root, "RESOURCE_MANAGER")
        if isinstance(value, bytes):
            for line in value.decode("utf-8", "replace").splitlines():
                key, _, val = line.partition(":")
                if key.strip() == "Xft.dpi":
                    try:
                        return float(val.strip())
                    except ValueError:
                        return None
        return None

    def set_resource(self, key: str, value: str) -> None:
        """Set one X resource on the root window (kept with the others already there)."""
        from Xlib import Xatom

        current = self._prop(self.root, "RESOURCE_MANAGER")
        lines = [ln for ln in (current.decode("utf-8", "replace").splitlines() if isinstance(current, bytes) else [])
                 if ln.partition(":")[0].strip() != key]
        lines.append(f"{key}:\t{value}")
        self.root.change_property(self.atom("RESOURCE_MANAGER"), Xatom.STRING, 8,
                                  ("\n".join(lines) + "\n").encode())
        self.d.sync()

    def active_id(self) -> Optional[int]:
        value = self._prop(self.root, "_NET_ACTIVE_WINDOW")
        return int(value[0]) if value is not None and len(value) and value[0] else None

    def _text(self, window, name: str) -> str:
        try:
            p = window.get_full_property(self.atom(name), self._X.AnyPropertyType)
        except (self._xerror.BadWindow, self._xerror.BadMatch):
            return ""
        except self._xerror.ConnectionClosedError as exc:
            raise DeviceLost(f"the X display {self.name} closed: {exc}") from exc
        if p is None:
            return ""
        value = p.value
        if not isinstance(value, bytes):
            return str(value)
        if p.property_type == self.atom("COMPOUND_TEXT"):
            return decode_compound_text(value)
        if p.property_type == self._X.NONE or p.property_type == 31:  # 31: STRING, which is Latin-1
            return value.decode("latin-1")
        return value.decode("utf-8", "replace")

    def info(self, window_id: int, active: Optional[int] = None) -> Optional[WindowInfo]:
        win = self.d.create_resource_object("window", window_id)
        try:
            geom = win.get_geometry()
            pos = win.translate_coords(self.root, 0, 0)
        except (self._xerror.BadWindow, self._xerror.BadDrawable, self._xerror.BadMatch):
            return None  # closed while we looked
        except self._xerror.ConnectionClosedError as exc:
            raise DeviceLost(f"the X display {self.name} closed: {exc}") from exc
        left, top = -pos.x, -pos.y
        title = self._text(win, "_NET_WM_NAME") or self._text(win, "WM_NAME")
        pid = self._prop(win, "_NET_WM_PID")
        wm_class = self._prop(win, "WM_CLASS")
        if isinstance(wm_class, bytes):
            wm_class = wm_class.split(b"\0")[-2 if wm_class.endswith(b"\0") else -1].decode("utf-8", "replace")
        states = self._prop(win, "_NET_WM_STATE")
        hidden = states is not None and self.atom("_NET_WM_STATE_HIDDEN") in list(states)
        return WindowInfo(id=window_id, title=title, pid=int(pid[0]) if pid is not None and len(pid) else None,
                          wm_class=wm_class or "", active=window_id == active, minimized=hidden,
                          bounds=Rect(left=left, top=top, right=left + geom.width, bottom=top + geom.height))

    def windows(self) -> list[WindowInfo]:
        """Managed top-level windows, bottom to top of the stack."""
        ids = self._prop(self.root, "_NET_CLIENT_LIST_STACKING")
        if ids is None:
            ids = self._prop(self.root, "_NET_CLIENT_LIST")
        if ids is None:  # no window manager: the mapped children of the root
            try:
                ids = [c.id for c in self.root.query_tree().children
                       if c.get_attributes().map_state == self._X.IsViewable]
            except self._xerror.ConnectionClosedError as exc:
                raise DeviceLost(f"the X display {self.name} closed: {exc}") from exc
        active = self.active_id()
        out = []
        for wid in ids:
            info = self.info(int(wid), active)
            if info is not None:
                out.append(info)
        return out

    # ------------------------------------------------------------ acting
    def focus(self, window_id: int, timeout: float = 2.0) -> bool:
        """Activate and raise a window the way a pager does; True once the window manager reports it active."""
        from Xlib import protocol

        win = self.d.create_resource_object("window", window_id)
        data = [2, self._X.CurrentTime, 0, 0, 0]  # source 2: a pager, which window managers obey
        event = protocol.event.ClientMessage(window=win, client_type=self.atom("_NET_ACTIVE_WINDOW"),
                                             data=(32, data))
        mask = self._X.SubstructureRedirectMask | self._X.SubstructureNotifyMask
        try:
            self.root.send_event(event, event_mask=mask)
            win.configure(stack_mode=self._X.Above)
            self.d.flush()
        except self._xerror.ConnectionClosedError as exc:
            raise DeviceLost(f"the X display {self.name} closed: {exc}") from exc
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.active_id() == window_id:
                return True
            time.sleep(0.02)
        if not self.has_window_manager():  # nobody to ask: take the focus directly
            win.set_input_focus(self._X.RevertToParent, self._X.CurrentTime)
            self.d.sync()
            return True
        return False
