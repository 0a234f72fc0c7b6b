"""An Android device behind the controller protocol, through the real ``uiautomator2`` client.

Connection. ``uiautomator2.connect(AdbClient(adb_host, adb_port).device(serial))``: never the module-global
``adbutils.adb`` (it reads its host and port once, at import). Every socket the adb client opens is bounded by
``io_timeout`` (adbutils' own default is 600 s and uiautomator2 ignores its ``http_timeout``), and the whole
connect by ``connect_timeout`` (uiautomator2 may wait up to 30 s for its device server to start).

Observing. ``dumpWindowHierarchy`` (JSON-RPC, called directly: uiautomator2's ``dump_hierarchy`` retries an
empty dump three times a second apart) parsed by ``controllers.android.hierarchy``, then ``takeScreenshot``:
the image is held by the observation, so its loader returns the screen as it was. The screen frame is the
screenshot's size (it follows rotation); the scale factor is ``wm density`` / 160 (else deviceInfo's
pixels per dp). ``app`` is the foreground package read off the dump (the topmost dialog's, else the app
window's; ``current_app()`` asks the window manager instead), ``window_bounds`` that window's bounds.

Acting. Targets resolve against the last observation through ``controllers.coords`` (points off the screen
are refused, never clamped). Taps, long presses, swipes and drags are direct JSON-RPC calls with pixel
coordinates (uiautomator2's helpers take values below 1 for fractions of the screen and pay two shell calls
for it). A double click is two taps; a right or middle click is refused (a touch screen has one "button":
use ``long_press`` for a context menu). ``scroll`` swipes inside the scrollable element at the target (its
nearest scrollable ancestor, else the largest scrollable element of the foreground window, else the window)
and holds still before lifting, so the content moves by the swipe and does not fling; ``down`` reveals what
is below (the finger moves up); ``amount`` is in heights of the target element, or of the screen. ``type``
taps the target to focus it, clears it (``clear_text``) when asked, sends the text with ``send_keys`` (the
clipboard path: any Unicode, Korean included) and presses enter for ``submit``. Keys are Android key codes;
a chord is one key plus modifiers (sent as a meta state). ``open_app`` takes a package, an app's name
(matched against ``pm list packages``, then against the launcher's labels on the home screen) or a URL
(``open_url``).

Faults. Any transport or RPC failure (adb errors, uiautomator2 errors, socket errors and timeouts, HTTP
errors, garbled replies) gets one reconnect (a new uiautomator2 connection) and one retry of the same call; a
second failure raises ``DeviceLost`` (or ``ControllerError`` when the device did answer, with an error of the
call itself). A malformed or empty dump is fetched once more, then the observation is screenshot-only with a
warning. ``execute()`` never raises for a bad action.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import re
import socket
import threading
import time
from typing import Any, Callable, Optional

import adbutils
import requests
import uiautomator2
from uiautomator2 import exceptions as u2e

from controllers.actions import SECRET_MASK, Scroll, TypeText
from controllers.android.hierarchy import HierarchyError, ParsedTree, parse_hierarchy
from controllers.base import ActionResult, BaseController, ControllerError, DeviceLost, type_target
from controllers.coords import PixelPoint, element_center, resolve_target
from controllers.elements import Observation, Orientation, Platform, Rect, Role, ScreenFrame, UIElement
from controllers.selectors import find

# failures of the transport or of the device server: one reconnect and retry, then DeviceLost
FAILURES: tuple[type[BaseException], ...] = (
    adbutils.AdbError, u2e.BaseException, OSError, http.client.HTTPException, requests.RequestException,
    json.JSONDecodeError, EOFError,
)
# the device server answered, with an error of the call itself: after the retry, a ControllerError
ANSWERED: tuple[type[BaseException], ...] = (u2e.RPCUnknownError, u2e.RPCStackOverflowError, u2e.NormalError)

# Android key codes (android.view.KeyEvent)
KEYCODES = {
    "enter": 66, "tab": 61, "escape": 111, "backspace": 67, "delete": 112, "space": 62, "insert": 124,
    "up": 19, "down": 20, "left": 21, "right": 22, "home": 3, "end": 123, "page_up": 92, "page_down": 93,
    "volume_up": 24, "volume_down": 25, "volume_mute": 164, "power": 26, "menu": 82, "search": 84,
    "camera": 27, "back": 4, "app_switch": 187, "print_screen": 120, "caps_lock": 115,
    **{f"f{i}": 130 + i for i in range(1, 13)},
    **{chr(c): 29 + c - ord("a") for c in range(ord("a"), ord("z") + 1)},
    **{str(d): 7 + d for d in range(10)},
    " ": 62, ",": 55, ".": 56, "`": 68, "-": 69, "=": 70, "[": 71, "]": 72, "\\": 73, ";": 74, "'": 75,
    "/": 76, "@": 77, "+": 81, "*": 17, "#": 18,
}
MODIFIER_KEYCODES = {"shift": 59, "ctrl": 113, "alt": 57, "meta": 117}
META_STATES = {"shift": 0x1 | 0x40, "ctrl": 0x1000 | 0x2000, "alt": 0x2 | 0x10, "meta": 0x10000 | 0x20000}
SHIFTED = {'~': '`', '!': '1', '$': '4', '%': '5', '^': '6', '&': '7', '(': '9', ')': '0', '_': '-',
           '{': '[', '}': ']', '|': '\\', ':': ';', '"': "'", '<': ',', '>': '.', '?': '/'}
SYSTEM_KEYS = {"back": "back", "home": "home", "recents": "recent", "enter": "enter"}
URL_RE = re.compile(r"^(https?|market|intent|tel|mailto|geo):", re.IGNORECASE)
PACKAGE_RE = re.compile(r"^[A-Za-z][\w]*(\.[A-Za-z_][\w]*)+$")


def _reason(exc: BaseException) -> str:
    # uiautomator2's RPC errors carry (message, params, stack trace): the params may hold typed text
    args = getattr(exc, "args", ())
    text = args[0] if len(args) > 1 and isinstance(args[0], str) else str(exc)
    text = text.strip().replace("\n", " ")
    if len(text) > 240:
        text = text[:237] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# ---------------------------------------------------------------- a bounded adb client


class _CappedSocket(socket.socket):
    """A socket whose timeout never exceeds ``cap`` (adbutils sets 600 s, or none, on its sockets)."""

    __slots__ = ()
    cap: float = 20.0

    def settimeout(self, value):  # noqa: D401 - socket API
        if value is None or value > self.cap:
            value = self.cap
        super().settimeout(value)


class BoundedAdbClient(adbutils.AdbClient):
    """``adbutils.AdbClient`` whose every connection (shells, syncs, the HTTP streams to uiautomator2's server)
    times out after ``io_timeout`` seconds of silence, whatever timeout adbutils or uiautomator2 ask for."""

    def __init__(self, host: str, port: int, io_timeout: float):
        super().__init__(host, port, socket_timeout=io_timeout)
        self.io_timeout = float(io_timeout)
        self._socket_class = type("CappedSocket", (_CappedSocket,), {"__slots__": (), "cap": self.io_timeout})

    def make_connection(self, timeout: Optional[float] = None):
        conn = super().make_connection(timeout=min(timeout or self.io_timeout, self.io_timeout))
        sock = conn.conn
        if type(sock) is socket.socket:
            sock.__class__ = self._socket_class
        sock.settimeout(self.io_timeout)
        return conn


# ---------------------------------------------------------------- the controller


class AndroidController(BaseController):
    """Drive one Android device (a phone, an emulator or Handa's simulated phone) over adb + uiautomator2.

    ``serial`` None: ``$ANDROID_SERIAL``, else the only device the adb server lists. ``connector`` (tests,
    benchmarks) replaces the connection: a zero-argument callable returning a connected
    ``uiautomator2.Device``-like object, called again to reconnect. ``expose_keys=False`` strips the sim's
    ``sim-key`` attributes, as ``SimController`` does.
    """

    platform = "android"
    settle_interval = 0.05
    focus_delay = 0.15       # after the tap that focuses a field, before the first character
    tap_interval = 0.04      # between the taps of a double click
    dump_depth = 50
    scroll_margin = 0.1      # of the scroll area's span kept free at each end of a swipe

    def __init__(self, serial: Optional[str] = None, *, adb_host: str = "127.0.0.1", adb_port: int = 5037,
                 connect_timeout: float = 45.0, io_timeout: float = 20.0, expose_keys: bool = True,
                 connector: Optional[Callable[[], Any]] = None):
        self.serial = serial
        self.adb_host = adb_host
        self.adb_port = int(adb_port)
        self.connect_timeout = float(connect_timeout)
        self.io_timeout = float(io_timeout)
        self.expose_keys = expose_keys
        self._connector = connector or self._connect_u2
        self._last: Optional[Observation] = None
        self._packages: Optional[list[str]] = None
        self.closed = False
        self.reconnects = 0
        try:
            self._d = self._open()
        except FAILURES as first:
            try:
                self._d = self._open()
            except FAILURES as second:
                raise DeviceLost(f"device {self._name()} cannot be reached through the adb server at "
                                 f"{adb_host}:{adb_port}: {_reason(second)} (first attempt: {_reason(first)})") \
                    from second
        self._scale, self._screen = self._read_facts()

    # ------------------------------------------------------------ connection
    def _name(self) -> str:
        return self.serial or "(default)"

    def _connect_u2(self):
        client = BoundedAdbClient(self.adb_host, self.adb_port, self.io_timeout)
        device = client.device(self.serial)  # no serial: $ANDROID_SERIAL, else the only device listed
        self.serial = device.serial
        return uiautomator2.connect(device)

    def _open(self):
        """A new connection, within ``connect_timeout`` (uiautomator2 may wait 30 s for its server)."""
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["device"] = self._connector()
            except BaseException as exc:  # handed to the caller
                box["error"] = exc

        worker = threading.Thread(target=run, name="handa-android-connect", daemon=True)
        worker.start()
        worker.join(self.connect_timeout)
        if worker.is_alive():
            raise TimeoutError(f"connecting took longer than {self.connect_timeout:g}s")
        if "error" in box:
            raise box["error"]
        return box["device"]

    def _call(self, what: str, fn: Callable[[Any], Any]) -> Any:
        """``fn(device)``; on a failure one reconnect and one retry, then ``DeviceLost``."""
        self._check_open()
        try:
            return fn(self._d)
        except FAILURES as exc:
            first = exc
        try:
            self._d = self._open()
            self.reconnects += 1
        except FAILURES as exc:
            raise DeviceLost(f"device {self._name()} is lost: {what} failed ({_reason(first)}) and reconnecting "
                             f"failed ({_reason(exc)})") from exc
        try:
            return fn(self._d)
        except ANSWERED as exc:
            raise ControllerError(f"device {self._name()}: {what} failed: {_reason(exc)}") from exc
        except FAILURES as exc:
            raise DeviceLost(f"device {self._name()} is lost: {what} failed twice, before and after reconnecting "
                             f"({_reason(first)}; then {_reason(exc)})") from exc

    def _rpc(self, method: str, *args: Any) -> Any:
        return self._call(f"{method} (JSON-RPC)", lambda d: getattr(d.jsonrpc, method)(*args))

    def _shell(self, cmd: list[str] | str, what: Optional[str] = None) -> str:
        """Output of a shell command (uiautomator2's ``shell``: it never raises for a failing command)."""
        name = what or (cmd if isinstance(cmd, str) else " ".join(cmd))
        return self._call(f"shell {name!r}", lambda d: d.shell(cmd, timeout=self.io_timeout).output)

    def _check_open(self) -> None:
        if self.closed:
            raise DeviceLost(f"the android controller for {self._name()} is closed")

    def close(self) -> None:
        """Forget the connection (uiautomator2's server stays up on the device for the next connection)."""
        self.closed = True
        self._d = None
        self._last = None

    # ------------------------------------------------------------ device facts
    def _read_facts(self) -> tuple[float, ScreenFrame]:
        """The scale factor (``wm density`` / 160, else deviceInfo's pixels per dp) and the screen now."""
        info = self._rpc("deviceInfo")
        info = info if isinstance(info, dict) else {}
        out = self._shell(["wm", "density"])
        m = re.search(r"Override density:\s*(\d+)", out) or re.search(r"Physical density:\s*(\d+)", out)
        scale = 1.0
        if m and int(m.group(1)) > 0:
            scale = int(m.group(1)) / 160
        else:
            try:
                scale = max(0.1, float(info["displayWidth"]) / float(info["displaySizeDpX"]))
            except (KeyError, TypeError, ValueError, ZeroDivisionError):
                pass
        out = self._shell(["wm", "size"])
        m = re.search(r"Override size:\s*(\d+)x(\d+)", out) or re.search(r"Physical size:\s*(\d+)x(\d+)", out)
        if m:
            w, h = int(m.group(1)), int(m.group(2))
            if int(info.get("displayRotation") or 0) % 2:
                w, h = h, w
        else:
            try:
                w, h = int(info["displayWidth"]), int(info["displayHeight"])
            except (KeyError, TypeError, ValueError):
                w, h = 1080, 2400  # corrected by the first screenshot
        return scale, _frame(w, h, scale)

    @property
    def screen(self) -> ScreenFrame:
        return self._screen

    @property
    def device(self) -> Any:
        """The uiautomator2 device object of the current connection."""
        self._check_open()
        return self._d

    def current_app(self) -> str:
        """The package of the focused window, from the window manager (``""`` when nothing has focus)."""
        def read(d) -> str:
            try:
                return d.adb_device.app_current().package
            except adbutils.AdbError as exc:
                if "focused app" in str(exc):
                    return ""
                raise
        return self._call("read the focused app", read) or ""

    def installed_packages(self, refresh: bool = False) -> list[str]:
        if self._packages is None or refresh:
            out = self._shell(["pm", "list", "packages"])
            self._packages = [line.split(":", 1)[1].strip() for line in out.splitlines()
                              if line.startswith("package:")]
        return self._packages

    # ------------------------------------------------------------ observing
    def _dump(self) -> str:
        xml = self._rpc("dumpWindowHierarchy", False, self.dump_depth)
        return xml if isinstance(xml, str) else ""

    @staticmethod
    def _try_parse(xml: str, screen: Rect) -> tuple[Optional[ParsedTree], str]:
        try:
            tree = parse_hierarchy(xml, screen)
        except HierarchyError as exc:
            return None, str(exc)
        return (tree, "") if tree.windows else (None, "the hierarchy dump has no windows")

    def _strip_keys(self, elements: list[UIElement]) -> None:
        """Without ``expose_keys`` every sim-only attribute goes; with it (the sim's experts), the sim's own
        role, name and value replace what the Android XML could carry of them."""
        for e in elements:
            role, name, value = (e.attrs.pop(k, None) for k in ("sim-role", "sim-name", "sim-value"))
            if not self.expose_keys:
                e.attrs.pop("sim-key", None)
                continue
            if role is not None:
                e.role = Role.parse(role)
            if name is not None:
                e.name = name
            if value is not None and not e.states.password:
                e.value = value

    def observe(self) -> Observation:
        self._check_open()
        xml = self._dump()
        image = self._call("take a screenshot", lambda d: d.screenshot())
        if image is not None and getattr(image, "size", None):
            self._screen = _frame(image.size[0], image.size[1], self._scale)
        screen = self._screen
        tree, problem = self._try_parse(xml, screen.rect)
        if tree is None:  # a bad or empty dump: once more, then screenshot-only
            tree, problem = self._try_parse(self._dump(), screen.rect)
        warnings = list(tree.warnings) if tree is not None else [f"{problem}; this observation is screenshot-only"]
        elements = tree.elements if tree is not None else []
        self._strip_keys(elements)
        app, window, window_bounds = "", "", None
        if tree is not None:
            app = tree.foreground
            fg = tree.foreground_window
            if fg is not None:
                window = fg.package if fg.kind == "app" else f"{fg.package} ({fg.kind})"
                window_bounds = fg.bounds
        else:
            try:
                app = window = self.current_app()
            except ControllerError as exc:
                if isinstance(exc, DeviceLost):
                    raise
        obs = Observation(platform=Platform.android, screen=screen, elements=elements, app=app, window=window,
                          window_bounds=window_bounds, device=f"android:{self._name()}", warnings=warnings)
        obs.attach_screenshot(lambda: image)
        self._last = obs
        return obs

    def _tree_digest(self) -> str:
        """What the screen shows, from a dump alone (no screenshot)."""
        xml = self._dump()
        try:
            tree = parse_hierarchy(xml, self._screen.rect)
        except HierarchyError:
            return "raw:" + hashlib.blake2b(xml.encode("utf-8", "replace"), digest_size=12).hexdigest()
        h = hashlib.blake2b(digest_size=12)
        for e in tree.elements:
            s, b = e.states, e.bounds
            h.update(f"{e.role.value}|{e.name}|{e.value}|{b.left},{b.top},{b.right},{b.bottom}|{int(s.checked or 0)}"
                     f"{int(s.selected)}{int(s.focused)}{int(s.enabled)}\n".encode())
        return h.hexdigest()

    def wait_for_settle(self, timeout: float = 2.0) -> bool:
        """Return True once two dumps ``settle_interval`` apart show the same tree (False at ``timeout``)."""
        deadline = time.monotonic() + timeout
        last = self._tree_digest()
        while time.monotonic() < deadline:
            time.sleep(self.settle_interval)
            now = self._tree_digest()
            if now == last:
                return True
            last = now
        return False

    def wait_idle(self, timeout: float = 2.0) -> bool:
        """Wait until the screen is still (the tree stops changing); False when it is still moving at ``timeout``."""
        return self.wait_for_settle(timeout)

    # ------------------------------------------------------------ acting
    def _platform_failure(self, exc: Exception) -> ActionResult:
        """A call the device answered with an error (after its retry) fails the action; anything else propagates."""
        if isinstance(exc, ControllerError):
            return ActionResult(ok=False, error=str(exc))
        raise exc

    def _tap(self, p: PixelPoint) -> None:
        if self._rpc("click", p.x, p.y) is False:
            raise ControllerError(f"the device refused the tap at ({p.x}, {p.y})")

    def _dispatch(self, action: Any, obs: Observation) -> ActionResult:
        t = action.type
        if t == "click":
            p, el = resolve_target(action.target, obs)
            if action.button.value != "left":
                return ActionResult(ok=False, points=[p], element_id=el.id if el else None,
                                    error=f"a {action.button.value} click does not exist on Android (a touch screen "
                                          "has no mouse buttons); use long_press for a context menu")
            for i in range(action.count):
                if i:
                    time.sleep(self.tap_interval)
                self._tap(p)
            return ActionResult(ok=True, points=[p], element_id=el.id if el else None,
                                info={"taps": action.count})
        if t == "long_press":
            p, el = resolve_target(action.target, obs)
            self._rpc("click", p.x, p.y, int(action.duration * 1000))
            return ActionResult(ok=True, points=[p], element_id=el.id if el else None)
        if t in ("drag", "swipe"):
            p0, el = resolve_target(action.start, obs)
            p1, _ = resolve_target(action.end, obs)
            steps = max(2, int(action.duration * 200))  # uiautomator moves one step per 5 ms
            self._rpc("drag" if t == "drag" else "swipe", p0.x, p0.y, p1.x, p1.y, steps)
            return ActionResult(ok=True, points=[p0, p1], element_id=el.id if el else None, info={"steps": steps})
        if t == "scroll":
            return self._scroll(action, obs)
        if t == "type":
            return self._type(action, obs)
        if t == "key":
            return self._key(action.keys)
        if t == "system":
            self._rpc("pressKey", SYSTEM_KEYS[action.button.value])
            return ActionResult(ok=True, info={"effect": action.button.value})
        if t == "open_app":
            return self._open_app(action.app)
        if t == "wait":
            return self._wait(action)
        return ActionResult(ok=True, info={"effect": "terminal"})  # answer / done

    # scrolling
    def _scroll_area(self, obs: Observation, el: Optional[UIElement], p: Optional[PixelPoint]) -> Rect:
        """Where to swipe: the scrollable element at the target, else the foreground's biggest, else the window."""
        screen = obs.screen.rect
        node = el
        while node is not None and not node.states.scrollable:
            node = obs.element(node.parent) if node.parent is not None else None
        if node is None and p is not None:
            around = [e for e in obs.elements if e.states.scrollable and e.bounds.contains(p.x, p.y)]
            node = min(around, key=lambda e: e.bounds.area, default=None)
        if node is None and el is None and p is None:
            inside = obs.window_bounds or screen
            candidates = [e for e in obs.elements if e.states.scrollable and e.bounds.intersect(inside) is not None
                          and (not obs.app or e.app == obs.app)]
            node = max(candidates, key=lambda e: e.bounds.area, default=None)
        area = node.bounds if node is not None else (obs.window_bounds or screen)
        return area.intersect(screen) or screen

    def _scroll(self, action: Scroll, obs: Observation) -> ActionResult:
        p = el = None
        points: list[PixelPoint] = []
        if action.target is not None:
            p, el = resolve_target(action.target, obs)
            points = [p]
        area = self._scroll_area(obs, el, p)
        vertical = action.direction.value in ("up", "down")
        unit_box = el.bounds if el is not None else obs.screen.rect
        unit = unit_box.height if vertical else unit_box.width
        total = max(1, round(action.amount * unit))
        span = area.height if vertical else area.width
        reach = max(1, int(span * (1 - 2 * self.scroll_margin)))
        swipes = -(-total // reach)
        each = -(-total // swipes)
        # the finger moves against the direction: "down" reveals what is below, the finger moves up
        sign = 1 if action.direction.value in ("down", "right") else -1
        cross = (p.x if vertical else p.y) if p is not None else (area.center[0] if vertical else area.center[1])
        lo, hi = (area.top, area.bottom - 1) if vertical else (area.left, area.right - 1)
        mid = (lo + hi) // 2
        a, b = mid + sign * each // 2, mid - sign * (each - each // 2)
        a, b = min(max(a, lo), hi), min(max(b, lo), hi)
        steps = max(10, min(60, abs(a - b) // 30))
        done = []
        for _ in range(swipes):
            x0, y0, x1, y1 = (cross, a, cross, b) if vertical else (a, cross, b, cross)
            # hold at the end: the release has no speed, so the content stops where the finger stops
            self._rpc("swipePoints", [x0, y0, x1, y1, x1, y1], steps)
            done.append([x0, y0, x1, y1])
        return ActionResult(ok=True, points=points, element_id=el.id if el else None,
                            info={"swipes": done, "pixels": total, "area": [area.left, area.top, area.right,
                                                                           area.bottom]})

    # typing and keys
    def _type(self, action: TypeText, obs: Observation) -> ActionResult:
        try:
            return self._type_into(action, obs)
        except ControllerError as exc:
            if action.secret and action.text and action.text in str(exc):  # never echo a secret
                raise type(exc)(str(exc).replace(action.text, SECRET_MASK)) from None
            raise

    def _type_into(self, action: TypeText, obs: Observation) -> ActionResult:
        points, el, refusal = type_target(action, obs)
        if refusal is not None:
            return refusal
        if points:
            self._tap(points[0])
            if self.focus_delay:
                time.sleep(self.focus_delay)
        elif obs.elements and not any(e.states.focused and e.states.editable for e in obs.elements):
            return ActionResult(ok=False, error="no text field has focus; give a target")
        if action.clear:
            self._call("clear the text field", lambda d: d.clear_text())
        if action.text:
            self._call("type text", lambda d: d.send_keys(action.text))
        if action.submit:
            self._rpc("pressKey", "enter")
        return ActionResult(ok=True, points=points, element_id=el.id if el else None,
                            info={"chars": len(action.text)})

    def _key(self, keys: list[str]) -> ActionResult:
        mods = [k for k in keys if k in META_STATES]
        rest = [k for k in keys if k not in META_STATES]
        if len(rest) > 1:
            return ActionResult(ok=False, error=f"Android presses one key at a time: a chord is one key plus "
                                                f"modifiers, not {'+'.join(keys)}")
        if not rest:  # modifiers alone: press the (last) modifier key itself
            meta = 0
            for m in mods[:-1]:
                meta |= META_STATES[m]
            code = MODIFIER_KEYCODES[mods[-1]]
            self._press(code, meta)
            return ActionResult(ok=True, info={"keycode": code, "meta": meta})
        key = rest[0]
        meta = 0
        for m in mods:
            meta |= META_STATES[m]
        code = KEYCODES.get(key)
        if code is None and len(key) == 1:
            lower = key.lower()
            if lower != key and lower in KEYCODES:
                code, meta = KEYCODES[lower], meta | META_STATES["shift"]
            elif key in SHIFTED:
                code, meta = KEYCODES[SHIFTED[key]], meta | META_STATES["shift"]
        if code is None:
            if len(key) == 1 and not mods:  # a character no key produces (Korean, ...): send it as text
                self._call("type text", lambda d: d.send_keys(key))
                return ActionResult(ok=True, info={"text": key})
            return ActionResult(ok=False, error=f"no Android key code for {'+'.join(keys)!r}")
        self._press(code, meta)
        return ActionResult(ok=True, info={"keycode": code, "meta": meta})

    def _press(self, code: int, meta: int) -> None:
        if meta:
            self._rpc("pressKeyCode", code, meta)
        else:
            self._rpc("pressKeyCode", code)

    # apps and URLs
    def open_url(self, url: str) -> ActionResult:
        """Open ``url`` with the app that handles it (``am start -a android.intent.action.VIEW -d URL``)."""
        self._check_open()
        out = self._shell(["am", "start", "-a", "android.intent.action.VIEW", "-d", url], what="am start VIEW")
        if re.search(r"^Error|Exception|unable to resolve", out, re.MULTILINE | re.IGNORECASE):
            return ActionResult(ok=False, error=f"could not open {url!r}: {out.strip()[:200]}")
        self._last = None
        return ActionResult(ok=True, info={"effect": f"opened {url}"})

    def _match_packages(self, name: str) -> list[str]:
        """Installed packages ``name`` may mean: itself, else those whose last (or any) dotted part it is,
        shortest first (``settings``: ``com.android.settings`` before ``com.android.providers.settings``)."""
        packages = self.installed_packages()
        if name not in packages and PACKAGE_RE.match(name):
            packages = self.installed_packages(refresh=True)
        if name in packages:
            return [name]
        wanted = re.sub(r"[\s_\-]+", "", name).casefold()
        if not wanted:
            return []
        order = lambda p: (p.count("."), len(p), p)  # noqa: E731
        last = sorted((p for p in packages if p.rsplit(".", 1)[-1].casefold() == wanted), key=order)
        if last:
            return last
        return sorted((p for p in packages if wanted in (q.casefold() for q in p.split("."))), key=order)

    def _launch(self, package: str) -> Optional[str]:
        out = self._shell(["monkey", "-p", package, "-c", "android.intent.category.LAUNCHER", "1"],
                          what=f"monkey -p {package}")
        if re.search(r"No activities found|monkey aborted|Error", out, re.IGNORECASE):
            return out.strip()[:200] or "monkey failed"
        return None

    def _open_app(self, name: str) -> ActionResult:
        name = name.strip()
        if URL_RE.match(name):
            return self.open_url(name)
        problems = []
        for package in self._match_packages(name)[:3]:
            problem = self._launch(package)
            if not problem:
                self._last = None
                return ActionResult(ok=True, info={"effect": f"started {package}"})
            problems.append(f"{package}: {problem}")
        if problems and PACKAGE_RE.match(name):
            return ActionResult(ok=False, error=f"could not start {name}: {'; '.join(problems)}")
        # by the label under its icon on the home screen
        self._rpc("pressKey", "home")
        time.sleep(self.settle_interval)
        obs = self.observe()
        wanted = name.casefold()
        labels = [e for e in obs.elements if e.parent is not None and wanted in
                  (e.name.strip().casefold(), e.description.strip().casefold())]
        if not labels:
            return ActionResult(ok=False, error=f"no app named {name!r}: not an installed package, and no icon on "
                                                "the home screen has that label (the home screen is showing now)")
        target = labels[0]
        node = target
        while node is not None and not node.states.clickable and node.parent is not None:
            node = obs.element(node.parent)
        if node is not None and node.states.clickable and node.parent is not None:
            target = node
        p = element_center(target, obs)
        self._tap(p)
        self._last = None
        return ActionResult(ok=True, points=[p], element_id=target.id,
                            info={"effect": f"tapped the home screen icon {name!r}"})

    def _wait(self, action) -> ActionResult:
        if action.until is None:
            time.sleep(action.seconds)
            return ActionResult(ok=True, info={"effect": f"waited {action.seconds}s"})
        deadline = time.monotonic() + action.timeout
        while True:
            xml = self._dump()
            try:
                tree = parse_hierarchy(xml, self._screen.rect)
                self._strip_keys(tree.elements)
                probe = Observation(platform=Platform.android, screen=self._screen, elements=tree.elements,
                                    app=tree.foreground)
                if find(probe, action.until) is not None:
                    return ActionResult(ok=True, info={"effect": "appeared"})
            except HierarchyError:
                pass
            if time.monotonic() >= deadline:
                return ActionResult(ok=False, error=f"timed out after {action.timeout:g}s: no element matches "
                                                    "the wait selector")
            time.sleep(0.2)

    def __repr__(self) -> str:
        return f"AndroidController({self._name()!r} via {self.adb_host}:{self.adb_port})"


def _frame(width: int, height: int, scale: float) -> ScreenFrame:
    return ScreenFrame(width=max(1, int(width)), height=max(1, int(height)), scale_factor=scale,
                       orientation=Orientation.portrait if height >= width else Orientation.landscape)
