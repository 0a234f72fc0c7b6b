"""A desktop to act on: the user's own X display, or a private virtual one that Handa starts and cleans up.

``DesktopSession.start_virtual()`` brings up, in order:

1. Xvfb on a free display (``-displayfd``: the server picks the number, no race with other sessions);
2. a private D-Bus session bus with a minimal config: no service directories, so GTK and Chromium
   cannot activate portals, dconf or gvfs (which otherwise outlive them and leave a FUSE mount);
3. the AT-SPI bus launcher (the accessibility bus and registry) before any app, or apps never register;
4. openbox, so windows get frames, focus and EWMH properties (``_NET_CLIENT_LIST``, ``_NET_WM_PID``).

Every process started here carries ``HANDA_DESKTOP_TOKEN`` in its environment, and all XDG folders point
into one private temporary folder. ``close()`` stops the process groups it started, then sweeps ``/proc`` for
any process whose environment carries the token (double-forked helpers such as the registry daemon), unmounts
anything mounted below the private folder and removes it. ``attach()`` uses ``$DISPLAY`` as it is and stops
nothing but what it launched.
"""
from __future__ import annotations

import atexit
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from controllers.base import ControllerError, DeviceLost
from controllers.elements import ScreenFrame

TOKEN_VAR = "HANDA_DESKTOP_TOKEN"

# A session bus that activates nothing: apps may own names and talk, but no service file is ever read.
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={socket_dir}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

AT_SPI_LAUNCHERS = ("/usr/libexec/at-spi-bus-launcher", "/usr/lib/at-spi2-core/at-spi-bus-launcher",
                    "/usr/lib/at-spi2/at-spi-bus-launcher")

# Environment for apps in a virtual session: accessibility on, desktop helper services off.
QUIET_APP_ENV = {
    "GSETTINGS_BACKEND": "memory",  # no dconf
    "GIO_USE_VFS": "local",  # no gvfs daemons or FUSE mount
    "GTK_USE_PORTAL": "0",
    "NO_AT_BRIDGE": "0",
    "ACCESSIBILITY_ENABLED": "1",  # Chromium enables its AT-SPI bridge with this
    "GTK_OVERLAY_SCROLLING": "0",  # scrollbars stay in the tree
}


class SessionError(ControllerError):
    """The desktop could not be started or reached."""


def _missing(program: str) -> SessionError:
    return SessionError(f"{program} is not installed; on Debian/Ubuntu run: apt-get install xvfb openbox "
                        "at-spi2-core dbus (scripts/setup.sh does this)")


@dataclass
class LaunchedApp:
    """An app started inside the session."""

    argv: list[str]
    process: subprocess.Popen
    window: Optional[int] = None  # X window id, once it appeared

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """Stop the app and every process it started (Chromium's network and GPU helpers write into its profile
        after the main process exits: a profile folder is only safe to delete once the whole group is gone)."""
        _stop_group(self.process)


@dataclass
class DesktopSession:
    """An X display to observe and act on, with the environment apps must run in."""

    display: str
    env: dict[str, str]
    virtual: bool = False
    scale: float = 1.0
    token: str = ""
    workdir: Optional[Path] = None
    a11y_address: Optional[str] = None
    started_at: float = 0.0
    startup_s: float = 0.0
    _processes: list[subprocess.Popen] = field(default_factory=list)
    apps: list[LaunchedApp] = field(default_factory=list)
    _closed: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ------------------------------------------------------------ construction
    @classmethod
    def attach(cls, display: Optional[str] = None, scale: Optional[float] = None) -> "DesktopSession":
        """The user's own display (``$DISPLAY`` unless given); its session bus if the environment names one."""
        display = display or os.environ.get("DISPLAY")
        if not display:
            raise SessionError("no X display: set DISPLAY, or use --virtual to start a private one")
        env = dict(os.environ, DISPLAY=display)
        if env.get("WAYLAND_DISPLAY") or env.get("XDG_SESSION_TYPE") == "wayland":
            # XWayland: screenshots miss native Wayland windows and XTest reaches only X clients
            import warnings

            warnings.warn("this is a Wayland session: Handa sees and drives only its X11 (XWayland) windows",
                          RuntimeWarning, stacklevel=2)
        session = cls(display=display, env=env, virtual=False, scale=scale or 1.0, started_at=time.time())
        session._check_display()
        if env.get("DBUS_SESSION_BUS_ADDRESS"):
            session._enable_accessibility()  # apps started from now on (Chromium, Qt) expose their trees
        if scale is None:  # a HiDPI desktop says so in Xft.dpi
            from controllers.desktop.windows import WindowManager

            with WindowManager(display) as wm:
                dpi = wm.xft_dpi()
            if dpi and dpi > 0:
                session.scale = round(dpi / 96, 2)
        return session

    @classmethod
    def start_virtual(cls, width: int = 1280, height: int = 800, scale: float = 1.0, accessibility: bool = True,
                      window_manager: bool = True, monitors: int = 1, timeout: float = 15.0) -> "DesktopSession":
        """Start a private desktop; raises SessionError (after cleaning up) when a part does not come up.

        ``monitors`` > 1 splits the screen side by side into that many RandR monitors (one X screen spanning
        them, as a real multi-head desktop is): coordinates stay root-window pixels across all of them.
        """
        for program in ("Xvfb", "dbus-daemon") + (("openbox",) if window_manager else ()):
            if shutil.which(program) is None:
                raise _missing(program)
        t0 = time.perf_counter()
        token = uuid.uuid4().hex
        workdir = Path(tempfile.mkdtemp(prefix="handa-desktop-"))
        os.chmod(workdir, 0o700)
        env = {k: v for k, v in os.environ.items()
               if k not in ("DBUS_SESSION_BUS_ADDRESS", "AT_SPI_BUS_ADDRESS", "WAYLAND_DISPLAY", "SESSION_MANAGER")}
        for name in ("runtime", "config", "cache", "data"):
            (workdir / name).mkdir(mode=0o700)
        # no caret blinking or animations: the screen settles as soon as the app is done
        (workdir / "config" / "gtk-3.0").mkdir()
        (workdir / "config" / "gtk-3.0" / "settings.ini").write_text(
            "[Settings]\ngtk-cursor-blink = false\ngtk-enable-animations = false\n", encoding="utf-8")
        env.update({TOKEN_VAR: token, "XDG_RUNTIME_DIR": str(workdir / "runtime"),
                    "XDG_CONFIG_HOME": str(workdir / "config"), "XDG_CACHE_HOME": str(workdir / "cache"),
                    "XDG_DATA_HOME": str(workdir / "data"), "XDG_SESSION_TYPE": "x11"})
        env.update(QUIET_APP_ENV)
        locale = env.get("LC_ALL") or env.get("LC_CTYPE") or env.get("LANG") or ""
        if "utf-8" not in locale.lower() and "utf8" not in locale.lower():
            env.pop("LC_ALL", None)
            env["LANG"] = env["LC_CTYPE"] = "C.UTF-8"  # apps speak UTF-8: Korean titles and text survive
        if scale != 1.0:  # GTK scales by whole numbers, and by the rest through its fonts
            whole = max(1, int(scale))
            env["GDK_SCALE"] = str(whole)
            if scale != whole:
                env["GDK_DPI_SCALE"] = f"{scale / whole:.3f}"
        session = cls(display="", env=env, virtual=True, scale=scale, token=token, workdir=workdir,
                      started_at=time.time())
        atexit.register(session.close)
        try:
            session._start_xvfb(width, height, scale, timeout)
            if monitors > 1:
                session._split_monitors(width, height, monitors)
            session._start_bus(timeout)
            if accessibility:
                session._start_atspi(timeout)
            if window_manager:
                session._start_openbox(timeout)
        except BaseException:
            session.close()
            raise
        session.startup_s = time.perf_counter() - t0
        return session

    def _spawn(self, argv: Sequence[str], **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(list(argv), env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=kwargs.pop("stderr", subprocess.DEVNULL), start_new_session=True,
                                preexec_fn=_die_with_parent, **kwargs)
        self._processes.append(proc)
        return proc

    @staticmethod
    def _read_line(fd: int, proc: subprocess.Popen, what: str, timeout: float) -> str:
        """Read one line a child writes to ``fd`` (its readiness signal), or fail clearly."""
        deadline = time.monotonic() + timeout
        data = b""
        os.set_blocking(fd, False)
        try:
            while b"\n" not in data:
                if time.monotonic() > deadline:
                    raise SessionError(f"{what} did not start within {timeout:.0f} s")
                if proc.poll() is not None and not data:
                    raise SessionError(f"{what} exited with status {proc.returncode} while starting")
                try:
                    chunk = os.read(fd, 256)
                except BlockingIOError:
                    time.sleep(0.01)
                    continue
                if not chunk:
                    if proc.poll() is not None:
                        raise SessionError(f"{what} exited with status {proc.returncode} while starting")
                    time.sleep(0.01)
                    continue
                data += chunk
        finally:
            os.close(fd)
        return data.split(b"\n", 1)[0].decode().strip()

    def _start_xvfb(self, width: int, height: int, scale: float, timeout: float) -> None:
        r, w = os.pipe()
        dpi = str(round(96 * scale))
        try:
            proc = self._spawn(["Xvfb", "-displayfd", str(w), "-screen", "0", f"{width}x{height}x24", "-dpi", dpi,
                                "-nolisten", "tcp", "-noreset", "+extension", "RANDR"], pass_fds=(w,))
        finally:
            os.close(w)
        number = self._read_line(r, proc, "Xvfb", timeout)
        self.display = f":{number}"
        self.env["DISPLAY"] = self.display
        self._check_display()
        if scale != 1.0:  # where HiDPI-aware apps (and attach()) read the scale
            from controllers.desktop.windows import WindowManager

            with WindowManager(self.display) as wm:
                wm.set_resource("Xft.dpi", str(round(96 * scale)))

    def _split_monitors(self, width: int, height: int, count: int) -> None:
        """Declare ``count`` RandR 1.5 monitors side by side (python-xlib's SetMonitor packs no CRTC list)."""
        if shutil.which("xrandr") is None:
            raise _missing("xrandr (package x11-xserver-utils)")
        step = width // count
        for i in range(count):
            w = width - i * step if i == count - 1 else step
            mm_w, mm_h = round(w * 25.4 / 96), round(height * 25.4 / 96)
            geometry = f"{w}/{mm_w}x{height}/{mm_h}+{i * step}+0"
            proc = subprocess.run(["xrandr", "--setmonitor", f"HANDA-{i + 1}", geometry, "none"], env=self.env,
                                  capture_output=True, text=True, timeout=10)
            if proc.returncode != 0:
                raise SessionError(f"xrandr could not declare monitor {i + 1}: {proc.stderr.strip()}")

    def _start_bus(self, timeout: float) -> None:
        assert self.workdir is not None
        config = self.workdir / "session-bus.conf"
        config.write_text(BUS_CONFIG.format(socket_dir=self.workdir / "runtime"), encoding="utf-8")
        r, w = os.pipe()
        try:
            proc = self._spawn(["dbus-daemon", "--nofork", f"--config-file={config}", f"--print-address={w}"],
                               pass_fds=(w,))
        finally:
            os.close(w)
        self.env["DBUS_SESSION_BUS_ADDRESS"] = self._read_line(r, proc, "the session bus", timeout)

    def _start_atspi(self, timeout: float) -> None:
        from controllers.desktop.atspi import AtspiUnavailable, a11y_bus_address

        launcher = next((p for p in AT_SPI_LAUNCHERS if os.path.exists(p)), None)
        if launcher is None:
            raise _missing("at-spi-bus-launcher (package at-spi2-core)")
        self._spawn([launcher, "--launch-immediately"])
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.a11y_address = a11y_bus_address(self.env["DBUS_SESSION_BUS_ADDRESS"], timeout=1.0)
                break
            except AtspiUnavailable as exc:
                if time.monotonic() > deadline:
                    raise SessionError(f"the accessibility bus did not come up: {exc}") from exc
                time.sleep(0.05)
        self._enable_accessibility()

    def _enable_accessibility(self) -> None:
        """Set org.a11y.Status.IsEnabled, which toolkits that check it (Chromium, Qt) read at start."""
        from jeepney import DBusAddress, Properties
        from jeepney.io.blocking import open_dbus_connection

        try:
            with open_dbus_connection(self.env["DBUS_SESSION_BUS_ADDRESS"]) as conn:
                status = DBusAddress("/org/a11y/bus", bus_name="org.a11y.Bus", interface="org.a11y.Status")
                conn.send_and_get_reply(Properties(status).set("IsEnabled", "b", True), timeout=2.0)
        except Exception:  # apps still register through the bridge; this only speeds up Chromium's switch
            pass

    def _start_openbox(self, timeout: float) -> None:
        self._spawn(["openbox", "--sm-disable"])
        from controllers.desktop.windows import WindowManager

        deadline = time.monotonic() + timeout
        with WindowManager(self.display) as wm:
            while not wm.has_window_manager():
                if time.monotonic() > deadline:
                    raise SessionError(f"openbox did not take the display within {timeout:.0f} s")
                time.sleep(0.02)

    def _check_display(self) -> None:
        from controllers.desktop.windows import WindowManager

        with WindowManager(self.display):
            pass

    # ------------------------------------------------------------ facts
    def screen(self) -> ScreenFrame:
        from controllers.desktop.windows import WindowManager

        with WindowManager(self.display) as wm:
            width, height = wm.screen_size()
        return ScreenFrame(width=width, height=height, scale_factor=self.scale,
                           orientation="landscape" if width >= height else "portrait")

    def alive(self) -> bool:
        """Whether the X server still answers."""
        try:
            self._check_display()
            return True
        except (SessionError, DeviceLost):
            return False

    # ------------------------------------------------------------ apps
    def launch(self, command: str | Sequence[str], *, wait_window: bool = True, timeout: float = 30.0,
               extra_env: Optional[dict[str, str]] = None) -> LaunchedApp:
        """Start an app (argv, or a command line split like a shell would, never run through one).

        With ``wait_window`` it returns once a window of the app's process is mapped; raises SessionError if the
        app exits first or nothing appears in time.
        """
        if self._closed:
            raise SessionError("this desktop session is closed")
        argv = shlex.split(command) if isinstance(command, str) else list(command)
        if not argv:
            raise SessionError("an empty command cannot be launched")
        if shutil.which(argv[0]) is None:
            raise SessionError(f"cannot launch {argv[0]!r}: no such program")
        env = {**self.env, "ACCESSIBILITY_ENABLED": "1", **(extra_env or {})}
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        app = LaunchedApp(argv=argv, process=proc)
        self.apps.append(app)
        if wait_window:
            try:
                app.window = self.wait_for_window(app, timeout)
            except SessionError:
                _stop_group(app.process)  # no stray invisible app left behind on the user's display
                self.apps.remove(app)
                raise
        return app

    def wait_for_window(self, app: LaunchedApp, timeout: float = 30.0) -> int:
        from controllers.desktop.windows import WindowManager

        deadline = time.monotonic() + timeout
        with WindowManager(self.display) as wm:
            while True:
                for win in wm.windows():
                    if win.pid == app.pid:
                        return win.id
                if not app.alive():
                    raise SessionError(f"{shlex.join(app.argv)} exited with status {app.process.returncode} "
                                       "before showing a window")
                if time.monotonic() > deadline:
                    raise SessionError(f"{shlex.join(app.argv)} showed no window within {timeout:.0f} s")
                time.sleep(0.05)

    # ------------------------------------------------------------ teardown
    def close(self) -> None:
        """Stop every process this session started (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for app in reversed(self.apps):
            _stop_group(app.process)
        if self.virtual:
            for proc in reversed(self._processes):
                _stop_group(proc)
            if self.token:
                sweep_token(self.token)
            if self.workdir is not None:
                _unmount_below(self.workdir)
                shutil.rmtree(self.workdir, ignore_errors=True)
        atexit.unregister(self.close)

    def __enter__(self) -> "DesktopSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _die_with_parent() -> None:
    """In the child: be killed when Handa dies, even by SIGKILL (Linux PR_SET_PDEATHSIG), so no Xvfb is orphaned."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _stop_group(proc: subprocess.Popen, grace: float = 2.0) -> None:
    """SIGTERM the process group, SIGKILL what is left after ``grace`` seconds, reap the leader."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # stragglers in the group, even when the leader already left
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(1.0)
    except subprocess.TimeoutExpired:
        pass


def processes_with_token(token: str) -> list[int]:
    """PIDs whose environment carries this session's token."""
    needle = f"{TOKEN_VAR}={token}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                if needle in fh.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


def sweep_token(token: str, grace: float = 1.0) -> None:
    pids = processes_with_token(token)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + grace
        while pids and time.monotonic() < deadline:
            pids = [p for p in pids if _exists(p)]
            if pids:
                time.sleep(0.02)
        if not pids:
            return


def _exists(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][:1] != "Z"  # a zombie is gone for our purposes
    except (OSError, IndexError):
        return False


def _unmount_below(folder: Path) -> None:
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return
    prefix = str(folder.resolve())
    for line in mounts:
        parts = line.split()
        if len(parts) > 1 and parts[1].startswith(prefix):
            for tool in (["fusermount", "-uz", parts[1]], ["umount", "-l", parts[1]]):
                if shutil.which(tool[0]) and subprocess.run(tool, capture_output=True).returncode == 0:
                    break
