"""The Linux (X11) desktop behind the controller protocol: AT-SPI tree, mss screenshots, pyautogui and XTest input.

Targets resolve against the last observation, through the coordinate contract (``controllers.coords``): element
centres and normalized points become physical root-window pixels once, and points off the screen are refused.
When no accessibility bus can be reached the controller still works, screenshot-only, and says so in every
observation's warnings.
"""
from __future__ import annotations

import shlex
import time
from pathlib import Path
from typing import Any, Optional

from controllers.actions import TypeText
from controllers.base import ActionResult, BaseController, ControllerError, DeviceLost, type_target
from controllers.coords import PixelPoint, TargetError, resolve_target
from controllers.desktop.input import WHEEL_STEP_PX, XInput
from controllers.desktop.session import DesktopSession, SessionError
from controllers.desktop.windows import WindowInfo, WindowManager
from controllers.elements import Observation, Platform, Rect, ScreenFrame
from controllers.selectors import find

DEFAULT_MAX_NODES = 1000


class DesktopController(BaseController):
    """Drive one X display.

    ``session`` is a ``DesktopSession`` (attached or virtual); the controller never stops it, its owner does.
    ``failsafe`` is pyautogui's: moving the mouse into a screen corner aborts the action (a person's emergency
    brake on their own display). ``max_nodes`` caps the tree (see ``controllers.desktop.atspi`` for the policy).
    """

    platform = "desktop"
    settle_interval = 0.06

    def __init__(self, session: DesktopSession, *, failsafe: bool = False, max_nodes: int = DEFAULT_MAX_NODES,
                 tree: bool = True, allow_launch: bool = True):
        self.session = session
        self.display = session.display
        self.max_nodes = max_nodes
        self.allow_launch = allow_launch
        self.failsafe = failsafe
        self.input = XInput(session.display, session.env, failsafe=failsafe)
        self._wm = WindowManager(session.display)
        self._screen = session.screen()
        self._grabber = None
        self._reader = None
        self._tree_error: Optional[str] = None
        self._last: Optional[Observation] = None
        self.closed = False
        if tree:
            self._connect_tree()
        else:
            self._tree_error = "accessibility tree turned off"

    # ------------------------------------------------------------ plumbing
    def _connect_tree(self) -> None:
        from controllers.desktop.atspi import AtspiError, AtspiReader, a11y_bus_address

        address = self.session.a11y_address
        try:
            if address is None:
                try:
                    address = a11y_bus_address(self.session.env.get("DBUS_SESSION_BUS_ADDRESS"))
                except AtspiError:
                    # over ssh there is often no session bus; the launcher also publishes its bus on the root window
                    address = self._wm.root_text("AT_SPI_BUS") or None
                    if address is None:
                        raise
            self._reader = AtspiReader(address)
        except (AtspiError, OSError) as exc:
            self._reader = None
            self._tree_error = f"no accessibility tree ({exc}); observing screenshots only"

    @property
    def tree_available(self) -> bool:
        """Whether observations carry the accessibility tree (False: screenshot-only)."""
        return self._reader is not None

    @property
    def screen(self) -> ScreenFrame:
        return self._screen

    def _grab(self):
        """The screen now, as a PIL image (mss: ~2 ms for a full HD screen)."""
        import mss
        from PIL import Image

        try:
            if self._grabber is None:
                self._grabber = mss.MSS(display=self.display)
            shot = self._grabber.grab(self._grabber.monitors[0])
        except Exception as exc:  # mss raises ScreenShotError, or Xlib's errors when the server vanished
            if self._grabber is not None:
                try:
                    self._grabber.close()
                except Exception:
                    pass
            self._grabber = None
            if not self.session.alive():
                raise DeviceLost(f"the X display {self.display} is gone: {exc}") from exc
            raise ControllerError(f"screenshot failed: {exc}") from exc
        return Image.frombytes("RGB", shot.size, shot.bgra, "raw", "BGRX")

    def _check_open(self) -> None:
        if self.closed:
            raise DeviceLost("the desktop controller is closed")

    def windows(self) -> list[WindowInfo]:
        self._check_open()
        try:
            return self._wm.windows()
        except DeviceLost:
            raise
        except Exception as exc:
            if not self.session.alive():
                raise DeviceLost(f"the X display {self.display} is gone: {exc}") from exc
            raise ControllerError(f"cannot list windows: {exc}") from exc

    def active_window(self) -> Optional[WindowInfo]:
        return next((w for w in reversed(self.windows()) if w.active), None)

    # ------------------------------------------------------------ observing
    def observe(self) -> Observation:
        self._check_open()
        image = self._grab()  # first: a dead display must fail here, before the tree call waits on it
        windows = self.windows()
        active = next((w for w in reversed(windows) if w.active), None)
        warnings: list[str] = []
        elements: list = []
        if self._reader is None and self._tree_error is None:
            self._connect_tree()
        if self._reader is not None:
            from controllers.desktop.atspi import AtspiError

            try:
                front = [w.pid for w in reversed(windows) if w.pid and not w.minimized]
                dump = self._reader.dump(self._screen.rect, max_nodes=self.max_nodes,
                                         first=list(dict.fromkeys(front)))
                elements = drop_covered(to_physical(dump.elements, windows), windows)
                warnings.extend(dump.warnings)
            except AtspiError as exc:
                self._reader = None
                self._tree_error = None  # try to reconnect next time
                warnings.append(f"accessibility tree unavailable ({exc}); this observation is screenshot-only")
        elif self._tree_error:
            warnings.append(self._tree_error)
        obs = Observation(platform=Platform.desktop, screen=self._screen, elements=elements,
                          app=(active.wm_class if active else ""), window=(active.title if active else ""),
                          window_bounds=_clip(active.bounds, self._screen.rect) if active else None,
                          device=f"x11{self.display}", warnings=warnings)
        obs.attach_screenshot(lambda: image)
        self._last = obs
        return obs

    def wait_for_settle(self, timeout: float = 2.0) -> bool:
        """Return once two screenshots ``settle_interval`` apart differ in almost no pixels.

        A blinking caret changes a few dozen pixels forever, so "the same" allows 0.05% of them to differ.
        """
        from PIL import ImageChops

        deadline = time.monotonic() + timeout
        time.sleep(self.settle_interval)
        last = self._grab().convert("L").reduce(2)
        allowed = max(40, last.width * last.height // 2000)
        while time.monotonic() < deadline:
            time.sleep(self.settle_interval)
            now = self._grab().convert("L").reduce(2)
            diff = ImageChops.difference(now, last).point(lambda v: 255 if v > 24 else 0)
            if diff.histogram()[255] <= allowed:
                return True
            last = now
        return False

    # ------------------------------------------------------------ acting
    def _platform_failure(self, exc: Exception) -> ActionResult:
        """Input errors: the fail-safe's trip is a refusal; anything with the display gone is a lost device."""
        if type(exc).__name__ == "FailSafeException":
            return ActionResult(ok=False, error="stopped by the fail-safe: the mouse is in a screen corner")
        if not self.session.alive():
            raise DeviceLost(f"the X display {self.display} is gone: {exc}") from exc
        if isinstance(exc, ControllerError):
            return ActionResult(ok=False, error=str(exc))
        return ActionResult(ok=False, error=f"input failed: {type(exc).__name__}: {exc}")

    def _refuse_corner(self, *points: PixelPoint) -> None:
        """With the fail-safe on, a press in a screen corner would trip it and lock the mouse: refuse it first."""
        if not self.failsafe:
            return
        w, h = self._screen.width - 1, self._screen.height - 1
        for p in points:
            if (p.x, p.y) in ((0, 0), (w, 0), (0, h), (w, h)):
                raise TargetError(f"point ({p.x}, {p.y}) is a screen corner, which the fail-safe reserves for "
                                  "stopping Handa (use --no-failsafe to allow it)")

    def _dispatch(self, action: Any, obs: Observation) -> ActionResult:
        t = action.type
        inp = self.input
        if t in ("click", "long_press"):
            p, el = resolve_target(action.target, obs)
            self._refuse_corner(p)
            if t == "click":
                inp.click(p.x, p.y, button=action.button.value, count=action.count)
            else:
                inp.long_press(p.x, p.y, action.duration)
            return ActionResult(ok=True, points=[p], element_id=el.id if el else None)
        if t in ("drag", "swipe"):
            p0, el = resolve_target(action.start, obs)
            p1, _ = resolve_target(action.end, obs)
            self._refuse_corner(p0, p1)
            inp.drag(p0.x, p0.y, p1.x, p1.y, action.duration)
            return ActionResult(ok=True, points=[p0, p1], element_id=el.id if el else None)
        if t == "scroll":
            points, el, x, y = [], None, None, None
            span = self._screen.height if action.direction.value in ("up", "down") else self._screen.width
            if action.target is not None:
                p, el = resolve_target(action.target, obs)
                points, x, y = [p], p.x, p.y
                if el is not None:
                    span = el.bounds.height if action.direction.value in ("up", "down") else el.bounds.width
            elif obs.window_bounds is not None:  # the wheel goes where the pointer is: the foreground window
                x, y = obs.window_bounds.center
                points = [PixelPoint(x=x, y=y)]
            clicks = max(1, round(action.amount * span / (WHEEL_STEP_PX * self.session.scale)))
            inp.scroll(action.direction.value, clicks, x, y)
            return ActionResult(ok=True, points=points, element_id=el.id if el else None, info={"wheel_clicks": clicks})
        if t == "type":
            return self._type(action, obs)
        if t == "key":
            inp.press(action.keys)
            return ActionResult(ok=True)
        if t == "system":
            b = action.button.value
            if b == "home":
                self._show_desktop()
            else:
                inp.press({"back": ["alt", "left"], "recents": ["alt", "tab"], "enter": ["enter"]}[b])
            return ActionResult(ok=True, info={"effect": b})
        if t == "open_app":
            return self._open_app(action.app)
        if t == "wait":
            return self._wait(action)
        return ActionResult(ok=True, info={"effect": "terminal"})  # answer / done

    def _type(self, action: TypeText, obs: Observation) -> ActionResult:
        points, el, refusal = type_target(action, obs)
        if refusal is not None:
            return refusal
        if points:
            self.input.click(points[0].x, points[0].y)
            time.sleep(0.05)  # let the focus move before the first key
        if action.clear:
            self.input.press(["ctrl", "a"])
            self.input.press(["backspace"])
        self.input.type_text(action.text)
        if action.submit:
            self.input.press(["enter"])
        # a secret's length is a secret too
        return ActionResult(ok=True, points=points, element_id=el.id if el else None,
                            info={} if action.secret else {"chars": len(action.text)})

    def _show_desktop(self) -> None:
        from Xlib import X, protocol

        wm = self._wm
        event = protocol.event.ClientMessage(window=wm.root, client_type=wm.atom("_NET_SHOWING_DESKTOP"),
                                             data=(32, [1, 0, 0, 0, 0]))
        wm.root.send_event(event, event_mask=X.SubstructureRedirectMask | X.SubstructureNotifyMask)
        wm.d.flush()

    def focus(self, window_id: int) -> bool:
        self._check_open()
        return self._wm.focus(window_id)

    def _open_app(self, name: str) -> ActionResult:
        """Bring an open window forward by title or class; else start an installed app by its menu name."""
        wanted = name.strip().casefold()
        for win in reversed(self.windows()):
            if wanted and (wanted == win.wm_class.casefold() or wanted in win.title.casefold()):
                self.focus(win.id)
                return ActionResult(ok=True, info={"effect": f"focused window {win.title!r}"})
        if not self.allow_launch:
            return ActionResult(ok=False, error=f"no open window matches {name!r} and launching apps is off")
        entry = find_desktop_entry(name)
        if entry is None:
            return ActionResult(ok=False, error=f"no open window or installed app named {name!r}")
        try:
            app = self.session.launch(entry, timeout=30.0)
        except SessionError as exc:
            return ActionResult(ok=False, error=str(exc))
        return ActionResult(ok=True, info={"effect": f"launched {shlex.join(entry)}", "pid": app.pid})

    def _wait(self, action) -> ActionResult:
        if action.until is None:
            time.sleep(action.seconds)
            return ActionResult(ok=True, info={"effect": f"waited {action.seconds}s"})
        deadline = time.monotonic() + action.timeout
        while True:
            if find(self.observe(), action.until) is not None:
                return ActionResult(ok=True, info={"effect": "appeared"})
            if time.monotonic() >= deadline:
                return ActionResult(ok=False, error=f"timed out after {action.timeout:g}s: no element matches "
                                                    "the wait selector")
            time.sleep(0.2)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for thing in (self._reader, self._wm, self._grabber, self.input):
            if thing is not None:
                try:
                    thing.close()
                except Exception:
                    pass


def to_physical(elements: list, windows: list[WindowInfo]) -> list:
    """Bounds in physical pixels, whatever unit each app reports its AT-SPI extents in.

    GTK 3 on a HiDPI screen (GDK_SCALE=2) reports extents in logical units while its X window is measured in
    physical pixels. Each app's factor is read off its own top-level frame against the X window of the same
    process, and that app's bounds are multiplied by it (about the screen origin, as GTK divides them).
    """
    frames: dict[str, float] = {}
    by_pid = {w.pid: w for w in windows if w.pid}
    for e in elements:
        pid = e.attrs.get("pid")
        if e.parent is None and e.role.value == "window" and pid and pid not in frames and pid.isdigit():
            win = by_pid.get(int(pid))
            if win is not None and e.bounds.width > 0 and e.bounds.height > 0:
                fx, fy = win.bounds.width / e.bounds.width, win.bounds.height / e.bounds.height
                # only a clear, consistent ratio is a scale; decorations and clipping move it a little
                if abs(fx - fy) < 0.1 and fx >= 1.2:
                    frames[pid] = round(fx * 4) / 4
    if not frames:
        return elements
    out = []
    for e in elements:
        f = frames.get(e.attrs.get("pid", ""))
        if f is None:
            out.append(e)
            continue
        b = e.bounds
        out.append(e.model_copy(update={"bounds": Rect(left=round(b.left * f), top=round(b.top * f),
                                                       right=round(b.right * f), bottom=round(b.bottom * f)),
                                        "attrs": {**e.attrs, "extents-scale": f"{f:g}"}}))
    return out


def drop_covered(elements: list, windows: list[WindowInfo]) -> list:
    """Leave out elements hidden under another app's window (AT-SPI says SHOWING for covered windows too).

    ``windows`` is the stacking order, bottom to top. An element counts as covered when its centre lies inside a
    window of another process stacked above the topmost window of its own process that contains that centre.
    Children of a dropped element move up to the nearest ancestor that stays; ids are renumbered densely.
    """
    if len(windows) < 2:
        return elements
    covered: set[int] = set()
    for e in elements:
        pid = e.attrs.get("pid")
        if not pid or not pid.isdigit():
            continue
        cx, cy = e.bounds.center
        own = [i for i, w in enumerate(windows) if w.pid == int(pid) and w.bounds.contains(cx, cy)]
        if not own:
            continue
        if any(w.pid != int(pid) and not w.minimized and w.bounds.contains(cx, cy) for w in windows[own[-1] + 1:]):
            covered.add(e.id)
    if not covered:
        return elements
    parent_of = {e.id: e.parent for e in elements}

    def kept_ancestor(eid):
        p = parent_of.get(eid)
        while p is not None and p in covered:
            p = parent_of.get(p)
        return p

    kept = [e for e in elements if e.id not in covered]
    new_id = {e.id: i for i, e in enumerate(kept)}
    out = []
    for e in kept:
        parent = kept_ancestor(e.id)
        out.append(e.model_copy(update={"id": new_id[e.id], "parent": new_id.get(parent) if parent is not None else None,
                                        "children": []}))
    for e in out:
        if e.parent is not None:
            out[e.parent].children.append(e.id)
    return out


def _clip(rect: Rect, screen: Rect) -> Rect:
    return rect.intersect(screen) or rect


def desktop_dirs() -> list[Path]:
    """Where ``.desktop`` entries live, the user's first (XDG_DATA_HOME, then XDG_DATA_DIRS; flatpak and snap
    export theirs into these)."""
    import os

    home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local/share")
    data = os.environ.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share"
    roots = [home] + [d for d in data.split(":") if d]
    roots += ["/var/lib/flatpak/exports/share", "/var/lib/snapd/desktop"]
    return [Path(r) / "applications" for r in dict.fromkeys(roots)]


def find_desktop_entry(name: str, dirs=None) -> Optional[list[str]]:
    """The argv of the installed app whose menu name (any language), file name or program is ``name``.

    Entries are looked up as the XDG spec says: the first folder holding a desktop-file id wins, so a user's
    entry (or a ``Hidden=true`` one) overrides the system's. The Exec line is split like a shell would and its
    field codes (%u, %F, ...) dropped; it is run without a shell, so nothing in ``name`` is ever interpreted.
    ``Terminal=true`` apps run inside xterm.
    """
    wanted = name.strip().casefold()
    if not wanted:
        return None
    seen: set[str] = set()
    for folder in (desktop_dirs() if dirs is None else dirs):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.desktop")):
            if path.name in seen:
                continue
            seen.add(path.name)
            fields = _desktop_fields(path)
            exec_line = fields.get("Exec")
            if (not exec_line or "true" in (fields.get("NoDisplay"), fields.get("Hidden"))
                    or fields.get("Type", "Application") != "Application"):
                continue
            try:
                argv = [a for a in shlex.split(exec_line) if not (len(a) == 2 and a.startswith("%"))]
            except ValueError:
                continue
            if not argv:
                continue
            names = {v.casefold() for k, v in fields.items() if k == "Name" or k.startswith("Name[")}
            names |= {path.stem.casefold(), Path(argv[0]).name.casefold()}
            if wanted in names:
                return (["xterm", "-e", *argv] if fields.get("Terminal") == "true" else argv)
    return None


def _desktop_fields(path: Path) -> dict[str, str]:
    fields: dict[str, str] = {}
    section = ""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return fields
    for line in lines:
        line = line.strip()
        if line.startswith("["):
            section = line
            continue
        if section == "[Desktop Entry]" and "=" in line:
            key, _, value = line.partition("=")
            fields.setdefault(key.strip(), value.strip())
    return fields
