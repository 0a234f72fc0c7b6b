"""Mouse and keyboard on an X display: pyautogui for the mouse, xdotool for text and key chords.

pyautogui reads ``$DISPLAY`` once, when it is imported, and keeps that connection; ``bind_pyautogui`` sets the
variable first and re-points the module at another display when a process drives more than one. Its keyboard
is not used: it types ``<`` as ``>`` (the keycode's unshifted/shifted pair is resolved wrongly) and drops every
character outside ASCII. ``xdotool type`` maps each character to a keysym (a spare keycode is remapped for
ones the keymap lacks), so Korean and any other Unicode arrive as typed.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from typing import Optional, Sequence

from controllers.base import ControllerError, DeviceLost

# Handa key names -> X keysym names (xdotool key syntax).
KEYSYMS = {
    "enter": "Return", "tab": "Tab", "escape": "Escape", "backspace": "BackSpace", "delete": "Delete",
    "space": "space", "insert": "Insert", "up": "Up", "down": "Down", "left": "Left", "right": "Right",
    "home": "Home", "end": "End", "page_up": "Prior", "page_down": "Next", "volume_up": "XF86AudioRaiseVolume",
    "volume_down": "XF86AudioLowerVolume", "volume_mute": "XF86AudioMute", "power": "XF86PowerOff",
    "menu": "Menu", "search": "XF86Search", "camera": "XF86WebCam", "back": "XF86Back",
    "app_switch": "super+Tab", "print_screen": "Print", "caps_lock": "Caps_Lock",
    "ctrl": "ctrl", "alt": "alt", "shift": "shift", "meta": "super",
    **{f"f{i}": f"F{i}" for i in range(1, 13)},
}

WHEEL_STEP_PX = 53  # how far one wheel click scrolls in GTK 3 and Chromium at scale 1 (three lines)


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


def bind_pyautogui(display: str, failsafe: bool):
    """pyautogui connected to ``display`` (set before import; rebound if it was imported for another one)."""
    os.environ["DISPLAY"] = display
    try:
        import pyautogui
        from pyautogui import _pyautogui_x11 as backend
    except Exception as exc:  # Xlib raises its own errors when the display is gone at import time
        raise DeviceLost(f"cannot reach X display {display}: {exc}") from exc
    current = getattr(backend, "_display", None)
    if current is None or current.get_display_name() != display:
        from Xlib import display as xdisplay, error as xerror

        try:
            backend._display = xdisplay.Display(display)
        except (xerror.DisplayError, xerror.ConnectionClosedError, OSError) as exc:
            raise DeviceLost(f"cannot reach X display {display}: {exc}") from exc
        if current is not None:
            try:
                current.close()
            except Exception:
                pass
    pyautogui.FAILSAFE = failsafe
    pyautogui.PAUSE = 0.0  # the agent loop waits for the screen to settle; no blanket sleep after each call
    return pyautogui


class XInput:
    """Input on one display. Coordinates are physical root-window pixels."""

    def __init__(self, display: str, env: Optional[dict[str, str]] = None, failsafe: bool = False,
                 type_delay_ms: int = 6):
        if shutil.which("xdotool") is None:
            raise ControllerError("xdotool is not installed; on Debian/Ubuntu run: apt-get install xdotool "
                                  "(scripts/setup.sh does this)")
        self.display = display
        self.env = dict(env or os.environ, DISPLAY=display)
        self.type_delay_ms = type_delay_ms
        self.gui = bind_pyautogui(display, failsafe)
        self._failsafe = failsafe

    def _gui(self):
        # another controller in this process may have re-pointed pyautogui since
        return bind_pyautogui(self.display, self._failsafe)

    def _xdotool(self, *args: str, timeout: float = 30.0) -> None:
        try:
            proc = subprocess.run(["xdotool", *args], env=self.env, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise ControllerError(f"xdotool {args[0]} did not finish in {timeout:.0f} s") from exc
        if proc.returncode != 0:
            err = proc.stderr.decode("utf-8", "replace").strip()
            if "Can't open display" in err or "cannot open display" in err.lower():
                raise DeviceLost(f"the X display {self.display} is gone ({err})")
            raise ControllerError(f"xdotool {args[0]} failed: {err or proc.returncode}")

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
            self._xdotool("type", "--clearmodifiers", "--delay", str(self.type_delay_ms), "--", text,
                          timeout=30 + len(text) * self.type_delay_ms / 1000 * 4)

    def press(self, keys: Sequence[str]) -> None:
        """Press normalized Handa key names together as one chord."""
        self._xdotool("key", "--clearmodifiers", chord(keys))
