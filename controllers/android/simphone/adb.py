"""An adb server (host side of adb's smart-socket protocol) whose devices are sim phones.

Loopback TCP, a thread per connection. Host requests: ``host:version`` (41), ``host:devices`` and
``host:devices-l``, ``host:tport:serial:S`` / ``host:tport:any`` (``OKAY`` + the 8-byte transport id),
``host:transport:S`` / ``host:transport-any`` / ``host:transport-id:N``, ``host-serial:S:CMD`` and
``host-transport-id:N:CMD`` for ``wait-for-*``, ``features``, ``get-state``, ``get-serialno``,
``get-devpath``; ``host:kill`` is accepted and ignored. After a transport switch, one device service:

- ``shell:CMD`` / ``exec:CMD`` (raw output, then close) and ``shell,v2:CMD`` (packets with an exit code):
  ``CMD`` runs in ``Shell``, a small command interpreter that is never a real shell (quotes, ``;``, ``&&``,
  ``||``, ``|``, redirections and ``$?``; Android's ``am``, ``pm``, ``wm``, ``input``, ``dumpsys``,
  ``getprop``, ``monkey``, ``ime``, ``settings``, ``screencap``, ``uiautomator dump`` and a few toybox tools
  over the phone's in-memory files). ``CLASSPATH=/data/local/tmp/u2.jar app_process / com.wetest.uia2.Main
  -p PORT`` starts the phone's uiautomator server and holds the stream open: the server lives exactly as
  long as that stream.
- ``sync:``: STAT, STA2/LST2, LIST, SEND (DATA... DONE -> ``OKAY``), RECV, QUIT.
- ``tcp:PORT``: a byte pipe to the phone's uiautomator HTTP server (``rpc.py``), or ``FAIL closed`` when it
  is not running.
"""
from __future__ import annotations

import hashlib
import io
import re
import select
import socket
import struct
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Optional

from controllers.android.simphone import rpc

if TYPE_CHECKING:  # pragma: no cover
    from controllers.android.simphone.phone import SimPhone, SimPhoneServer

ADB_VERSION = 41
FEATURES = "shell_v2,stat_v2,fixed_push_mkdir"
SF_DISPLAY_ID = 4619827259835644672
MAX_PUSH = 512 << 20
RC = "\x00"  # where ``$?`` stands in a parsed word


class _Closed(Exception):
    """The peer went away."""


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise _Closed()
        buf.extend(chunk)
    return bytes(buf)


def _read_request(conn: socket.socket) -> str:
    head = _recv_exact(conn, 4)
    try:
        n = int(head.decode("ascii"), 16)
    except ValueError:
        raise _Closed() from None
    return _recv_exact(conn, n).decode("utf-8", "replace")


def _block(data: str | bytes) -> bytes:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return b"%04x" % len(raw) + raw


def _fail(conn: socket.socket, message: str) -> None:
    conn.sendall(b"FAIL" + _block(message))


class AdbServer:
    """The listening socket and the per-connection protocol; ``registry`` is the ``SimPhoneServer``."""

    def __init__(self, registry: "SimPhoneServer", host: str = "127.0.0.1", port: int = 0):
        self.registry = registry
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(128)
        self.sock.settimeout(0.2)
        self.host = host
        self.port = self.sock.getsockname()[1]
        self._closed = threading.Event()
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept_loop, name=f"sim-adb-{self.port}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self._thread.join(timeout=2)
        self.sock.close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(None)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._conns.add(conn)
            threading.Thread(target=self._serve, args=(conn,), name="sim-adb-conn", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self._host_request(conn)
        except (_Closed, OSError):
            pass
        finally:
            with self._lock:
                self._conns.discard(conn)
            try:
                conn.close()
            except OSError:
                pass

    # ------------------------------------------------------------ host requests
    def _phone(self, serial: str) -> Optional["SimPhone"]:
        phone = self.registry.get(serial)
        return phone if phone is not None and not phone.is_offline else None

    def _any(self) -> tuple[Optional["SimPhone"], str]:
        online = self.registry.online()
        if not online:
            return None, "no devices/emulators found"
        if len(online) > 1:
            return None, "more than one device/emulator"
        return online[0], ""

    def _by_tid(self, tid: str) -> Optional["SimPhone"]:
        for p in self.registry.online():
            if str(p.transport_id) == tid:
                return p
        return None

    def _host_request(self, conn: socket.socket) -> None:
        req = _read_request(conn)
        if req == "host:version":
            conn.sendall(b"OKAY" + _block(b"%04x" % ADB_VERSION))
        elif req in ("host:devices", "host:devices-l"):
            lines = []
            for p in self.registry.online():
                if req.endswith("-l"):
                    model = re.sub(r"\s+", "_", p.model)
                    lines.append(f"{p.serial:<22} device product:{p.props['ro.product.name']} model:{model} "
                                 f"device:{p.props['ro.product.device']} transport_id:{p.transport_id}\n")
                else:
                    lines.append(f"{p.serial}\tdevice\n")
            conn.sendall(b"OKAY" + _block("".join(lines)))
        elif req == "host:kill":
            conn.sendall(b"OKAY")
        elif req.startswith("host:tport:"):
            target = req[len("host:tport:"):]
            if target.startswith("serial:"):
                serial = target[len("serial:"):]
                phone, err = self._phone(serial), f"device '{serial}' not found"
            elif target in ("any", "usb", "local"):
                phone, err = self._any()
            else:
                phone, err = None, f"unknown transport {target}"
            if phone is None:
                _fail(conn, err)
                return
            conn.sendall(b"OKAY" + struct.pack("<Q", phone.transport_id))
            self._device_service(conn, phone)
        elif req.startswith("host:transport:"):
            serial = req[len("host:transport:"):]
            phone = self._phone(serial)
            if phone is None:
                _fail(conn, f"device '{serial}' not found")
                return
            conn.sendall(b"OKAY")
            self._device_service(conn, phone)
        elif req in ("host:transport-any", "host:transport-usb", "host:transport-local"):
            phone, err = self._any()
            if phone is None:
                _fail(conn, err)
                return
            conn.sendall(b"OKAY")
            self._device_service(conn, phone)
        elif req.startswith("host:transport-id:"):
            phone = self._by_tid(req[len("host:transport-id:"):])
            if phone is None:
                _fail(conn, "no device with transport id '%s'" % req[len("host:transport-id:"):])
                return
            conn.sendall(b"OKAY")
            self._device_service(conn, phone)
        elif req.startswith("host-serial:"):
            rest = req[len("host-serial:"):]
            serial = next((p.serial for p in sorted(self.registry.phones, key=lambda p: -len(p.serial))
                           if rest.startswith(p.serial + ":")), None)
            if serial is None:
                serial, _, cmd = rest.rpartition(":")
            else:
                cmd = rest[len(serial) + 1:]
            self._device_query(conn, serial, cmd, lambda: self._phone(serial))
        elif req.startswith("host-transport-id:"):
            tid, _, cmd = req[len("host-transport-id:"):].partition(":")
            self._device_query(conn, f"transport id {tid}", cmd, lambda: self._by_tid(tid))
        elif req.startswith(("host:connect:", "host:disconnect:")):
            addr = req.split(":", 2)[2]
            verb = "connect" if req.startswith("host:connect:") else "disconnect"
            conn.sendall(b"OKAY" + _block(f"failed to {verb} to {addr}: the sim adb server has no network "
                                          f"devices"))
        else:
            _fail(conn, f"unknown host service {req.split(':', 2)[:2]}")

    def _device_query(self, conn: socket.socket, label: str, cmd: str,
                      find: Callable[[], Optional["SimPhone"]]) -> None:
        if cmd.startswith("wait-for-"):
            want = cmd.rsplit("-", 1)[-1]
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not self._closed.is_set():
                phone = find()
                if (phone is not None) == (want != "disconnect"):
                    conn.sendall(b"OKAYOKAY")
                    return
                readable, _, _ = select.select([conn], [], [], 0.1)
                if readable:  # the client gave up (closed its end)
                    return
            return
        phone = find()
        if phone is None:
            _fail(conn, f"device '{label}' not found")
            return
        answers = {"features": FEATURES, "get-state": phone.state, "get-serialno": phone.serial,
                   "get-devpath": f"usb:sim-{phone.transport_id}", "get-product": phone.props["ro.product.name"]}
        if cmd in answers:
            conn.sendall(b"OKAY" + _block(answers[cmd]))
        elif cmd.startswith(("forward:", "killforward", "list-forward", "reverse:")):
            _fail(conn, "port forwarding is not supported by the sim phone; use the tcp: service")
        else:
            _fail(conn, f"unsupported device query '{cmd}'")

    # ------------------------------------------------------------ device services
    def _device_service(self, conn: socket.socket, phone: "SimPhone") -> None:
        req = _read_request(conn)
        phone.track(conn, "service")
        try:
            if req.startswith("shell,"):
                opts, _, cmd = req[len("shell,"):].partition(":")
                self._shell(conn, phone, cmd, v2="v2" in opts.split(","))
            elif req.startswith("shell:"):
                self._shell(conn, phone, req[len("shell:"):], v2=False)
            elif req.startswith("exec:"):
                self._shell(conn, phone, req[len("exec:"):], v2=False)
            elif req == "sync:":
                phone.track(conn, "sync")
                conn.sendall(b"OKAY")
                self._sync(conn, phone)
            elif req.startswith("tcp:"):
                try:
                    port = int(req[len("tcp:"):].split(":", 1)[0])
                except ValueError:
                    _fail(conn, "bad tcp address")
                    return
                if not phone.server_alive(port):
                    _fail(conn, "closed")
                    return
                phone.track(conn, "http")
                conn.sendall(b"OKAY")
                rpc.serve_http(conn, phone, port)
            else:
                _fail(conn, "closed")
        finally:
            phone.untrack(conn)

    def _shell(self, conn: socket.socket, phone: "SimPhone", cmd: str, v2: bool) -> None:
        out = ShellIO(conn, v2)
        phone.track(conn, "shell")
        phone.stats["shell"] += 1

        def hold(port: int) -> bool:
            if not phone.start_server(port, conn):
                return False
            phone.track(conn, "launch")
            out.begin()
            try:
                while conn.recv(4096):
                    pass
            except OSError:
                pass
            finally:
                phone.stop_server(conn)
            return True

        rc = Shell(phone, out, hold).run(cmd)
        try:
            out.exit(rc)
        except OSError:
            pass

    def _sync(self, conn: socket.socket, phone: "SimPhone") -> None:
        fs = phone.fs
        while True:
            try:
                head = _recv_exact(conn, 8)
            except _Closed:
                return
            cmd, n = head[:4], struct.unpack("<I", head[4:])[0]
            if cmd == b"QUIT":
                return
            if n > 4096:
                _sync_fail(conn, "path too long")
                return
            path = _recv_exact(conn, n).decode("utf-8", "replace")
            if cmd == b"STAT":
                st = fs.stat(path) or (0, 0, 0)
                conn.sendall(b"STAT" + struct.pack("<III", *st))
            elif cmd in (b"STA2", b"LST2"):
                st = fs.stat(path)
                err, (mode, size, mtime) = (0, st) if st else (2, (0, 0, 0))
                conn.sendall(cmd + struct.pack("<IQQIIIIQqqq", err, 1, 1, mode, 1, 2000, 2000, size,
                                               mtime, mtime, mtime))
            elif cmd == b"LIST":
                for name, mode, size, mtime in fs.listdir(path) or []:
                    raw = name.encode("utf-8")
                    conn.sendall(b"DENT" + struct.pack("<IIII", mode, size, mtime, len(raw)) + raw)
                conn.sendall(b"DONE" + b"\0" * 16)
            elif cmd == b"RECV":
                data = fs.read(path)
                if data is None:
                    _sync_fail(conn, "remote object '%s' does not exist" % path)
                    continue
                for i in range(0, len(data), 65536):
                    chunk = data[i:i + 65536]
                    conn.sendall(b"DATA" + struct.pack("<I", len(chunk)) + chunk)
                conn.sendall(b"DONE" + b"\0" * 4)
            elif cmd == b"SEND":
                dest, _, mode_text = path.rpartition(",")
                if not dest:
                    dest, mode_text = path, "33188"
                try:
                    mode = int(mode_text)
                except ValueError:
                    mode = 0o100644
                data = bytearray()
                mtime = 0
                while True:
                    h = _recv_exact(conn, 8)
                    c, ln = h[:4], struct.unpack("<I", h[4:])[0]
                    if c == b"DATA":
                        if ln > 65536 or len(data) + ln > MAX_PUSH:
                            _sync_fail(conn, "data too large")
                            return
                        data.extend(_recv_exact(conn, ln))
                    elif c == b"DONE":
                        mtime = ln
                        break
                    else:
                        _sync_fail(conn, "invalid data message")
                        return
                parent = fs.norm(dest).rsplit("/", 1)[0] or "/"
                fs.mkdir(parent, parents=True)
                if fs.write(dest, bytes(data), mode, mtime or None):
                    phone.stats["push"] += 1
                    conn.sendall(b"OKAY" + b"\0" * 4)
                else:
                    _sync_fail(conn, f"couldn't create file: {dest}: Is a directory")
            else:
                _sync_fail(conn, "unknown sync command")
                return


def _sync_fail(conn: socket.socket, message: str) -> None:
    raw = message.encode("utf-8")
    conn.sendall(b"FAIL" + struct.pack("<I", len(raw)) + raw)


class ShellIO:
    """Where a shell session writes: raw bytes after ``OKAY`` (v1), or shell-protocol packets (v2).

    ``OKAY`` goes out with the first output (or at the end), so a stream the interpreter holds open
    (the uiautomator launch) is registered before the client hears back.
    """

    def __init__(self, conn: socket.socket, v2: bool):
        self.conn, self.v2, self.started = conn, v2, False

    def begin(self) -> None:
        if not self.started:
            self.started = True
            self.conn.sendall(b"OKAY")

    def _packet(self, kind: int, data: bytes) -> None:
        self.conn.sendall(bytes([kind]) + struct.pack("<I", len(data)) + data)

    def out(self, data: bytes) -> None:
        if data:
            self.begin()
            self._packet(1, data) if self.v2 else self.conn.sendall(data)

    def err(self, data: bytes) -> None:
        if data:
            self.begin()
            self._packet(2, data) if self.v2 else self.conn.sendall(data)

    def exit(self, rc: int) -> None:
        self.begin()
        if self.v2:
            self._packet(3, bytes([rc & 0xFF]))


# ---------------------------------------------------------------- the command interpreter


class ShellSyntax(Exception):
    pass


def tokenize(line: str) -> list[tuple[str, Any]]:
    """Words (quotes removed, ``$?`` marked), operators (``; && || | &``) and redirections."""
    toks: list[tuple[str, Any]] = []
    cur: list[str] = []
    have = False
    i, n = 0, len(line)

    def flush() -> None:
        nonlocal cur, have
        if have:
            toks.append(("w", "".join(cur)))
        cur, have = [], False

    while i < n:
        c = line[i]
        if c in " \t\r\n":
            flush()
            i += 1
        elif c == "'":
            j = line.find("'", i + 1)
            if j < 0:
                raise ShellSyntax("syntax error: unterminated quoted string")
            cur.append(line[i + 1:j])
            have = True
            i = j + 1
        elif c == '"':
            i += 1
            have = True
            while True:
                if i >= n:
                    raise ShellSyntax("syntax error: unterminated quoted string")
                c = line[i]
                if c == '"':
                    i += 1
                    break
                if c == "\\" and i + 1 < n and line[i + 1] in '\\"$`\n':
                    cur.append(line[i + 1])
                    i += 2
                elif line.startswith("$?", i):
                    cur.append(RC)
                    i += 2
                else:
                    cur.append(c)
                    i += 1
        elif c == "\\":
            if i + 1 < n:
                cur.append(line[i + 1])
                have = True
            i += 2
        elif line.startswith("$?", i):
            cur.append(RC)
            have = True
            i += 2
        elif c in ";&|":
            flush()
            two = line[i:i + 2]
            if two in ("&&", "||"):
                toks.append(("op", two))
                i += 2
            else:
                toks.append(("op", c))
                i += 1
        elif c in "<>":
            fd = None
            if have and cur and "".join(cur).isdigit():
                fd = int("".join(cur))
                cur, have = [], False
            flush()
            if line.startswith(">>", i):
                mode, i = ">>", i + 2
            elif line.startswith(">&", i):
                mode, i = ">&", i + 2
            else:
                mode, i = c, i + 1
            toks.append(("redir", (fd if fd is not None else (0 if mode == "<" else 1), mode)))
        elif c == "#" and not have:
            break
        else:
            cur.append(c)
            have = True
            i += 1
    flush()
    return toks


Command = tuple[list[str], list[tuple[int, str, str]]]


def parse(toks: list[tuple[str, Any]]) -> list[tuple[str, list[Command]]]:
    """``[(connector, pipeline)]``: the connector (``;``, ``&&``, ``||``) joins a pipeline to the one before."""
    seq: list[tuple[str, list[Command]]] = []
    pipeline: list[Command] = []
    argv: list[str] = []
    redirs: list[tuple[int, str, str]] = []
    connector = ";"
    i = 0
    while i < len(toks):
        kind, val = toks[i]
        if kind == "w":
            argv.append(val)
        elif kind == "redir":
            if i + 1 >= len(toks) or toks[i + 1][0] != "w":
                raise ShellSyntax("syntax error: unexpected redirection")
            redirs.append((val[0], val[1], toks[i + 1][1]))
            i += 1
        elif val == "|":
            if not argv:
                raise ShellSyntax("syntax error: unexpected '|'")
            pipeline.append((argv, redirs))
            argv, redirs = [], []
        else:
            if not (argv or redirs):  # an operator with no command before it
                raise ShellSyntax(f"syntax error: unexpected '{val}'")
            pipeline.append((argv, redirs))
            seq.append((connector, pipeline))
            pipeline, argv, redirs = [], [], []
            connector = val if val in ("&&", "||") else ";"
        i += 1
    if argv or redirs:
        pipeline.append((argv, redirs))
    if pipeline:
        seq.append((connector, pipeline))
    elif connector in ("&&", "||"):
        raise ShellSyntax(f"syntax error: unexpected end of file after '{connector}'")
    return seq


Result = tuple[Any, Any, int]  # stdout, stderr (str or bytes), exit code


class Shell:
    """Runs one ``adb shell`` command line against a ``SimPhone``. Nothing here reaches the host system."""

    def __init__(self, phone: "SimPhone", io_: ShellIO, hold: Callable[[int], bool]):
        self.phone = phone
        self.io = io_
        self.hold = hold
        self.rc = 0
        self.commands: dict[str, Callable[[list[str], bytes, dict], Result]] = {
            "echo": self.c_echo, "true": lambda a, i, e: ("", "", 0), "false": lambda a, i, e: ("", "", 1),
            "getprop": self.c_getprop, "setprop": self.c_setprop, "wm": self.c_wm, "dumpsys": self.c_dumpsys,
            "am": self.c_am, "monkey": self.c_monkey, "pm": self.c_pm, "ps": self.c_ps, "pidof": self.c_pidof,
            "ime": self.c_ime, "settings": self.c_settings, "input": self.c_input, "screencap": self.c_screencap,
            "uiautomator": self.c_uiautomator, "svc": self.c_svc, "app_process": self.c_app_process,
            "ls": self.c_ls, "cat": self.c_cat, "rm": self.c_rm, "mkdir": self.c_mkdir, "touch": self.c_touch,
            "chmod": self.c_chmod, "md5sum": self.c_md5sum, "md5": self.c_md5sum, "toybox": self.c_toybox,
            "grep": self.c_grep, "sleep": self.c_sleep, "id": self.c_id, "whoami": lambda a, i, e: ("shell\n", "", 0),
            "uname": self.c_uname, "date": lambda a, i, e: (time.strftime("%a %b %d %H:%M:%S %Z %Y\n"), "", 0),
            "which": self.c_which, "sh": self.c_sh, "pwd": lambda a, i, e: ("/\n", "", 0),
        }
        self.toybox = {"echo", "true", "false", "ls", "cat", "rm", "mkdir", "touch", "chmod", "md5sum", "grep",
                       "sleep", "id", "whoami", "uname", "date", "which", "pidof", "ps", "pwd"}

    # ------------------------------------------------------------ the language
    def run(self, line: str) -> int:
        try:
            seq = parse(tokenize(line))
        except ShellSyntax as exc:
            self._emit("", f"/system/bin/sh: {exc}\n")
            return 2
        rc = 0
        for connector, pipeline in seq:
            if (connector == "&&" and rc != 0) or (connector == "||" and rc == 0):
                continue
            stdin = b""
            for k, (argv, redirs) in enumerate(pipeline):
                argv = [a.replace(RC, str(rc)) for a in argv]
                out, err, code = self._one(argv, redirs, stdin, rc)
                if k == len(pipeline) - 1:
                    self._emit(out, err)
                else:
                    self._emit(b"", err)
                    stdin = _bytes(out)
                rc = code
        self.rc = rc
        return rc

    def _emit(self, out: Any, err: Any) -> None:
        self.io.out(_bytes(out))
        self.io.err(_bytes(err))

    def _one(self, argv: list[str], redirs: list[tuple[int, str, str]], stdin: bytes, rc: int) -> Result:
        env: dict[str, str] = {}
        while argv and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", argv[0]):
            k, _, v = argv.pop(0).partition("=")
            env[k] = v
        fs = self.phone.fs
        for fd, mode, target in redirs:
            if mode == "<":
                data = fs.read(target.replace(RC, str(rc)))
                if data is None:
                    return "", f"/system/bin/sh: can't open '{target}': No such file or directory\n", 1
                stdin = data
        if not argv:
            out, err, code = "", "", 0
        else:
            name = argv[0]
            base = name.rsplit("/", 1)[-1] if name.startswith(("/system/bin/", "/system/xbin/", "/bin/")) else name
            handler = self.commands.get(base)
            self.phone.stats[f"cmd_{base}"] += 1
            if handler is None:
                out, err, code = "", f"/system/bin/sh: {name}: inaccessible or not found\n", 127
            else:
                try:
                    out, err, code = handler(argv[1:], stdin, env)
                except (ValueError, IndexError) as exc:
                    out, err, code = "", f"{base}: bad arguments: {exc}\n", 1
        out, err = _bytes(out), _bytes(err)
        for fd, mode, target in redirs:
            target = target.replace(RC, str(rc))
            if mode == ">&":
                if fd == 2 and target == "1":
                    out, err = out + err, b""
                elif fd == 1 and target == "2":
                    out, err = b"", err + out
            elif mode in (">", ">>"):
                data = out if fd == 1 else err
                if target != "/dev/null" and not fs.write(target, data, append=mode == ">>"):
                    err += f"/system/bin/sh: can't create {target}: No such file or directory\n".encode()
                    code = 1
                if fd == 1:
                    out = b""
                else:
                    err = b""
        return out, err, code

    # ------------------------------------------------------------ plain tools
    def c_echo(self, a, stdin, env) -> Result:
        newline = True
        while a and a[0] in ("-n", "-e", "-ne", "-en"):
            newline = newline and "n" not in a[0]
            a = a[1:]
        return " ".join(a) + ("\n" if newline else ""), "", 0

    def c_sleep(self, a, stdin, env) -> Result:
        time.sleep(min(5.0, max(0.0, float(a[0]) if a else 0.0)))
        return "", "", 0

    def c_id(self, a, stdin, env) -> Result:
        return "uid=2000(shell) gid=2000(shell) groups=2000(shell),1004(input),1007(log),1011(adb),1015(sdcard_rw)," \
               "3003(inet) context=u:r:shell:s0\n", "", 0

    def c_uname(self, a, stdin, env) -> Result:
        if "-a" in a:
            return "Linux localhost 6.1.0-handa-sim #1 SMP PREEMPT x86_64 Toybox\n", "", 0
        return "Linux\n", "", 0

    def c_which(self, a, stdin, env) -> Result:
        found = [f"/system/bin/{x}" for x in a if x in self.commands]
        return "".join(f + "\n" for f in found), "", 0 if len(found) == len(a) and a else 1

    def c_sh(self, a, stdin, env) -> Result:
        if len(a) >= 2 and a[0] == "-c":
            return "", "", self.run(a[1])
        return "", "/system/bin/sh: interactive shells are not supported by the sim phone\n", 1

    def c_toybox(self, a, stdin, env) -> Result:
        if not a:
            return " ".join(sorted(self.toybox)) + "\n", "", 0
        if a[0] not in self.toybox:
            return "", f"toybox: Unknown command {a[0]}\n", 1
        return self.commands[a[0]](a[1:], stdin, env)

    def c_grep(self, a, stdin, env) -> Result:
        flags, rest = set(), []
        for x in a:
            if x.startswith("-") and len(x) > 1 and not rest:
                flags.update(x[1:])
            else:
                rest.append(x)
        if not rest:
            return "", "usage: grep [-civqEF] PATTERN [FILE]...\n", 2
        pattern, files = rest[0], rest[1:]
        data = stdin
        if files:
            data = b"".join(self.phone.fs.read(f) or b"" for f in files)
        text = data.decode("utf-8", "replace")
        try:
            rx = re.compile(re.escape(pattern) if "F" in flags else pattern, re.I if "i" in flags else 0)
        except re.error:
            return "", f"grep: bad regex '{pattern}'\n", 2
        lines = [ln for ln in text.splitlines() if bool(rx.search(ln)) != ("v" in flags)]
        if "q" in flags:
            return "", "", 0 if lines else 1
        if "c" in flags:
            return f"{len(lines)}\n", "", 0 if lines else 1
        return "".join(ln + "\n" for ln in lines), "", 0 if lines else 1

    # ------------------------------------------------------------ files
    def c_ls(self, a, stdin, env) -> Result:
        long = any(x.startswith("-") and "l" in x for x in a)
        paths = [x for x in a if not x.startswith("-")] or ["/"]
        fs = self.phone.fs
        out, err, rc = [], [], 0
        for p in paths:
            st = fs.stat(p)
            if st is None:
                err.append(f"ls: {p}: No such file or directory\n")
                rc = 1
                continue
            entries = fs.listdir(p) if fs.is_dir(p) else [(p, *st)]
            for name, mode, size, mtime in entries:
                if long:
                    kind = "d" if mode & 0o040000 else "-"
                    perms = "".join((c if mode & (1 << (8 - i)) else "-") for i, c in enumerate("rwxrwxrwx"))
                    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(mtime))
                    out.append(f"{kind}{perms} 1 shell shell {size:>8} {stamp} {name}\n")
                else:
                    out.append(name + "\n")
        return "".join(out), "".join(err), rc

    def c_cat(self, a, stdin, env) -> Result:
        if not a:
            return stdin, "", 0
        out, err, rc = b"", "", 0
        for p in a:
            data = self.phone.fs.read(p)
            if data is None:
                err += f"cat: {p}: No such file or directory\n"
                rc = 1
            else:
                out += data
        return out, err, rc

    def c_rm(self, a, stdin, env) -> Result:
        flags = "".join(x[1:] for x in a if x.startswith("-"))
        err, rc = "", 0
        for p in (x for x in a if not x.startswith("-")):
            if not self.phone.fs.remove(p, recursive="r" in flags or "R" in flags) and "f" not in flags:
                err += f"rm: {p}: No such file or directory\n" if self.phone.fs.stat(p) is None \
                    else f"rm: {p}: Is a directory\n"
                rc = 1
        return "", err, rc

    def c_mkdir(self, a, stdin, env) -> Result:
        parents = "-p" in a
        err, rc = "", 0
        for p in (x for x in a if not x.startswith("-")):
            if self.phone.fs.is_dir(p) and parents:
                continue
            if self.phone.fs.stat(p) is not None or not self.phone.fs.mkdir(p, parents=parents):
                why = "File exists" if self.phone.fs.stat(p) else "No such file or directory"
                err += f"mkdir: '{p}': {why}\n"
                rc = 1
        return "", err, rc

    def c_touch(self, a, stdin, env) -> Result:
        for p in (x for x in a if not x.startswith("-")):
            data = self.phone.fs.read(p)
            if not self.phone.fs.write(p, data or b""):
                return "", f"touch: '{p}': No such file or directory\n", 1
        return "", "", 0

    def c_chmod(self, a, stdin, env) -> Result:
        if len(a) < 2:
            return "", "chmod: Needs 2 arguments\n", 1
        fs = self.phone.fs
        for p in a[1:]:
            with fs.lock:
                entry = fs.files.get(fs.norm(p))
                if entry is None:
                    if fs.norm(p) in fs.dirs:
                        continue
                    return "", f"chmod: {p}: No such file or directory\n", 1
                if re.fullmatch(r"[0-7]{3,4}", a[0]):
                    entry[1] = (entry[1] & ~0o7777) | int(a[0], 8)
        return "", "", 0

    def c_md5sum(self, a, stdin, env) -> Result:
        if not a:
            return hashlib.md5(stdin).hexdigest() + "  -\n", "", 0
        out, err, rc = "", "", 0
        for p in a:
            data = self.phone.fs.read(p)
            if data is None:
                err += f"md5sum: {p}: No such file or directory\n" if not self.phone.fs.is_dir(p) \
                    else f"md5sum: {p}: Is a directory\n"
                rc = 1
            else:
                out += f"{hashlib.md5(data).hexdigest()}  {p}\n"
        return out, err, rc

    # ------------------------------------------------------------ Android tools
    def c_getprop(self, a, stdin, env) -> Result:
        props = self.phone.props
        if not a:
            return "".join(f"[{k}]: [{v}]\n" for k, v in sorted(props.items())), "", 0
        return props.get(a[0], a[1] if len(a) > 1 else "") + "\n", "", 0

    def c_setprop(self, a, stdin, env) -> Result:
        if len(a) != 2:
            return "", "usage: setprop NAME VALUE\n", 1
        if a[0].startswith("ro."):
            return "", f"Failed to set property '{a[0]}' to '{a[1]}'.\nSee dmesg for error reason.\n", 1
        self.phone.props[a[0]] = a[1]
        return "", "", 0

    def c_wm(self, a, stdin, env) -> Result:
        w, h = self.phone.size
        if a == ["size"]:
            return f"Physical size: {w}x{h}\n", "", 0
        if a == ["density"]:
            return f"Physical density: {self.phone.density}\n", "", 0
        return "", f"Error: the sim phone does not support 'wm {' '.join(a)}'\n", 255

    def c_dumpsys(self, a, stdin, env) -> Result:
        ph = self.phone
        if not a:
            return "Currently running services:\n  SurfaceFlinger\n  activity\n  battery\n  display\n" \
                   "  input_method\n  package\n  power\n  window\n", "", 0
        service, args = a[0], a[1:]
        pkg, act = ph.current()
        token = f"{ph.pid_of(pkg) * 7919 & 0xFFFFFFF:07x}"
        w, h = ph.size
        if service == "window":
            return (f"WINDOW MANAGER WINDOWS (dumpsys window windows)\n"
                    f"  Window #0 Window{{{token} u0 {pkg}/{act}}}:\n"
                    f"    mDisplayId=0 rootTaskId=1 mSession=Session{{{token[:6]} {ph.pid_of(pkg)}:u0a10050}}\n"
                    f"    mFrame=[0,0][{w},{h}]\n"
                    f"  Window #1 Window{{{token[::-1]} u0 StatusBar}}:\n"
                    f"  Window #2 Window{{{token[1:]}0 u0 NavigationBar0}}:\n\n"
                    f"  mGlobalConfiguration={{1.0 ?mcc?mnc [ko_KR] ldltr sw{ph.device.size[0]}dp}}\n"
                    f"  mCurrentFocus=Window{{{token} u0 {pkg}/{act}}}\n"
                    f"  mFocusedApp=ActivityRecord{{{token[2:]}0 u0 {pkg}/{act} t12}}\n"), "", 0
        if service == "activity":
            if args[:1] == ["top"]:
                return (f"TASK 12 id=12 userId=0\n  ACTIVITY {pkg}/{act} {token} pid={ph.pid_of(pkg)}\n"
                        f"    Local Activity {token} State:\n"), "", 0
            return (f"ACTIVITY MANAGER ACTIVITIES (dumpsys activity activities)\n"
                    f"  mResumedActivity: ActivityRecord{{{token} u0 {pkg}/{act} t12}}\n"
                    f"  ResumedActivity: ActivityRecord{{{token} u0 {pkg}/{act} t12}}\n"), "", 0
        if service == "display":
            return (f"DISPLAY MANAGER (dumpsys display)\n  mOnlyCore=false\n"
                    f"  mDefaultViewport=DisplayViewport{{type=INTERNAL, valid=true, isActive=true, "
                    f"displayId=0, uniqueId='local:{SF_DISPLAY_ID}', physicalPort=0, orientation=0, "
                    f"logicalFrame=Rect(0, 0 - {w}, {h}), physicalFrame=Rect(0, 0 - {w}, {h}), "
                    f"deviceWidth={w}, deviceHeight={h}}}\n"
                    f"  mBaseDisplayInfo=DisplayInfo{{\"Built-in Screen\", displayId 0, real {w} x {h}, "
                    f"rotation 0, density {ph.density}, state ON}}\n"), "", 0
        if service == "SurfaceFlinger":
            if "--display-id" in args or "--displays" in args:
                return f"Display {SF_DISPLAY_ID} (HWC display 0): port=0 pnpId=HND displayName=\"Handa Sim\"\n", "", 0
            return f"SurfaceFlinger (sim)\nDisplay {SF_DISPLAY_ID} HWC layers: {w}x{h}\n", "", 0
        if service == "package":
            if not args or args[0] not in ph.all_packages():
                return "", "", 0
            p = args[0]
            return (f"Activity Resolver Table:\n  Non-Data Actions:\n      android.intent.action.MAIN:\n"
                    f"        {token} {p}/{ph.activity_of(p) or '.Main'} filter {token[:6]}\n\n"
                    f"Packages:\n  Package [{p}] ({token}):\n    userId=10050\n    pkg=Package{{{token} {p}}}\n"
                    f"    codePath=/data/app/~~sim==/{p}-1==\n    versionCode=1 minSdk=26 targetSdk=35\n"
                    f"    versionName=1.0\n    pkgFlags=[ HAS_CODE ALLOW_CLEAR_USER_DATA ]\n"
                    f"    firstInstallTime=2026-01-01 09:00:00\n    lastUpdateTime=2026-01-01 09:00:00\n"
                    f"    signatures=PackageSignatures{{{token} version:2, signatures:[{token[:8]}], "
                    f"past signatures:[]}}\n"), "", 0
        if service == "power":
            on = ph.screen_on
            return (f"POWER MANAGER (dumpsys power)\n  mWakefulness={'Awake' if on else 'Asleep'}\n"
                    f"  mHoldingDisplaySuspendBlocker={'true' if on else 'false'}\n"
                    f"  Display Power: state={'ON' if on else 'OFF'}\n"), "", 0
        if service == "input_method":
            ime = ph.settings[("secure", "default_input_method")]
            return f"  mCurMethodId={ime}\n  mInputShown=false\n", "", 0
        if service == "battery":
            return "Current Battery Service state:\n  AC powered: true\n  level: 87\n  scale: 100\n", "", 0
        return f"Can't find service: {service}\n", "", 0

    def c_am(self, a, stdin, env) -> Result:
        ph = self.phone
        if not a:
            return "", "usage: am [start|force-stop|broadcast|kill] ...\n", 1
        sub, args = a[0], a[1:]
        if sub in ("start", "start-activity"):
            opts: dict[str, str] = {}
            flags: set[str] = set()
            i = 0
            while i < len(args):
                x = args[i]
                if x in ("-a", "-c", "-d", "-n", "-t", "-f", "--user", "-p"):
                    opts[x] = args[i + 1]
                    i += 2
                elif x in ("--es", "--ei", "--ez", "--el", "--ef", "--eu", "-e", "--esa", "--eia"):
                    i += 3
                elif x.startswith("-"):
                    flags.add(x)
                    i += 1
                else:
                    opts.setdefault("-n", x) if "/" in x else opts.setdefault("-p", x)
                    i += 1
            comp, action, data = opts.get("-n"), opts.get("-a"), opts.get("-d")
            intent = " ".join(filter(None, [f"act={action}" if action else "", f"dat={data}" if data else "",
                                            f"cmp={comp}" if comp else ""]))
            head = f"Starting: Intent {{ {intent} }}\n"
            if comp:
                pkg, _, act = comp.partition("/")
                if "-S" in flags:
                    ph.force_stop(pkg)
                if not ph.launch(pkg, act or None):
                    return head, f"Error type 3\nError: Activity class {{{comp}}} does not exist.\n", 1
                return head, "", 0
            if action == "android.intent.action.VIEW" and data:
                if ph.open_url(data):
                    return head, "", 0
                return head, (f"Error: Activity not started, unable to resolve Intent {{ act={action} "
                              f"dat={data} flg=0x10000000 }}\n"), 1
            if opts.get("-c") == "android.intent.category.HOME" or action == "android.intent.action.MAIN" \
                    and opts.get("-c") == "android.intent.category.HOME":
                ph.launch("com.handa.launcher")
                return head, "", 0
            if opts.get("-p") and ph.launch(opts["-p"]):
                return head, "", 0
            return head, f"Error: Activity not started, unable to resolve Intent {{ {intent} flg=0x10000000 }}\n", 1
        if sub in ("force-stop", "kill"):
            if args:
                if sub == "force-stop":
                    ph.force_stop(args[-1])
                return "", "", 0
            return "", f"usage: am {sub} PACKAGE\n", 1
        if sub == "broadcast":
            action = args[args.index("-a") + 1] if "-a" in args and args.index("-a") + 1 < len(args) else ""
            return f"Broadcasting: Intent {{ act={action} flg=0x400000 }}\nBroadcast completed: result=0\n", "", 0
        return "", f"Error: unknown command '{sub}'\n", 255

    def c_monkey(self, a, stdin, env) -> Result:
        if "-p" not in a or a.index("-p") + 1 >= len(a):
            return "", "** monkey: the sim phone only runs 'monkey -p PACKAGE ... 1' (app launches)\n", 1
        pkg = a[a.index("-p") + 1]
        if not self.phone.launch(pkg):
            return "", "** No activities found to run, monkey aborted.\n", 252
        args = "".join(f"  bash arg: {x}\n" for x in a)
        return args + "args: " + str(a).replace("'", "") + "\n arg: \"-p\"\nEvents injected: 1\n" \
            "## Network stats: elapsed time=12ms (0ms mobile, 0ms wifi, 12ms not connected)\n", "", 0

    def c_pm(self, a, stdin, env) -> Result:
        ph = self.phone
        if not a:
            return "", "usage: pm [list|path|clear] ...\n", 1
        if a[:2] == ["list", "packages"]:
            opts = [x for x in a[2:] if x.startswith("-")]
            filt = next((x for x in a[2:] if not x.startswith("-")), "")
            third = set(ph.packages)
            names = [p for p in ph.all_packages()
                     if ("-3" not in opts or p in third) and ("-s" not in opts or p not in third) and filt in p]
            if "-f" in opts:
                return "".join(f"package:/data/app/~~sim==/{p}-1==/base.apk={p}\n" for p in names), "", 0
            return "".join(f"package:{p}\n" for p in names), "", 0
        if a[0] == "path" and len(a) > 1:
            if a[1] in ph.all_packages():
                return f"package:/data/app/~~sim==/{a[1]}-1==/base.apk\n", "", 0
            return "", "", 1
        if a[0] == "clear" and len(a) > 1:
            if a[1] in ph.all_packages():
                ph.force_stop(a[1])
                return "Success\n", "", 0
            return "Failed\n", "", 1
        if a[0] == "install":
            return "", "Failure [INSTALL_FAILED_INVALID_APK: the sim phone installs no apps]\n", 1
        return "", f"Unknown command: {a[0]}\n", 255

    def _ps_rows(self) -> list[tuple[str, int, int, str]]:
        rows = [("root", 1, 0, "init"), ("root", 2, 0, "[kthreadd]"), ("system", 480, 1, "system_server"),
                ("u0_a70", 612, 480, "com.android.systemui"),
                ("u0_a73", 845, 480, "com.google.android.inputmethod.latin")]
        for p in self.phone.running():
            rows.append(("u0_a" + str(50 + len(rows)), self.phone.pid_of(p), 480, p))
        if self.phone.server_alive():
            rows.append(("shell", 3900, 1, "app_process"))
        return rows

    def c_ps(self, a, stdin, env) -> Result:
        if not a:  # without -A, Android's ps shows only this shell's processes
            return "USER           PID  PPID     VSZ    RSS WCHAN            ADDR S NAME\n" \
                   "shell         4211  4200   10828   3148 __do_sys_+          0 S sh\n", "", 0
        lines = ["USER           PID  PPID     VSZ    RSS WCHAN            ADDR S NAME"]
        for user, pid, ppid, name in self._ps_rows():
            lines.append(f"{user:<10} {pid:>8} {ppid:>5} {14_000_000 + pid:>11} {90000 + pid % 997:>6} "
                         f"do_epoll_wait{'':<3} 0 S {name}")
        return "\n".join(lines) + "\n", "", 0

    def c_pidof(self, a, stdin, env) -> Result:
        pids = [str(pid) for _, pid, _, name in self._ps_rows() if name in a]
        return (" ".join(pids) + "\n", "", 0) if pids else ("", "", 1)

    def c_ime(self, a, stdin, env) -> Result:
        ph = self.phone
        latin = "com.google.android.inputmethod.latin/com.android.inputmethod.latin.LatinIME"
        if a[:1] == ["list"]:
            if "-s" in a:
                return latin + "\n", "", 0
            return f"{latin}:\n  mId={latin} mSettingsActivityName=null\n", "", 0
        if a[:1] in (["enable"], ["set"]) and len(a) > 1:
            if a[1] != latin:
                return "", f"Unknown input method {a[1]} cannot be {'enabled' if a[0] == 'enable' else 'selected'}" \
                           f" for user #0\n", 255
            if a[0] == "set":
                ph.settings[("secure", "default_input_method")] = latin
            return f"Input method {latin} {'enabled' if a[0] == 'enable' else 'selected'} for user #0\n", "", 0
        return "", "usage: ime [list|enable|set] ...\n", 1

    def c_settings(self, a, stdin, env) -> Result:
        st = self.phone.settings
        if len(a) >= 3 and a[0] == "get":
            return st.get((a[1], a[2]), "null") + "\n", "", 0
        if len(a) >= 4 and a[0] == "put":
            st[(a[1], a[2])] = a[3]
            return "", "", 0
        if len(a) >= 3 and a[0] == "delete":
            return ("Deleted 1 rows\n" if st.pop((a[1], a[2]), None) is not None else "Deleted 0 rows\n"), "", 0
        if len(a) >= 2 and a[0] == "list":
            return "".join(f"{k}={v}\n" for (ns, k), v in sorted(st.items()) if ns == a[1]), "", 0
        return "", "usage: settings [get|put|delete|list] NAMESPACE KEY [VALUE]\n", 1

    def c_input(self, a, stdin, env) -> Result:
        ph = self.phone
        if a and a[0] in ("touchscreen", "touchpad", "keyboard", "mouse", "dpad", "stylus", "gamepad", "trackball"):
            a = a[1:]
        if not a:
            return "", "Usage: input [<source>] <command> [<arg>...]\n", 1
        cmd, args = a[0], a[1:]
        if cmd == "text" and args:
            ph.type_text(" ".join(args).replace("%s", " "))
            return "", "", 0
        if cmd == "keyevent" and args:
            long = "--longpress" in args
            for x in (x for x in args if not x.startswith("--")):
                code = ph.keycode(x)
                if code is None:
                    return "", f"Error: Unknown keycode: {x}\n", 1
                ph.press_keycode(code)
                if long:
                    pass  # a long press is delivered as one press: the sim has no long-press key actions
            return "", "", 0
        if cmd == "tap" and len(args) == 2:
            ph.tap(float(args[0]), float(args[1]))
            return "", "", 0
        if cmd in ("swipe", "draganddrop") and len(args) in (4, 5):
            x0, y0, x1, y1 = (float(v) for v in args[:4])
            ms = float(args[4]) if len(args) == 5 else 300.0
            if cmd == "swipe" and abs(x1 - x0) < 8 and abs(y1 - y0) < 8 and ms >= 500:
                ph.long_press(x0, y0)
            else:
                ph.drag(x0, y0, x1, y1)
            return "", "", 0
        return "", f"Error: Unknown command: {cmd} (or wrong arguments)\n", 1

    def c_screencap(self, a, stdin, env) -> Result:
        png = "-p" in a
        rest = [x for i, x in enumerate(a) if not x.startswith("-") and not (i > 0 and a[i - 1] == "-d")]
        if "-d" in a:
            did = a[a.index("-d") + 1] if a.index("-d") + 1 < len(a) else ""
            if did not in ("0", str(SF_DISPLAY_ID)):
                return "", f"Display Id '{did}' is not valid.\n", 1
        img = self.phone.screenshot().convert("RGBA")
        if png or (rest and rest[0].endswith(".png")):
            buf = io.BytesIO()
            img.save(buf, "PNG")
            data = buf.getvalue()
        else:
            data = struct.pack("<IIII", img.width, img.height, 1, 0) + img.tobytes()
        if rest:
            if not self.phone.fs.write(rest[0], data):
                return "", f"Error opening file: {rest[0]} (No such file or directory)\n", 1
            return "", "", 0
        return data, "", 0

    def c_uiautomator(self, a, stdin, env) -> Result:
        if a[:1] != ["dump"]:
            return "", "Usage: uiautomator <subcommand> [options]\n  dump [--compressed] [file]\n", 1
        path = next((x for x in a[1:] if not x.startswith("-")), "/sdcard/window_dump.xml")
        if not self.phone.fs.write(path, self.phone.dump().encode("utf-8")):
            return "", f"ERROR: could not write {path}\n", 1
        return f"UI hierchary dumped to: {path}\n", "", 0

    def c_svc(self, a, stdin, env) -> Result:
        settings = self.phone.device.apps.get("settings")
        if len(a) == 2 and a[0] in ("wifi", "bluetooth") and a[1] in ("enable", "disable") and settings:
            with self.phone.lock:
                setattr(settings, a[0], a[1] == "enable")
                self.phone.device.invalidate()
            return "", "", 0
        if a[:2] == ["power", "stayon"]:
            return "", "", 0
        return "", "usage: svc [wifi|bluetooth] [enable|disable]\n", 1

    def c_app_process(self, a, stdin, env) -> Result:
        cls = next((x for x in a if not x.startswith("-") and x != "/"), "")
        classpath = env.get("CLASSPATH", "")
        if cls != "com.wetest.uia2.Main":
            return "", f"Error: Could not find class '{cls}'\n", 1
        if not classpath or self.phone.fs.read(classpath.split(":")[0]) is None:
            return "", ("Exception in thread \"main\" java.lang.ClassNotFoundException: "
                        "Didn't find class \"com.wetest.uia2.Main\" on path: DexPathList[[zip file \""
                        f"{classpath}\"]]\n"), 1
        port = 9008
        if "-p" in a and a.index("-p") + 1 < len(a):
            port = int(a[a.index("-p") + 1])
        if not self.hold(port):
            return "", ("java.lang.IllegalStateException: UiAutomationService "
                        "android.accessibilityservice.IAccessibilityServiceClient$Stub$Proxy@5deffd5"
                        "already registered!\n"), 1
        return "", "", 0


def _bytes(v: Any) -> bytes:
    if v is None:
        return b""
    if isinstance(v, (bytes, bytearray)):
        return bytes(v)
    return str(v).encode("utf-8")
