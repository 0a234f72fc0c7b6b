"""Mouse and keyboard on an X display: pyautogui for the mouse, XTest key events for text and chords.

pyautogui reads ``$DISPLAY`` once, when it is imported, and keeps that connection; ``bind_pyautogui`` sets the
variable first and re-points the module at another display when a process drives more than one. Its keyboard
is not used: it types ``<`` as ``>`` (it adds Shift from a US-layout table instead of reading the keymap) and
drops every character outside ASCII. ``xdotool type`` handles Unicode by remapping one scratch keycode per
character, which races with the app reading the keymap: measured here, 2-5 of 6 runs of a mixed Korean line
lost characters in xterm. ``Keyboard`` instead reads the keymap once, types every character it holds with its
own keycode (and Shift where the keymap says so), and maps the rest onto the keymap's empty keycodes a batch at
a time, with one keymap change per batch and a pause before the next, so no key event is read under a
mapping that has already moved on.
"""
from __future__ import annotations

import os
import time
from typing import Optional, Sequence

from controllers.base import ControllerError, DeviceLost

# Handa key names -> X keysym names ("+" joins a chord).
KEYSYMS = {
    "enter": "Return", "tab": "Tab", "escape": "Escape", "backspace": "BackSpace", "delete": "Delete",
    "space": "space", "insert": "Insert", "up": "Up", "down": "Down", "left": "Left", "right": "Right",
    "home": "Home", "end": "End", "page_up": "Prior", "page_down": "Next", "volume_up": "XF86AudioRaiseVolume",
    "volume_down": "XF86AudioLowerVolume", "volume_mute": "XF86AudioMute", "power": "XF86PowerOff",
    "menu": "Menu", "search": "XF86Search", "camera": "XF86WebCam", "back": "XF86Back",
    "app_switch": "Super_L+Tab", "print_screen": "Print", "caps_lock": "Caps_Lock",
    "ctrl": "Control_L", "alt": "Alt_L", "shift": "Shift_L", "meta": "Super_L",
    **{f"f{i}": f"F{i}" for i in range(1, 13)},
}

WHEEL_STEP_PX = 53  # how far one wheel click scrolls in GTK 3 and Chromium at scale 1 (three lines)


# XF86 keysyms python-xlib cannot look up by name (its XF86 group is not loaded by default)
XF86_KEYSYMS = {
    "XF86AudioRaiseVolume": 0x1008FF13, "XF86AudioLowerVolume": 0x1008FF11, "XF86AudioMute": 0x1008FF12,
    "XF86PowerOff": 0x1008FF2A, "XF86Search": 0x1008FF1B, "XF86WebCam": 0x1008FF8F, "XF86Back": 0x1008FF26,
}


def keysym(key: str) -> str:
    """The X keysym name for a normalized Handa key name or a single character."""
    if key in KEYSYMS:
        return KEYSYMS[key]
    if len(key) == 1:
        if key.isascii() and key.isalnum():
            return key
        return f"U{ord(key):04X}"  # XStringToKeysym's Unicode form, for punctuation and any script
    raise ValueError(f"no keysym for key {key!r}")


def chord(keys: Sequence[str]) -> str:
    return "+".join(keysym(k) for k in keys)


def bind_pyautogui(display: str, failsafe: bool, connection=None):
    """pyautogui driving ``display``: ``$DISPLAY`` set before the import, then pointed at ``connection``.

    pyautogui keeps one module-wide Xlib connection, opened at import. Each ``XInput`` owns a connection of its
    own and points pyautogui at it before every call, so two desktops in one process (or a new X server that
    reuses a closed one's display number) never share a stale connection.
    """
    before = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = display  # pyautogui (and mouseinfo) connect at import time
    try:
        import pyautogui
        from pyautogui import _pyautogui_x11 as backend
    except Exception as exc:  # Xlib raises its own errors when the display is gone at import time
        raise DeviceLost(f"cannot reach X display {display}: {exc}") from exc
    finally:  # the rest of the process keeps its own idea of the display
        if before is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = before
    if connection is not None:
        backend._display = connection
    pyautogui.FAILSAFE = failsafe
    pyautogui.PAUSE = 0.0  # the agent loop waits for the screen to settle; no blanket sleep after each call
    return pyautogui


def char_keysym(ch: str) -> int:
    """The X keysym of a character: Latin-1 code points are their own keysym, the rest live at 0x01000000 + cp."""
    cp = ord(ch)
    if ch == "\n" or ch == "\r":
        return 0xFF0D  # Return
    if ch == "\t":
        return 0xFF09  # Tab
    if 0x20 <= cp <= 0x7E or 0xA0 <= cp <= 0xFF:
        return cp
    return 0x01000000 + cp


class Keyboard:
    """XTest typing that reads the display's keymap (see the module docstring)."""

    BATCH_PAUSE_S = 0.08  # between two remaps of the spare keycodes, so the app has read every earlier key
    KEY_GAP_S = 0.002

    def __init__(self, display: str):
        from Xlib import X, XK, display as xdisplay, error as xerror
        from Xlib.ext import xtest

        self._X, self._XK, self._xtest, self._xerror = X, XK, xtest, xerror
        self.name = display
        try:
            self.d = xdisplay.Display(display)
        except (xerror.DisplayError, xerror.ConnectionClosedError, OSError) as exc:
            raise DeviceLost(f"cannot reach X display {display}: {exc}") from exc
        if not self.d.has_extension("XTEST"):
            raise ControllerError(f"the X server on {display} has no XTEST extension: input cannot be sent")
        self._load_keymap()

    def _load_keymap(self) -> None:
        info = self.d.display.info
        self.min_code, self.max_code = info.min_keycode, info.max_keycode
        rows = self.d.get_keyboard_mapping(self.min_code, self.max_code - self.min_code + 1)
        self.width = len(rows[0]) if rows else 2
        self.where: dict[int, tuple[int, bool]] = {}  # keysym -> (keycode, needs shift)
        self.spare: list[int] = []
        for i, row in enumerate(rows):
            code = self.min_code + i
            if not any(row):
                if code > 8:  # some toolkits ignore keycode 8
                    self.spare.append(code)
                continue
            for level in (0, 1):
                if level < len(row) and row[level] and row[level] not in self.where:
                    self.where[row[level]] = (code, level == 1)
        shift = self.where.get(self._XK.string_to_keysym("Shift_L"))
        self.shift_code = shift[0] if shift else None
        self._mapped: dict[int, int] = {}  # spare keycode -> keysym it holds now

    def _guard(self, fn, *args):
        try:
            return fn(*args)
        except (self._xerror.ConnectionClosedError, BrokenPipeError, ConnectionError) as exc:
            raise DeviceLost(f"the X display {self.name} is gone: {exc}") from exc

    def _tap(self, code: int, shift: bool = False) -> None:
        X, fake = self._X, self._xtest.fake_input
        if shift and self.shift_code:
            fake(self.d, X.KeyPress, self.shift_code)
        fake(self.d, X.KeyPress, code)
        fake(self.d, X.KeyRelease, code)
        if shift and self.shift_code:
            fake(self.d, X.KeyRelease, self.shift_code)

    def _map_spares(self, keysyms: list[int]) -> dict[int, int]:
        """Put ``keysyms`` on spare keycodes (one keymap change) and return keysym -> keycode."""
        placed, changes = {}, []
        free = [c for c in self.spare if self._mapped.get(c) not in keysyms]
        held = {ks: c for c, ks in self._mapped.items()}
        for ks in keysyms:
            if ks in held:
                placed[ks] = held[ks]
                continue
            code = free.pop(0)
            placed[ks] = code
            changes.append((code, ks))
        for code, ks in changes:
            self.d.change_keyboard_mapping(code, [(ks,) * self.width])
            self._mapped[code] = ks
        if changes:
            self.d.sync()
            time.sleep(0.02)  # clients refresh their keymap on MappingNotify before our key events arrive
        return placed

    def type(self, text: str) -> None:
        if not self.spare and any(char_keysym(c) not in self.where for c in text):
            raise ControllerError("the keymap has no free keycode to type characters it lacks")
        batch: list[str] = []
        missing: list[int] = []
        for ch in text:
            ks = char_keysym(ch)
            if ks not in self.where and ks not in missing:
                if len(missing) == len(self.spare):
                    self._guard(self._type_batch, batch, missing)
                    time.sleep(self.BATCH_PAUSE_S)
                    batch, missing = [], []
                missing.append(ks)
            batch.append(ch)
        if batch:
            self._guard(self._type_batch, batch, missing)
        if self._mapped:  # give the spare keycodes back once the app has read the last key
            time.sleep(self.BATCH_PAUSE_S)
            self._guard(self._restore)

    def _restore(self) -> None:
        for code in self._mapped:
            self.d.change_keyboard_mapping(code, [(0,) * self.width])
        self._mapped.clear()
        self.d.sync()

    def _type_batch(self, chars: list[str], missing: list[int]) -> None:
        placed = self._map_spares(missing) if missing else {}
        for ch in chars:
            ks = char_keysym(ch)
            if ks in self.where:
                code, shift = self.where[ks]
                self._tap(code, shift)
            else:
                self._tap(placed[ks])
            self.d.sync()
            time.sleep(self.KEY_GAP_S)

    def press(self, keysym_names: Sequence[str]) -> None:
        """Hold the keys down in order, then release them in reverse: one chord."""
        codes: list[tuple[int, bool]] = []
        need: list[int] = []
        syms = []
        for name in keysym_names:
            ks = XF86_KEYSYMS.get(name) or self._XK.string_to_keysym(name)
            if not ks and name.startswith("U") and len(name) > 1:
                ks = char_keysym(chr(int(name[1:], 16)))
            if not ks:
                raise ValueError(f"unknown key {name!r}")
            syms.append(ks)
            if ks not in self.where and ks not in need:
                need.append(ks)
        placed = self._guard(self._map_spares, need) if need else {}
        for ks in syms:
            codes.append(self.where[ks] if ks in self.where else (placed[ks], False))
        X, fake = self._X, self._xtest.fake_input

        def chord():
            shift = any(s for _, s in codes) and self.shift_code
            if shift:
                fake(self.d, X.KeyPress, self.shift_code)
            for code, _ in codes:
                fake(self.d, X.KeyPress, code)
            for code, _ in reversed(codes):
                fake(self.d, X.KeyRelease, code)
            if shift:
                fake(self.d, X.KeyRelease, self.shift_code)
            self.d.sync()

        self._guard(chord)
        if self._mapped:
            time.sleep(self.BATCH_PAUSE_S)
            self._guard(self._restore)

    def close(self) -> None:
        try:
            if self._mapped:
                self._restore()
            self.d.close()
        except Exception:
            pass


class XInput:
    """Input on one display. Coordinates are physical root-window pixels."""

    def __init__(self, display: str, env: Optional[dict[str, str]] = None, failsafe: bool = False):
        from Xlib import display as xdisplay, error as xerror

        self.display = display
        self.env = dict(env or os.environ, DISPLAY=display)
        self._failsafe = failsafe
        try:
            self._connection = xdisplay.Display(display)
        except (xerror.DisplayError, xerror.ConnectionClosedError, OSError) as exc:
            raise DeviceLost(f"cannot reach X display {display}: {exc}") from exc
        self.keyboard = Keyboard(display)

    def _gui(self):
        return bind_pyautogui(self.display, self._failsafe, self._connection)

    def _mouse(self, fn, *args, **kwargs):
        from Xlib import error as xerror

        try:
            return fn(*args, **kwargs)
        except (xerror.ConnectionClosedError, BrokenPipeError, ConnectionError) as exc:
            raise DeviceLost(f"the X display {self.display} is gone: {exc}") from exc

    # ------------------------------------------------------------ mouse
    def click(self, x: int, y: int, button: str = "left", count: int = 1) -> None:
        gui = self._gui()
        self._mouse(gui.click, x, y, clicks=count, interval=0.04, button=button)

    def long_press(self, x: int, y: int, seconds: float) -> None:
        gui = self._gui()
        self._mouse(gui.moveTo, x, y)
        self._mouse(gui.mouseDown, x, y)
        try:
            time.sleep(seconds)
        finally:
            self._mouse(gui.mouseUp, x, y)

    def drag(self, x0: int, y0: int, x1: int, y1: int, seconds: float, steps: int = 12) -> None:
        """Press at the start, move in small steps (apps need motion events to start a drag), release."""
        gui = self._gui()
        self._mouse(gui.moveTo, x0, y0)
        self._mouse(gui.mouseDown, x0, y0)
        try:
            for i in range(1, steps + 1):
                f = i / steps
                self._mouse(gui.moveTo, round(x0 + (x1 - x0) * f), round(y0 + (y1 - y0) * f))
                time.sleep(seconds / steps)
        finally:
            self._mouse(gui.mouseUp, x1, y1)

    def scroll(self, direction: str, clicks: int, x: Optional[int] = None, y: Optional[int] = None) -> None:
        """Wheel clicks at a point (the pointer's place when none): ``down`` reveals what is below."""
        gui = self._gui()
        if x is not None and y is not None:
            self._mouse(gui.moveTo, x, y)
        clicks = max(1, int(clicks))
        if direction in ("up", "down"):
            self._mouse(gui.scroll, clicks if direction == "up" else -clicks)
        else:
            self._mouse(gui.hscroll, clicks if direction == "right" else -clicks)

    def position(self) -> tuple[int, int]:
        p = self._mouse(self._gui().position)
        return int(p[0]), int(p[1])

    # ------------------------------------------------------------ keyboard
    def type_text(self, text: str) -> None:
        """Type any Unicode text into the focused widget."""
        if text:
            self.keyboard.type(text)

    def press(self, keys: Sequence[str]) -> None:
        """Press normalized Handa key names together as one chord."""
        names: list[str] = []
        for k in keys:
            names.extend(keysym(k).split("+"))  # app_switch is itself a chord
        self.keyboard.press(names)

    def close(self) -> None:
        self.keyboard.close()
        try:
            self._connection.close()
        except Exception:
            pass
