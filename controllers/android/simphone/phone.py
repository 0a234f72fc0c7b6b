"""Simulated Android phones behind a loopback adb server, for the unmodified uiautomator2 client.

``SimPhone`` is one device: a serial, a ``SimDevice`` phone, an in-memory file system, the state of the
on-device uiautomator server (alive exactly while the client's ``app_process`` launch stream is open), a
clipboard, and fault switches. ``SimPhoneServer`` is the adb server (``adb.py``) holding several phones; it runs
in background threads, so tests use it in-process::

    with SimPhoneServer() as server:
        phone = server.add("emulator-5554", SimDevice(form="phone", seed=1))
        d = uiautomator2.connect(adbutils.AdbClient("127.0.0.1", server.port).device("emulator-5554"))

Input arrives in physical pixels and reaches the sim in logical dp, ``(p + 0.5) / scale``, the same mapping
``SimController`` uses; every touch of the ``SimDevice`` holds the phone's lock.
"""
from __future__ import annotations

import socket
import threading
import time
import zlib
from collections import Counter
from typing import Optional

from controllers.android.simphone.adb import AdbServer
from controllers.android.simphone.uixml import LAUNCHER_PACKAGE, HierarchyDumper
from controllers.sim.device import SimDevice

JAR_PATH = "/data/local/tmp/u2.jar"
MAIN_ACTIVITY = "MainActivity"
HOME_ACTIVITY = f"{LAUNCHER_PACKAGE}.HomeActivity"
RECENTS_ACTIVITY = f"{LAUNCHER_PACKAGE}.RecentsActivity"
DIR_MODE = 0o040771
FILE_MODE = 0o100644

# Android key codes the sim understands, by the name pressKey and ``input keyevent`` use
KEYCODES: dict[str, int] = {
    "home": 3, "back": 4, "call": 5, "endcall": 6, "star": 17, "pound": 18, "dpad_up": 19, "dpad_down": 20,
    "dpad_left": 21, "dpad_right": 22, "dpad_center": 23, "volume_up": 24, "volume_down": 25, "power": 26,
    "camera": 27, "clear": 28, "comma": 55, "period": 56, "tab": 61, "space": 62, "enter": 66, "del": 67,
    "grave": 68, "minus": 69, "equals": 70, "left_bracket": 71, "right_bracket": 72, "backslash": 73,
    "semicolon": 74, "apostrophe": 75, "slash": 76, "at": 77, "plus": 81, "menu": 82, "search": 84,
    "page_up": 92, "page_down": 93, "escape": 111, "forward_del": 112, "move_home": 122, "move_end": 123,
    "volume_mute": 164, "app_switch": 187, "sleep": 223, "wakeup": 224,
}
KEYCODES.update({str(d): 7 + d for d in range(10)})
KEYCODES.update({chr(ord("a") + i): 29 + i for i in range(26)})
KEYCODE_NAMES = {v: k for k, v in KEYCODES.items()}
KEY_CHARS = {17: "*", 18: "#", 55: ",", 56: ".", 62: " ", 68: "`", 69: "-", 70: "=", 71: "[", 72: "]",
             73: "\\", 74: ";", 75: "'", 76: "/", 77: "@", 81: "+"}
SHIFTED = {"1": "!", "2": "@", "3": "#", "4": "$", "5": "%", "6": "^", "7": "&", "8": "*", "9": "(", "0": ")",
           "-": "_", "=": "+", "[": "{", "]": "}", "\\": "|", ";": ":", "'": '"', ",": "<", ".": ">", "/": "?",
           "`": "~"}
# uiautomator's pressKey names
PRESS_KEYS = {"home": 3, "back": 4, "left": 21, "right": 22, "up": 19, "down": 20, "center": 23, "menu": 82,
              "search": 84, "enter": 66, "delete": 67, "del": 67, "recent": 187, "volume_up": 24,
              "volume_down": 25, "volume_mute": 164, "camera": 27, "power": 26}
META_SHIFT, META_ALT, META_CTRL = 0x1, 0x2, 0x1000


class MemFS:
    """The phone's files, in memory: enough for ``adb push``/``pull``/``ls`` and ``md5sum``."""

    def __init__(self):
        self.files: dict[str, list] = {}  # path -> [data, mode, mtime]
        self.dirs = {"/", "/data", "/data/local", "/data/local/tmp", "/sdcard", "/storage", "/storage/emulated",
                     "/storage/emulated/0", "/system", "/system/bin", "/system/app", "/vendor", "/proc", "/dev"}
        self.lock = threading.Lock()

    @staticmethod
    def norm(path: str) -> str:
        parts: list[str] = []
        for p in path.split("/"):
            if p in ("", "."):
                continue
            if p == "..":
                if parts:
                    parts.pop()
            else:
                parts.append(p)
        return "/" + "/".join(parts)

    def stat(self, path: str) -> Optional[tuple[int, int, int]]:
        path = self.norm(path)
        with self.lock:
            if path in self.files:
                data, mode, mtime = self.files[path]
                return mode, len(data), mtime
            if path in self.dirs:
                return DIR_MODE, 4096, 1_700_000_000
        return None

    def is_dir(self, path: str) -> bool:
        return self.norm(path) in self.dirs

    def read(self, path: str) -> Optional[bytes]:
        with self.lock:
            entry = self.files.get(self.norm(path))
            return None if entry is None else entry[0]

    def write(self, path: str, data: bytes, mode: int = FILE_MODE, mtime: Optional[int] = None,
              append: bool = False) -> bool:
        path = self.norm(path)
        parent = path.rsplit("/", 1)[0] or "/"
        with self.lock:
            if parent not in self.dirs or path in self.dirs:
                return False
            if append and path in self.files:
                data = self.files[path][0] + data
            self.files[path] = [bytes(data), mode, int(mtime if mtime else time.time())]
        return True

    def remove(self, path: str, recursive: bool = False) -> bool:
        path = self.norm(path)
        with self.lock:
            if path in self.files:
                del self.files[path]
                return True
            if path in self.dirs and recursive and path != "/":
                for f in [f for f in self.files if f.startswith(path + "/")]:
                    del self.files[f]
                self.dirs -= {d for d in self.dirs if d == path or d.startswith(path + "/")}
                return True
        return False

    def mkdir(self, path: str, parents: bool = False) -> bool:
        path = self.norm(path)
        with self.lock:
            parent = path.rsplit("/", 1)[0] or "/"
            if path in self.files or (parent not in self.dirs and not parents):
                return False
            while path not in self.dirs:
                self.dirs.add(path)
                path = path.rsplit("/", 1)[0] or "/"
        return True

    def listdir(self, path: str) -> Optional[list[tuple[str, int, int, int]]]:
        """(name, mode, size, mtime) of a directory's entries, or None when it is no directory."""
        path = self.norm(path)
        prefix = path.rstrip("/") + "/"
        with self.lock:
            if path not in self.dirs:
                return None
            out = {}
            for d in self.dirs:
                if d.startswith(prefix) and d != path and "/" not in d[len(prefix):]:
                    out[d[len(prefix):]] = (DIR_MODE, 4096, 1_700_000_000)
            for f, (data, mode, mtime) in self.files.items():
                if f.startswith(prefix) and "/" not in f[len(prefix):]:
                    out[f[len(prefix):]] = (mode, len(data), mtime)
        return [(name, *out[name]) for name in sorted(out)]


class SimPhone:
    """One simulated Android phone: a ``SimDevice`` plus everything adb and uiautomator2 talk to."""

    def __init__(self, serial: str, device: Optional[SimDevice] = None, *, model: str = "Handa Sim",
                 api_level: int = 35, release: str = "15", expose_keys: bool = False, hint_as_text: bool = False,
                 transport_id: int = 1, preload_jar: bool = False):
        self.serial = serial
        self.device = device if device is not None else SimDevice(form="phone")
        if self.device.form != "phone":
            raise ValueError("a SimPhone needs a phone SimDevice (form='phone')")
        self.model = model
        self.api_level = api_level
        self.release = release
        self.transport_id = transport_id
        self.dumper = HierarchyDumper(api_level=api_level, expose_keys=expose_keys, hint_as_text=hint_as_text)
        self.lock = threading.RLock()
        self.fs = MemFS()
        self.clipboard: Optional[str] = None
        self.screen_on = True
        self.settings: dict[tuple[str, str], str] = {
            ("secure", "default_input_method"): "com.google.android.inputmethod.latin/"
                                                "com.android.inputmethod.latin.LatinIME",
            ("global", "adb_enabled"): "1", ("system", "screen_off_timeout"): "600000"}
        self.props = {
            "ro.serialno": serial, "ro.build.version.sdk": str(api_level), "ro.build.version.release": release,
            "ro.product.brand": "handa", "ro.product.manufacturer": "Handa", "ro.product.model": model,
            "ro.product.name": "handa_sim", "ro.product.device": "handa_sim", "ro.product.cpu.abi": "x86_64",
            "ro.build.type": "user", "ro.build.id": "HND.2026", "ro.debuggable": "0", "ro.secure": "1",
            "sys.boot_completed": "1", "ro.sf.lcd_density": str(self.density),
            "persist.sys.locale": "ko-KR", "ro.build.characteristics": "phone"}
        self.stats: Counter = Counter()  # pushes, launches, rpc calls, shell commands, connections
        # the on-device uiautomator server
        self._server_port: Optional[int] = None
        self._server_conn: Optional[socket.socket] = None
        # open sockets of this device, by kind (shell, sync, http, launch)
        self._conns: dict[socket.socket, str] = {}
        self._conns_lock = threading.Lock()
        self._touch: Optional[tuple[float, float, float, float, float]] = None  # down x, y, time, last x, y
        # faults
        self.dump_delay = 0.0
        self.broken_xml = False
        self.is_offline = False
        if preload_jar:
            self.install_jar()

    # ------------------------------------------------------------ identity
    def __repr__(self) -> str:
        return f"SimPhone({self.serial!r}, seed={self.device.seed}, {'offline' if self.is_offline else 'online'})"

    @property
    def size(self) -> tuple[int, int]:
        f = self.device.frame()
        return f.width, f.height

    @property
    def density(self) -> int:
        return int(round(160 * self.device.scale))

    @property
    def state(self) -> str:
        return "offline" if self.is_offline else "device"

    def install_jar(self) -> None:
        """Put uiautomator2's own u2.jar on the phone, as if a client had pushed it already."""
        import importlib.util
        from pathlib import Path
        spec = importlib.util.find_spec("uiautomator2")
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError("uiautomator2 is not installed; cannot preload its u2.jar")
        jar = Path(list(spec.submodule_search_locations)[0]) / "assets" / "u2.jar"
        self.fs.write(JAR_PATH, jar.read_bytes(), 0o100755)

    # ------------------------------------------------------------ apps
    @property
    def packages(self) -> dict[str, str]:
        """package -> sim app key, for every app on the phone."""
        return {app.package: key for key, app in self.device.apps.items()}

    def all_packages(self) -> list[str]:
        return ["android", "com.android.systemui", "com.android.shell", "com.android.providers.settings",
                "com.google.android.inputmethod.latin", LAUNCHER_PACKAGE, *self.packages]

    def activity_of(self, package: str) -> Optional[str]:
        if package == LAUNCHER_PACKAGE:
            return HOME_ACTIVITY
        if package in self.packages:
            return f"{package}.{MAIN_ACTIVITY}"
        return None

    def current(self) -> tuple[str, str]:
        """(package, activity) in front."""
        with self.lock:
            dev = self.device
            if dev.showing_recents:
                return LAUNCHER_PACKAGE, RECENTS_ACTIVITY
            if dev.foreground is None:
                return LAUNCHER_PACKAGE, HOME_ACTIVITY
            pkg = dev.apps[dev.foreground].package
            return pkg, f"{pkg}.{MAIN_ACTIVITY}"

    def running(self) -> list[str]:
        """Packages with a process: the launcher and every app in recents."""
        with self.lock:
            apps = [self.device.apps[k].package for k in self.device.recents]
        return [LAUNCHER_PACKAGE, *apps]

    @staticmethod
    def pid_of(package: str) -> int:
        return 2000 + zlib.crc32(package.encode()) % 28000

    def launch(self, package: str, activity: Optional[str] = None) -> bool:
        """Bring an app to the front (the launcher: go home). False for an unknown package or activity."""
        with self.lock:
            if package == LAUNCHER_PACKAGE:
                self.device.go_home()
                return True
            key = self.packages.get(package)
            if key is None:
                return False
            if activity is not None:
                full = package + activity if activity.startswith(".") else activity
                if full != f"{package}.{MAIN_ACTIVITY}":
                    return False
            self.device.launch(key)
            return True

    def force_stop(self, package: str) -> bool:
        with self.lock:
            key = self.packages.get(package)
            if key is None:
                return package in self.all_packages()
            self.device.close_app(key)
            return True

    def open_url(self, url: str) -> bool:
        """A web URL opens the sim's web-form app (its only browser-like app); other schemes have no handler."""
        if url.lower().startswith(("http://", "https://")):
            return self.launch("com.handa.webform")
        return False

    # ------------------------------------------------------------ screen
    def observe(self):
        with self.lock:
            return self.device.observe()

    def dump(self, max_depth: int = 50, root_in_active: bool = False) -> str:
        """``dumpWindowHierarchy``, with the slow and malformed faults applied."""
        if self.dump_delay > 0:
            time.sleep(self.dump_delay)
        with self.lock:
            obs, nodes = self.device.observe()
            xml = self.dumper.dump(obs, nodes, max_depth=max_depth, root_in_active=root_in_active)
        if self.broken_xml:
            cut = xml[: max(80, len(xml) * 3 // 5)]
            xml = cut + '<node text="&broken; <<'
        return xml

    def screenshot(self):
        with self.lock:
            return self.device.render()

    # ------------------------------------------------------------ input (physical pixels)
    def _dp(self, x: float, y: float) -> tuple[float, float]:
        s = self.device.scale
        return (float(x) + 0.5) / s, (float(y) + 0.5) / s

    def _inside(self, x: float, y: float) -> bool:
        w, h = self.size
        return 0 <= x < w and 0 <= y < h

    def tap(self, x: float, y: float) -> bool:
        if not self._inside(x, y):
            return False
        with self.lock:
            self.device.tap(*self._dp(x, y))
        return True

    def long_press(self, x: float, y: float) -> bool:
        if not self._inside(x, y):
            return False
        with self.lock:
            self.device.long_press(*self._dp(x, y))
        return True

    def drag(self, x0: float, y0: float, x1: float, y1: float) -> bool:
        if not self._inside(x0, y0):
            return False
        w, h = self.size
        x1, y1 = min(max(float(x1), 0), w - 1), min(max(float(y1), 0), h - 1)
        with self.lock:
            if abs(x1 - x0) < 2 and abs(y1 - y0) < 2:
                self.device.tap(*self._dp(x0, y0))
            else:
                self.device.drag(*self._dp(x0, y0), *self._dp(x1, y1))
        return True

    def touch(self, action: int, x: float, y: float) -> bool:
        """``injectInputEvent``: 0 down, 2 move, 1 up; an up turns the gesture into a tap, long press or drag."""
        now = time.monotonic()
        if action == 0:
            self._touch = (float(x), float(y), now, float(x), float(y))
            return True
        if self._touch is None:
            return False
        x0, y0, t0, _, _ = self._touch
        if action == 2:
            self._touch = (x0, y0, t0, float(x), float(y))
            return True
        if action == 1:
            self._touch = None
            slop = 8 * self.device.scale
            if abs(x - x0) <= slop and abs(y - y0) <= slop:
                return self.long_press(x0, y0) if now - t0 >= 0.5 else self.tap(x0, y0)
            return self.drag(x0, y0, x, y)
        return False

    def type_text(self, text: str, clear: bool = False) -> bool:
        with self.lock:
            if self.device.focused_field() is None:
                return False
            self.device.type_text(text, clear=clear)
        return True

    def clear_text(self) -> bool:
        return self.type_text("", clear=True)

    def paste(self) -> bool:
        return self.type_text(self.clipboard) if self.clipboard else False

    @staticmethod
    def keycode(name: str) -> Optional[int]:
        """A key code from ``66``, ``KEYCODE_ENTER`` or ``enter`` (as ``input keyevent`` takes them)."""
        if name.isdigit():
            return int(name)
        name = name.upper()
        name = name[len("KEYCODE_"):] if name.startswith("KEYCODE_") else name
        return KEYCODES.get(name.lower())

    def press_key(self, name: str) -> bool:
        code = PRESS_KEYS.get(name.lower())
        return self.press_keycode(code) if code is not None else False

    def press_keycode(self, code: int, meta: int = 0) -> bool:
        """One key press as Android's input would deliver it."""
        code = int(code)
        name = KEYCODE_NAMES.get(code)
        if name is None:
            return False
        dev = self.device
        with self.lock:
            if name == "home":
                dev.go_home()
            elif name in ("back", "escape"):
                dev.back()
            elif name == "app_switch":
                dev.show_recents()
            elif name in ("enter", "dpad_center"):
                dev.key(["enter"])
            elif name in ("del", "forward_del", "clear"):
                dev.key(["backspace"])
            elif name.startswith("dpad_"):
                dev.key([name[5:]])
            elif name in ("tab", "page_up", "page_down"):
                dev.key([name])
            elif name.startswith("volume_"):
                self._volume(name[7:])
            elif name in ("power", "sleep", "wakeup"):
                self.screen_on = (not self.screen_on) if name == "power" else name == "wakeup"
            elif len(name) == 1 or code in KEY_CHARS:
                ch = KEY_CHARS.get(code, name)
                if meta & META_CTRL:
                    dev.key(["ctrl", ch])
                else:
                    if meta & META_SHIFT:
                        ch = ch.upper() if ch.isalpha() else SHIFTED.get(ch, ch)
                    dev.key([ch])
            dev.invalidate()
        return True

    def _volume(self, how: str) -> None:
        settings = self.device.apps.get("settings")
        if settings is None or not hasattr(settings, "volume"):
            return
        v = int(settings.volume)
        settings.volume = 0 if how == "mute" else min(100, max(0, v + (7 if how == "up" else -7)))

    # ------------------------------------------------------------ the uiautomator server
    def start_server(self, port: int, conn: socket.socket) -> bool:
        """The launch stream started the server on ``port``; False when one already runs (already registered)."""
        with self.lock:
            if self._server_conn is not None:
                return False
            self._server_port, self._server_conn = port, conn
            self.stats["launch"] += 1
            return True

    def stop_server(self, conn: Optional[socket.socket] = None) -> None:
        """The server quits (its launch stream ended, or it crashed): its HTTP connections die with it."""
        with self.lock:
            if conn is not None and conn is not self._server_conn:
                return
            launch, self._server_conn, self._server_port = self._server_conn, None, None
        if launch is not None:
            _shutdown(launch)
        self._drop(kinds=("http",))

    def server_alive(self, port: Optional[int] = None) -> bool:
        with self.lock:
            return self._server_conn is not None and (port is None or port == self._server_port)

    @property
    def server_port(self) -> Optional[int]:
        return self._server_port

    # ------------------------------------------------------------ sockets
    def track(self, conn: socket.socket, kind: str) -> None:
        with self._conns_lock:
            self._conns[conn] = kind
            self.stats[f"conn_{kind}"] += 1

    def untrack(self, conn: socket.socket) -> None:
        with self._conns_lock:
            self._conns.pop(conn, None)

    def _drop(self, kinds: Optional[tuple[str, ...]] = None) -> int:
        with self._conns_lock:
            victims = [c for c, k in self._conns.items() if kinds is None or k in kinds]
        for c in victims:
            _shutdown(c)
        return len(victims)

    # ------------------------------------------------------------ faults
    def drop_connections(self) -> int:
        """Close every open socket of this device now (a cable pulled): the launch stream too, so the
        uiautomator server dies with it. Returns how many were closed."""
        n = self._drop()
        self.stop_server()
        return n

    def crash_server(self) -> None:
        """The on-device uiautomator server dies: ``tcp:PORT`` answers FAIL until the client relaunches it."""
        self.stop_server()

    def slow_dump(self, seconds: float) -> None:
        """Every ``dumpWindowHierarchy`` takes this long (0 turns it off)."""
        self.dump_delay = max(0.0, float(seconds))

    def malformed_xml(self, on: bool = True) -> None:
        """``dumpWindowHierarchy`` returns XML cut off in the middle."""
        self.broken_xml = bool(on)

    def offline(self, on: bool = True) -> None:
        """The device leaves ``host:devices`` and its transports fail; its open sockets die."""
        self.is_offline = bool(on)
        if on:
            self.drop_connections()


def _shutdown(conn: socket.socket) -> None:
    """End a connection from another thread: shutdown wakes the thread blocked on it, which then closes it."""
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class SimPhoneServer:
    """The adb server of a set of sim phones, on loopback, in background threads.

    ``port=0`` picks a free port (``.port`` tells which). Serials are free-form; ``serve()`` uses
    ``emulator-5554``, ``emulator-5556``, ...
    """

    def __init__(self, port: int = 0, host: str = "127.0.0.1"):
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("the sim phone's adb server listens on loopback only")
        self._phones: dict[str, SimPhone] = {}
        self._lock = threading.Lock()
        self._adb = AdbServer(self, host=host, port=port)
        self._adb.start()

    @property
    def port(self) -> int:
        return self._adb.port

    @property
    def host(self) -> str:
        return self._adb.host

    def add(self, serial: str, device: Optional[SimDevice] = None, **options) -> SimPhone:
        """Plug in a phone (``options`` go to ``SimPhone``: model, api_level, expose_keys, preload_jar, ...)."""
        with self._lock:
            if serial in self._phones:
                raise ValueError(f"a device with serial {serial!r} is already attached")
            options.setdefault("transport_id", len(self._phones) + 1)
            phone = SimPhone(serial, device, **options)
            self._phones[serial] = phone
            return phone

    def remove(self, serial: str) -> None:
        with self._lock:
            phone = self._phones.pop(serial, None)
        if phone is not None:
            phone.drop_connections()

    def get(self, serial: str) -> Optional[SimPhone]:
        with self._lock:
            return self._phones.get(serial)

    def __getitem__(self, serial: str) -> SimPhone:
        phone = self.get(serial)
        if phone is None:
            raise KeyError(serial)
        return phone

    @property
    def phones(self) -> list[SimPhone]:
        with self._lock:
            return list(self._phones.values())

    def online(self) -> list[SimPhone]:
        return [p for p in self.phones if not p.is_offline]

    def close(self) -> None:
        self._adb.close()
        for phone in self.phones:
            phone.drop_connections()

    def __enter__(self) -> "SimPhoneServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def serve(adb_port: int, devices: int = 1, seed: int = 0, split: str = "all", *, scale: float = 1.0,
          expose_keys: bool = False, host: str = "127.0.0.1") -> SimPhoneServer:
    """Start an adb server on ``adb_port`` (0: any free port) with ``devices`` sim phones, seeds ``seed``,
    ``seed + 1``, ..., serials ``emulator-5554``, ``emulator-5556``, ... The server runs until ``close()``."""
    server = SimPhoneServer(port=adb_port, host=host)
    try:
        for i in range(devices):
            server.add(f"emulator-{5554 + 2 * i}",
                       SimDevice(form="phone", seed=seed + i, split=split, scale=scale), expose_keys=expose_keys)
    except Exception:
        server.close()
        raise
    return server
