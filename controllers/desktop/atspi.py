"""Read the AT-SPI accessibility tree of a Linux desktop, fast, as Handa ``UIElement``s.

Transport. The accessibility bus address comes from the session bus (``org.a11y.Bus.GetAddress``); the
registry (``org.a11y.atspi.Registry``) lists the applications. at-spi2-core 2.46 toolkits offer no
``Cache.GetItems``, so nodes are read one by one, pipelined: every request of a round is sent in one write
and replies are matched by reply serial (at most ``_APP_WINDOW`` requests in flight per application, so a
hung application cannot starve the others). jeepney opens and authenticates the sockets; the hot path uses a
small D-Bus wire codec of its own (calls marshalled from precomputed templates, replies read by compiled
signature readers): jeepney's ``Message`` objects cost ~45 µs to build and ~40 µs to parse per message,
which alone would be ~150 ms for a 300-node tree.

Which nodes. Per application, ``Collection.GetMatches`` (served inside the application by at-spi2-atk: GTK,
Chromium, Firefox, LibreOffice) returns every SHOWING and VISIBLE node in tree order in one call, and each
node's parent comes from its ``Parent`` property. An application without Collection (Qt, GTK4) is walked
instead: breadth-first, children asked only of nodes that survive pruning. ``strategy`` forces either way.

Per node. Phase 1: ``Properties.GetAll(Accessible)`` (name, description, parent, child count, AccessibleId,
object attributes), ``GetRoleName``, ``GetState``, ``Component.GetExtents(screen)``. Phase 2, only for nodes
that are kept: ``GetChildren`` (walk), ``Text.GetText`` (editable text roles), ``Value.CurrentValue``
(sliders, spin buttons, progress and level bars, scroll bars) and ``GetInterfaces`` only for focusable nodes
whose role alone does not say they are clickable (asking every node for its interfaces cost ~25%).

Pruning.
- A node that is not SHOWING or not VISIBLE is dropped with its whole subtree.
- A node whose bounds lie wholly outside the clip is dropped with its subtree. The clip starts as
  ``screen`` and is narrowed by the bounds of clipping ancestors (windows, dialogs, scroll panes,
  viewports, web documents). Bounds are kept true (not clipped): the coordinate contract clips.
- A node with zero area (or no Component interface) is not emitted, but its children are read (CSS
  containers of floats have zero height while their children show) and re-parented to the nearest kept
  ancestor.
- Bare layout is collapsed: a container-like node (panel, filler, section, grouping, unknown, ..., or text
  with no text) with no name, description, toolkit id, focusability or checkability is not emitted; its
  children are re-parented to the nearest kept ancestor. Scroll panes, viewports and documents are kept
  (they are scroll targets).
- A nameless top-level window with nothing kept inside is dropped (Chromium keeps unmapped popups SHOWING).

Cap. At most ``_VISIT_FACTOR * max_nodes`` nodes are read (Collection: the first ones in tree order; walk:
breadth-first, so the deepest levels are left out) and no new node is asked for after half of ``timeout``.
Then at most ``max_nodes`` elements are kept: windows first, then interactive elements, then text-carrying
ones, then the rest, each tier in tree order, and the kept ones are emitted in tree order, re-parented to
their nearest kept ancestor. Any of these sets ``truncated=True`` with a warning.

Faults. An application that exits mid-dump (its unique name vanishes: error replies) or does not answer
before ``timeout`` gives what was read with ``partial=True`` and a warning, never an exception; the late
replies of a timed-out dump are ignored by the next one. No accessibility bus or registry raises
``AtspiUnavailable`` (also when the bus connection is lost). A reader is not thread-safe.

Elements get ids 0..n-1 in tree order (depth-first, children in index order); ``app`` is the application's
accessible name, ``window`` the name of the element's top-level window. ``attrs`` keep raw facts:
``atspi-role``, ``toolkit-id`` and ``resource-id`` (AccessibleId, else the object attribute ``id``: Chromium's
HTML id or views id), ``bus``, ``path``, ``pid``, ``toolkit`` and a few object attributes (``tag``,
``class``, ``xml-roles``, ``level``, ...), plus ``indeterminate``, ``expanded`` and ``active`` (on windows)
when they apply. Password values are masked as ``•`` per character.

Chromium exposes its tree only with ``ACCESSIBILITY_ENABLED=1`` in its environment (and
``--force-renderer-accessibility`` for page content); the bus launcher must run before apps start.
"""
from __future__ import annotations

import math
import os
import socket
import struct
import time
from collections import deque
from dataclasses import dataclass
from itertools import count
from typing import Any, Callable, Iterable, Optional, Sequence

from pydantic import BaseModel, Field

from controllers.base import ControllerError
from controllers.elements import ElementStates, Rect, Role, UIElement


class AtspiError(ControllerError):
    """An accessibility-bus failure."""


class AtspiUnavailable(AtspiError):
    """No accessibility bus or registry can be reached."""


# ---------------------------------------------------------------------------------------------- wire codec
_METHOD_CALL, _METHOD_RETURN, _ERROR, _SIGNAL = 1, 2, 3, 4
_HDR_PATH, _HDR_INTERFACE, _HDR_MEMBER, _HDR_ERROR_NAME, _HDR_REPLY_SERIAL = 1, 2, 3, 4, 5
_HDR_DESTINATION, _HDR_SIGNATURE = 6, 8
_U32 = struct.Struct("<I")
_U32_BE = struct.Struct(">I")
_FIXED3 = struct.Struct("<III")
_FIXED3_BE = struct.Struct(">III")
_FIXED_HEADER = struct.Struct("<4sIII")


def _pad8(n: int) -> int:
    return (8 - n % 8) % 8


def _string_field(code: int, type_code: str, value: str) -> bytes:
    """One header field (a ``(yv)`` struct) carrying a string or object path, unpadded."""
    raw = value.encode()
    return bytes((code, 1, ord(type_code), 0)) + _U32.pack(len(raw)) + raw + b"\0"


def _signature_field(signature: str) -> bytes:
    raw = signature.encode()
    return bytes((_HDR_SIGNATURE, 1, ord("g"), 0, len(raw))) + raw + b"\0"


def _marshal_args(signature: str, args: tuple) -> bytes:
    """Marshal a body of basic arguments (``s o g u i b``), the only kinds this module sends."""
    out = bytearray()
    for code, arg in zip(signature, args):
        if code in "so":
            out += b"\0" * ((4 - len(out) % 4) % 4)
            raw = arg.encode()
            out += _U32.pack(len(raw)) + raw + b"\0"
        elif code == "g":
            raw = arg.encode()
            out += bytes((len(raw),)) + raw + b"\0"
        elif code in "uib":
            out += b"\0" * ((4 - len(out) % 4) % 4)
            out += struct.pack("<i" if code == "i" else "<I", int(arg))
        else:  # pragma: no cover - programming error
            raise ValueError(f"cannot marshal {code!r}")
    if len(signature) != len(args):
        raise ValueError("signature and arguments differ in length")
    return bytes(out)


class _CallTemplate:
    """A method call whose interface, member and body are fixed; destination and path vary."""

    __slots__ = ("constant", "body", "_paths")

    def __init__(self, interface: str, member: str, signature: str = "", args: tuple = ()):
        fields = [_string_field(_HDR_INTERFACE, "s", interface), _string_field(_HDR_MEMBER, "s", member)]
        if signature:
            fields.append(_signature_field(signature))
        self.constant = b"".join(f + b"\0" * _pad8(len(f)) for f in fields)
        self.body = _marshal_args(signature, args)
        self._paths: dict[str, bytes] = {}

    def build(self, serial: int, destination: str, path: str) -> bytes:
        path_field = self._paths.get(path)
        if path_field is None:
            f = _string_field(_HDR_PATH, "o", path)
            path_field = f + b"\0" * _pad8(len(f))
            if len(self._paths) < 20000:
                self._paths[path] = path_field
        dest = _string_field(_HDR_DESTINATION, "s", destination)
        fields_len = len(self.constant) + len(path_field) + len(dest)
        return b"".join((
            _FIXED_HEADER.pack(b"l\x01\x00\x01", len(self.body), serial, fields_len),
            self.constant, path_field, dest, b"\0" * _pad8(16 + fields_len), self.body,
        ))


def _method_call(serial: int, destination: str, path: str, interface: str, member: str,
                 signature: str = "", args: tuple = ()) -> bytes:
    return _CallTemplate(interface, member, signature, args).build(serial, destination, path)


# Readers: compiled per (signature, endianness); each takes (buffer, position) and returns (value, position).
_Reader = Callable[[Any, int], tuple]
_FIXED = {"y": ("B", 1), "b": ("I", 4), "n": ("h", 2), "q": ("H", 2), "i": ("i", 4), "u": ("I", 4),
          "x": ("q", 8), "t": ("Q", 8), "d": ("d", 8), "h": ("I", 4)}
_ALIGN = {"y": 1, "b": 4, "n": 2, "q": 2, "i": 4, "u": 4, "x": 8, "t": 8, "d": 8, "h": 4, "s": 4, "o": 4,
          "g": 1, "v": 1, "a": 4, "(": 8, "{": 8}
_READERS: dict[tuple[str, str], list[_Reader]] = {}


def _split_types(signature: str) -> list[str]:
    """Split a signature into its complete types."""
    out, i = [], 0
    while i < len(signature):
        j = i
        while signature[j] == "a":
            j += 1
        if signature[j] in "({":
            depth, k = 0, j
            while True:
                if signature[k] in "({":
                    depth += 1
                elif signature[k] in ")}":
                    depth -= 1
                    if depth == 0:
                        break
                k += 1
            j = k
        out.append(signature[i:j + 1])
        i = j + 1
    return out


def _compile(sig: str, e: str) -> _Reader:
    code = sig[0]
    if code in _FIXED:
        fmt, size = _FIXED[code]
        st = struct.Struct(e + fmt)
        unpack = st.unpack_from
        boolean = code == "b"

        def read_fixed(buf, pos):
            pos += (-pos) % size
            value = unpack(buf, pos)[0]
            return (bool(value) if boolean else value), pos + size
        return read_fixed
    if code in "so":
        u32 = struct.Struct(e + "I").unpack_from

        def read_string(buf, pos):
            pos += (-pos) % 4
            n = u32(buf, pos)[0]
            pos += 4
            return str(buf[pos:pos + n], "utf-8", "replace"), pos + n + 1
        return read_string
    if code == "g":
        def read_signature(buf, pos):
            n = buf[pos]
            return str(buf[pos + 1:pos + 1 + n], "ascii", "replace"), pos + n + 2
        return read_signature
    if code == "v":
        def read_variant(buf, pos):
            n = buf[pos]
            inner = str(buf[pos + 1:pos + 1 + n], "ascii")
            readers = _readers(inner, e)
            pos += n + 2
            if len(readers) == 1:
                return readers[0](buf, pos)
            values = []
            for r in readers:
                v, pos = r(buf, pos)
                values.append(v)
            return tuple(values), pos
        return read_variant
    if code == "(":
        members = [_compile(t, e) for t in _split_types(sig[1:-1])]

        def read_struct(buf, pos):
            pos += (-pos) % 8
            values = []
            for r in members:
                v, pos = r(buf, pos)
                values.append(v)
            return tuple(values), pos
        return read_struct
    if code == "a":
        element = sig[1:]
        u32 = struct.Struct(e + "I").unpack_from
        align = _ALIGN[element[0]]
        if element[0] == "{":
            key_reader, value_reader = (_compile(t, e) for t in _split_types(element[1:-1]))

            def read_dict(buf, pos):
                pos += (-pos) % 4
                n = u32(buf, pos)[0]
                pos += 4
                pos += (-pos) % 8
                end = pos + n
                out = {}
                while pos < end:
                    pos += (-pos) % 8
                    k, pos = key_reader(buf, pos)
                    v, pos = value_reader(buf, pos)
                    out[k] = v
                return out, end
            return read_dict
        element_reader = _compile(element, e)

        def read_array(buf, pos):
            pos += (-pos) % 4
            n = u32(buf, pos)[0]
            pos += 4
            pos += (-pos) % align
            end = pos + n
            out = []
            while pos < end:
                v, pos = element_reader(buf, pos)
                out.append(v)
            return out, end
        return read_array
    raise ValueError(f"unsupported D-Bus type {sig!r}")


def _readers(signature: str, endian: str) -> list[_Reader]:
    key = (signature, endian)
    readers = _READERS.get(key)
    if readers is None:
        readers = [_compile(t, endian) for t in _split_types(signature)]
        _READERS[key] = readers
    return readers


def _unmarshal(signature: str, endian: str, body) -> tuple:
    pos, values = 0, []
    for r in _readers(signature, endian):
        v, pos = r(body, pos)
        values.append(v)
    return tuple(values)


@dataclass(slots=True)
class _Msg:
    type: int
    reply_serial: int
    error_name: str
    signature: str
    endian: str
    body: bytes

    def values(self) -> tuple:
        return _unmarshal(self.signature, self.endian, self.body) if self.signature else ()

    def error_text(self) -> str:
        try:
            vals = self.values()
        except Exception:
            vals = ()
        detail = vals[0] if vals and isinstance(vals[0], str) else ""
        return f"{self.error_name}: {detail}" if detail else self.error_name


def _parse_messages(buf, pos: int = 0) -> tuple[list[_Msg], int]:
    """Every complete method return and error in ``buf`` from ``pos``; and where the next message starts."""
    out = []
    size = len(buf)
    while size - pos >= 16:
        endian = "<" if buf[pos] == 0x6C else ">"
        u32 = _U32.unpack_from if endian == "<" else _U32_BE.unpack_from
        body_len, _serial, fields_len = (_FIXED3 if endian == "<" else _FIXED3_BE).unpack_from(buf, pos + 4)
        header_end = pos + 16 + fields_len
        body_start = header_end + (-(16 + fields_len)) % 8
        end = body_start + body_len
        if size < end:
            break
        msg_type = buf[pos + 1]
        if msg_type != _METHOD_RETURN and msg_type != _ERROR:
            pos = end
            continue
        reply_serial, error_name, signature = 0, "", ""
        p = pos + 16
        while p < header_end:
            code, sig_len, type_code = buf[p], buf[p + 1], buf[p + 2]
            if sig_len == 1 and type_code == 117:            # u
                if code == _HDR_REPLY_SERIAL:
                    reply_serial = u32(buf, p + 4)[0]
                p += 8
            elif sig_len == 1 and (type_code == 115 or type_code == 111):   # s, o
                n = u32(buf, p + 4)[0]
                if code == _HDR_ERROR_NAME:
                    error_name = str(buf[p + 8:p + 8 + n], "utf-8", "replace")
                p += 9 + n
            elif sig_len == 1 and type_code == 103:          # g
                n = buf[p + 4]
                if code == _HDR_SIGNATURE:
                    signature = str(buf[p + 5:p + 5 + n], "ascii", "replace")
                p += 6 + n
            else:  # any other field type: skip it with the generic reader (positions relative to the message)
                inner = str(buf[p + 2:p + 2 + sig_len], "ascii")
                _, q = _readers(inner, endian)[0](bytes(buf[pos:end]), p + 3 + sig_len - pos)
                p = pos + q
            p += (-(p - pos)) % 8
        out.append(_Msg(msg_type, reply_serial, error_name, signature, endian, bytes(buf[body_start:end])))
        pos = end
    return out, pos


class _DBusCallError(Exception):
    def __init__(self, name: str, text: str):
        super().__init__(text)
        self.name = name


class _Wire:
    """One authenticated connection to a message bus, with pipelined calls."""

    def __init__(self, address: str, timeout: float):
        from jeepney.bus import get_bus
        from jeepney.io.blocking import prep_socket

        try:
            self.sock = prep_socket(get_bus(address), timeout=timeout)
        except (OSError, RuntimeError, ValueError, KeyError, StopIteration) as exc:
            raise AtspiUnavailable(f"cannot connect to the D-Bus bus at {address!r}: {exc}") from exc
        self.serials = count(1)
        self.buf = bytearray()
        self.pos = 0
        self.closed = False
        try:
            self.unique_name = self.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                         "Hello", timeout=timeout)[0]
        except (_DBusCallError, TimeoutError, OSError) as exc:
            self.close()
            raise AtspiUnavailable(f"the D-Bus bus at {address!r} did not greet us: {exc}") from exc

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except OSError:  # pragma: no cover
                pass

    def send(self, chunks: list[bytes], deadline: float) -> None:
        if not chunks:
            return
        self.sock.settimeout(max(0.001, deadline - time.monotonic()))
        self.sock.sendall(b"".join(chunks))

    def receive(self, deadline: float) -> list[_Msg]:
        """Every complete message after at most one read; [] when the deadline passed with nothing new.

        Raises ``ConnectionError`` when the bus closed the connection.
        """
        out = self._parse_all()
        if out:
            return out
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return []
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(1 << 18)
        except (socket.timeout, TimeoutError):
            return []
        if not data:
            raise ConnectionError("the bus closed the connection")
        self.buf += data
        return self._parse_all()

    def _parse_all(self) -> list[_Msg]:
        out, pos = _parse_messages(self.buf, self.pos)
        if pos and pos == len(self.buf):
            self.buf.clear()
            pos = 0
        elif pos > (1 << 20):
            del self.buf[:pos]
            pos = 0
        self.pos = pos
        return out

    def call(self, destination: str, path: str, interface: str, member: str, signature: str = "",
             args: tuple = (), timeout: float = 2.0) -> tuple:
        """One blocking call; raises ``_DBusCallError`` on an error reply, ``TimeoutError`` on none."""
        return self.call_many([(destination, path, interface, member, signature, args)], timeout)[0]

    def call_many(self, calls: list[tuple], timeout: float, errors_as_values: bool = False) -> list:
        deadline = time.monotonic() + timeout
        serials = []
        chunks = []
        for destination, path, interface, member, signature, args in calls:
            s = next(self.serials)
            serials.append(s)
            chunks.append(_method_call(s, destination, path, interface, member, signature, args))
        self.send(chunks, deadline)
        wanted = {s: i for i, s in enumerate(serials)}
        results: list[Any] = [None] * len(calls)
        while wanted:
            msgs = self.receive(deadline)
            if not msgs and time.monotonic() >= deadline:
                err = TimeoutError(f"no reply within {timeout:.1f} s")
                if not errors_as_values:
                    raise err
                for i in wanted.values():
                    results[i] = err
                break
            for m in msgs:
                i = wanted.pop(m.reply_serial, None)
                if i is None:
                    continue
                if m.type == _ERROR:
                    err = _DBusCallError(m.error_name, m.error_text())
                    if not errors_as_values:
                        raise err
                    results[i] = err
                else:
                    results[i] = m.values()
        return results


# ---------------------------------------------------------------------------------------- public helpers
def a11y_bus_address(session_bus_address: Optional[str] = None, timeout: float = 2.0) -> str:
    """The accessibility bus address, asked of ``org.a11y.Bus`` on the session bus.

    Without an explicit session bus address, ``AT_SPI_BUS_ADDRESS`` wins when set, then
    ``DBUS_SESSION_BUS_ADDRESS`` is used. Raises ``AtspiUnavailable`` with the reason.
    """
    if session_bus_address is None:
        direct = os.environ.get("AT_SPI_BUS_ADDRESS")
        if direct:
            return direct
        session_bus_address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
        if not session_bus_address:
            raise AtspiUnavailable("no session bus: DBUS_SESSION_BUS_ADDRESS is not set")
    wire = _Wire(session_bus_address, timeout)
    try:
        (address,) = wire.call("org.a11y.Bus", "/org/a11y/bus", "org.a11y.Bus", "GetAddress", timeout=timeout)
    except _DBusCallError as exc:
        raise AtspiUnavailable(
            f"the session bus has no accessibility bus (org.a11y.Bus: {exc}); start at-spi-bus-launcher") from exc
    except (TimeoutError, OSError) as exc:
        raise AtspiUnavailable(f"org.a11y.Bus did not answer on the session bus: {exc}") from exc
    finally:
        wire.close()
    if not address:
        raise AtspiUnavailable("org.a11y.Bus returned an empty accessibility bus address")
    return address


@dataclass
class AppRef:
    bus_name: str
    path: str
    name: str
    pid: Optional[int]


class TreeDump(BaseModel):
    elements: list[UIElement] = Field(default_factory=list)
    partial: bool = False
    truncated: bool = False
    visited: int = 0
    warnings: list[str] = Field(default_factory=list)


# ------------------------------------------------------------------------------------------ AT-SPI facts
_ACC = "org.a11y.atspi.Accessible"
_PROPS = "org.freedesktop.DBus.Properties"
_REGISTRY = "org.a11y.atspi.Registry"
_ROOT = "/org/a11y/atspi/accessible/root"
_IFACE_PREFIX = "org.a11y.atspi."

# AtspiStateType bit numbers
S_ACTIVE, S_CHECKED, S_EDITABLE, S_ENABLED, S_EXPANDABLE, S_EXPANDED = 1, 4, 7, 8, 9, 10
S_FOCUSABLE, S_FOCUSED, S_PRESSED, S_SELECTED, S_SENSITIVE, S_SHOWING = 11, 12, 20, 23, 24, 25
S_VISIBLE, S_INDETERMINATE, S_CHECKABLE, S_HAS_POPUP, S_READ_ONLY = 30, 32, 41, 42, 43

ROLE_MAP: dict[str, Role] = {}
for _role, _names in {
    Role.button: ("push button", "push button menu", "button"),
    Role.switch: ("toggle button", "switch"),
    Role.checkbox: ("check box", "check menu item"),
    Role.radio: ("radio button", "radio menu item"),
    Role.text_field: ("entry", "password text", "edit bar", "spin button", "autocomplete", "terminal",
                      "editbar"),
    Role.dropdown: ("combo box",),
    Role.slider: ("slider", "scroll bar", "dial"),
    Role.link: ("link",),
    Role.tab: ("page tab",),
    Role.list_item: ("list item", "table cell", "tree item", "table row", "description term"),
    Role.menu_item: ("menu item", "tearoff menu item"),
    Role.menu: ("menu", "popup menu", "menu bar"),
    Role.text: ("label", "static", "paragraph", "caption", "accelerator label", "tool tip", "description value",
                "block quote", "comment", "footnote", "definition", "mark", "subscript", "superscript", "timer",
                "math", "math fraction", "math root", "content deletion", "content insertion", "suggestion"),
    Role.heading: ("heading", "table column header", "column header", "table row header", "row header"),
    Role.dialog: ("dialog", "alert", "file chooser", "font chooser", "color chooser", "option pane"),
    Role.window: ("frame", "window", "internal frame"),
    Role.image: ("image", "image map", "animation", "canvas", "drawing area", "chart", "video"),
    Role.icon: ("icon", "desktop icon"),
    Role.toolbar: ("tool bar",),
    Role.progress: ("progress bar", "level bar"),
    Role.web_view: ("document web", "document frame", "document email"),
    Role.container: ("panel", "filler", "section", "form", "grouping", "scroll pane", "viewport", "split pane",
                     "layered pane", "glass pane", "root pane", "html container", "page", "article", "landmark",
                     "log", "marquee", "header", "footer", "info bar", "title bar", "status bar", "embedded",
                     "redundant object", "description list", "page tab list", "directory pane", "calendar",
                     "date editor", "document text", "document spreadsheet", "document presentation",
                     "notification", "audio", "rating", "desktop frame", "application", "input method window",
                     "extended", "ruler"),
    Role.list: ("list", "list box", "table", "tree", "tree table"),
}.items():
    for _n in _names:
        ROLE_MAP.setdefault(_n, _role)

_CHECKABLE_ROLES = {"check box", "check menu item", "radio button", "radio menu item", "toggle button", "switch"}
_BUTTON_LIKE = {Role.button, Role.switch, Role.checkbox, Role.radio, Role.link, Role.tab, Role.menu_item,
                Role.dropdown, Role.list_item, Role.slider, Role.text_field}
_TEXT_VALUE_ROLES = {"entry", "password text", "text", "edit bar", "editbar", "terminal", "autocomplete"}
_NUMERIC_VALUE_ROLES = {"slider", "scroll bar", "progress bar", "level bar", "spin button", "dial"}
_CLIP_ROLES = {"frame", "window", "dialog", "alert", "file chooser", "scroll pane", "viewport", "document web",
               "document frame"}
_SCROLLABLE_ROLES = {"scroll pane", "viewport", "document web", "document frame", "document email"}
_KEPT_ATTRS = ("tag", "class", "xml-roles", "level", "text-input-type", "haspopup", "toolkit", "valuetext",
               "autocomplete")
_TEXT_LIMIT = 4000


def map_role(role_name: str, states: int = 0, attributes: Optional[dict] = None) -> Role:
    """Map an AT-SPI role name onto Handa's role vocabulary; unknown names give ``Role.unknown``.

    A toggle button is a ``switch`` (its on/off state is ``checked``) unless it opens a popup (a menu
    button: ``button``). ``text`` is what GTK and Qt call an entry: a ``text_field`` when editable or
    focusable (a read-only entry), else ``text``.
    """
    name = (role_name or "").strip().lower()
    attributes = attributes or {}
    xml_roles = str(attributes.get("xml-roles", "")).split()
    if "switch" in xml_roles:
        return Role.switch
    if name == "toggle button" and (states >> S_HAS_POPUP & 1 or attributes.get("haspopup") not in (None, "", "false")):
        return Role.button
    if name == "text":
        editable = bool(states >> S_EDITABLE & 1) and not states >> S_READ_ONLY & 1
        return Role.text_field if editable or states >> S_FOCUSABLE & 1 else Role.text
    return ROLE_MAP.get(name, Role.unknown)


def _bit(states: int, n: int) -> bool:
    return bool(states >> n & 1)


def map_states(role_name: str, states: int, interfaces: Iterable[str] = (),
               attributes: Optional[dict] = None) -> ElementStates:
    """Map an AT-SPI state set (as one integer, bit n = AtspiStateType n) onto ``ElementStates``."""
    name = (role_name or "").strip().lower()
    role = map_role(name, states, attributes)
    ifaces = set(interfaces)
    checkable = name in _CHECKABLE_ROLES or _bit(states, S_CHECKABLE) or role in (Role.switch, Role.checkbox,
                                                                                  Role.radio)
    if role == Role.button and name == "toggle button":
        checkable = False
    checked = (_bit(states, S_CHECKED) or _bit(states, S_PRESSED)) if checkable else None
    attributes = attributes or {}
    password = name == "password text" or attributes.get("text-input-type") == "password"
    clickable = role in _BUTTON_LIKE or ("Action" in ifaces and _bit(states, S_FOCUSABLE))
    editable = _bit(states, S_EDITABLE) and not _bit(states, S_READ_ONLY)
    return ElementStates(
        enabled=_bit(states, S_ENABLED) or _bit(states, S_SENSITIVE),
        visible=True,
        focused=_bit(states, S_FOCUSED),
        selected=_bit(states, S_SELECTED),
        checked=checked,
        clickable=clickable,
        editable=editable,
        scrollable=name in _SCROLLABLE_ROLES,
        password=password,
    )


def state_bits(words: Iterable[int]) -> int:
    """``GetState``'s ``au`` (32-bit words, low word first) as one integer."""
    bits = 0
    for i, w in enumerate(words):
        bits |= (int(w) & 0xFFFFFFFF) << (32 * i)
    return bits


def _format_number(x: Any) -> str:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(f) or math.isinf(f):
        return str(f)
    if f == int(f) and abs(f) < 1e15:
        return str(int(f))
    return f"{f:.6g}"


# ------------------------------------------------------------------------------------------------ reader
_T_GETALL = _CallTemplate(_PROPS, "GetAll", "s", (_ACC,))
_T_ROLE = _CallTemplate(_ACC, "GetRoleName")
_T_STATE = _CallTemplate(_ACC, "GetState")
_T_IFACES = _CallTemplate(_ACC, "GetInterfaces")
_T_EXTENTS = _CallTemplate("org.a11y.atspi.Component", "GetExtents", "u", (0,))
_T_CHILDREN = _CallTemplate(_ACC, "GetChildren")
_T_TEXT = _CallTemplate("org.a11y.atspi.Text", "GetText", "ii", (0, _TEXT_LIMIT))
_T_VALUE = _CallTemplate(_PROPS, "Get", "ss", ("org.a11y.atspi.Value", "CurrentValue"))

_K_PROPS, _K_ROLE, _K_STATE, _K_IFACES, _K_EXTENTS, _K_CHILDREN, _K_TEXT, _K_VALUE, _K_MATCHES = range(9)
_PHASE1 = ((_K_PROPS, _T_GETALL), (_K_ROLE, _T_ROLE), (_K_STATE, _T_STATE), (_K_EXTENTS, _T_EXTENTS))
_PHASE1_KINDS = {k for k, _ in _PHASE1}

# Error names that mean the application (not just one object) is gone.
_GONE_ERRORS = {"org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NoReply",
                "org.freedesktop.DBus.Error.NameHasNoOwner", "org.freedesktop.DBus.Error.Disconnected"}
# Error names that mean an application has no Collection interface (then its tree is walked).
_NO_COLLECTION_ERRORS = {"org.freedesktop.DBus.Error.UnknownMethod", "org.freedesktop.DBus.Error.UnknownInterface",
                         "org.freedesktop.DBus.Error.UnknownObject", "org.freedesktop.DBus.Error.NotSupported"}
_APP_WINDOW = 1024          # requests in flight per application
_VISIT_FACTOR = 2           # visit at most this many nodes per kept element
_SOFT_BUDGET = 0.5          # stop issuing new nodes after this share of the timeout
_APPS_BUDGET = 0.25         # the application list may take this share of the timeout
STRATEGIES = ("auto", "collection", "walk")


def _matches_call(serial: int, bus: str, path: str, count_limit: int) -> bytes:
    """``Collection.GetMatches``: every SHOWING and VISIBLE descendant, in canonical (tree) order."""
    from jeepney import DBusAddress, new_method_call

    words = [(1 << S_SHOWING) | (1 << S_VISIBLE), 0]
    match_all = 1
    rule = (words, match_all, {}, match_all, [], match_all, [], match_all, False)
    msg = new_method_call(DBusAddress(path, bus, "org.a11y.atspi.Collection"), "GetMatches",
                          "(aiia{ss}iaiiasib)uib", (rule, 1, int(count_limit), True))
    return msg.serialise(serial=serial)


class _App:
    __slots__ = ("ref", "toolkit", "inflight", "gone", "mode", "members", "waiting_nodes", "settled")

    def __init__(self, ref: AppRef, toolkit: str):
        self.ref = ref
        self.toolkit = toolkit
        self.inflight = 0
        self.gone = ""
        self.mode = "walk"
        self.members: list[int] = []    # collection mode: node indices in canonical order
        self.waiting_nodes = 0          # collection mode: nodes whose phase 1 is not complete
        self.settled = True


class _Node:
    __slots__ = ("index", "app", "bus", "path", "parent", "top", "clip", "waiting", "props", "role", "states",
                 "ifaces", "ext", "kids", "text", "value", "alive", "emit", "rect", "failed", "issued")

    def __init__(self, index: int, app: _App, bus: str, path: str, parent: int, top: int, clip: tuple):
        self.index, self.app, self.bus, self.path = index, app, bus, path
        self.parent, self.top, self.clip = parent, top, clip
        self.waiting = 0
        self.props: Optional[dict] = None
        self.role = ""
        self.states = 0
        self.ifaces: tuple = ()
        self.ext: Optional[tuple] = None
        self.kids: list[int] = []
        self.text: Optional[str] = None
        self.value: Optional[str] = None
        self.alive = True     # False: dropped with its subtree
        self.emit = False     # becomes an element
        self.rect: Optional[tuple] = None
        self.failed = False
        self.issued = False


def _intersects(a: tuple, b: tuple) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def _intersection(a: tuple, b: tuple) -> tuple:
    return (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))


class AtspiReader:
    """A connection to the accessibility bus that dumps the visible tree as ``UIElement``s."""

    def __init__(self, address: str, timeout: float = 2.0):
        self.address = address
        self.timeout = timeout
        self._wire = _Wire(address, timeout)
        self._app_cache: dict[str, tuple[Optional[int], str]] = {}   # unique bus name: (pid, toolkit)
        self._names: dict[str, str] = {}                                # unique bus name: last known name
        self._no_collection: set[str] = set()
        try:
            self._wire.call(_REGISTRY, _ROOT, _PROPS, "Get", "ss", (_ACC, "ChildCount"), timeout=timeout)
        except (_DBusCallError, TimeoutError, OSError) as exc:
            self._wire.close()
            raise AtspiUnavailable(f"the AT-SPI registry cannot be reached on {address!r}: {exc}") from exc

    # -- lifecycle
    def close(self) -> None:
        self._wire.close()

    def __enter__(self) -> "AtspiReader":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _call_many(self, calls: list[tuple], timeout: float) -> list:
        if self._wire.closed:
            raise AtspiError("the AT-SPI reader is closed")
        try:
            return self._wire.call_many(calls, timeout, errors_as_values=True)
        except (ConnectionError, OSError) as exc:
            self._wire.close()
            raise AtspiUnavailable(f"lost the accessibility bus: {exc}") from exc

    # -- applications
    def _applications(self, timeout: float) -> tuple[list[tuple[AppRef, str]], list[AppRef]]:
        """(answering applications with their toolkit names, applications that did not answer in time)."""
        (reply,) = self._call_many([(_REGISTRY, _ROOT, _ACC, "GetChildren", "", ())], timeout)
        if isinstance(reply, (_DBusCallError, TimeoutError)):
            raise AtspiUnavailable(f"the AT-SPI registry failed: {reply}")
        refs = [(str(b), str(p)) for b, p in reply[0]]
        calls = []
        for bus, path in refs:
            calls.append((bus, path, _PROPS, "Get", "ss", (_ACC, "Name")))
            if bus not in self._app_cache:
                calls.append(("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                              "GetConnectionUnixProcessID", "s", (bus,)))
                calls.append((bus, path, _PROPS, "Get", "ss", ("org.a11y.atspi.Application", "ToolkitName")))
        replies = iter(self._call_many(calls, timeout) if calls else ())
        out, silent = [], []
        for bus, path in refs:
            name_reply = next(replies)
            if bus in self._app_cache:
                pid, toolkit = self._app_cache[bus]
            else:
                pid_reply, toolkit_reply = next(replies), next(replies)
                pid = int(pid_reply[0]) if isinstance(pid_reply, tuple) else None
                toolkit = str(toolkit_reply[0]) if isinstance(toolkit_reply, tuple) else ""
                if pid is not None and isinstance(toolkit_reply, (tuple, _DBusCallError)):
                    self._app_cache[bus] = (pid, toolkit)
            if isinstance(name_reply, TimeoutError):
                silent.append(AppRef(bus_name=bus, path=path, name=self._names.get(bus, ""), pid=pid))
                continue
            if isinstance(name_reply, _DBusCallError):
                if name_reply.name in _GONE_ERRORS:
                    continue  # exited since the registry listed it
                name = ""
            else:
                name = str(name_reply[0])
                self._names[bus] = name
            out.append((AppRef(bus_name=bus, path=path, name=name, pid=pid), toolkit))
        return out, silent

    def applications(self) -> list[AppRef]:
        """The applications the registry lists; ones that have exited are left out, ones that do not answer
        come last with their last known name."""
        apps, silent = self._applications(self.timeout)
        return [ref for ref, _ in apps] + silent

    # -- the dump
    def dump(self, screen: Rect, *, pids: Optional[set[int]] = None, app_names: Optional[set[str]] = None,
             max_nodes: int = 1000, timeout: float = 5.0, strategy: str = "auto",
             first: Sequence[int] = ()) -> TreeDump:
        """The visible tree of the selected applications (all by default); see the module docstring.

        ``pids`` and ``app_names`` (compared case-insensitively) select applications. ``strategy`` is
        ``auto`` (Collection where the application has it, else a walk), ``collection`` or ``walk``.
        """
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}")
        if self._wire.closed:
            raise AtspiError("the AT-SPI reader is closed")
        start = time.monotonic()
        found, silent = self._applications(max(0.05, min(self.timeout, timeout * _APPS_BUDGET)))
        names = {n.casefold() for n in app_names} if app_names else None

        def wanted(ref: AppRef) -> bool:
            return (pids is None or ref.pid in pids) and (names is None or ref.name.casefold() in names)

        apps = [_App(ref, toolkit) for ref, toolkit in found if wanted(ref)]
        # ``first`` (pids, most important first: the front window's app) is read and kept before the others,
        # so a big app behind it cannot use up the node budget
        rank = {pid: n for n, pid in enumerate(first)}
        apps.sort(key=lambda a: rank.get(a.ref.pid, len(rank)))
        warnings, partial = [], False
        for ref in silent:  # a hung application: its name may be unknown, so only a pid or known name rules it out
            if (pids is None or ref.pid in pids) and (names is None or not ref.name or ref.name.casefold() in names):
                partial = True
                warnings.append(f"application {ref.name or ref.bus_name!r} (pid {ref.pid}) did not answer; left out")
        run = _Dump(self, screen, apps, max_nodes, start + timeout, start + timeout * _SOFT_BUDGET, strategy)
        try:
            result = run.run()
        except (ConnectionError, OSError) as exc:
            self._wire.close()
            raise AtspiUnavailable(f"lost the accessibility bus mid-dump: {exc}") from exc
        result.partial = result.partial or partial
        result.warnings = warnings + result.warnings
        self._fill_dropdowns(result.elements, max(0.05, start + timeout - time.monotonic()))
        return result

    def _fill_dropdowns(self, elements: list[UIElement], timeout: float) -> None:
        """Give each dropdown without a value the name of its selected option.

        Chromium's ``<select>`` (and GTK's combo box) keeps its options in a child menu that is not showing
        while closed, so the dump never sees them; the menu's Selection interface still names the chosen one.
        Three pipelined rounds: the dropdowns' children, each child's selected child, that one's name.
        """
        boxes = [e for e in elements if e.role == Role.dropdown and not e.value and e.attrs.get("bus")]
        if not boxes:
            return
        deadline = time.monotonic() + min(timeout, 1.0)

        def many(calls):
            left = deadline - time.monotonic()
            return self._call_many(calls, left) if left > 0 else [None] * len(calls)

        kids = many([(e.attrs["bus"], e.attrs["path"], "org.a11y.atspi.Accessible", "GetChildren", "", ())
                     for e in boxes])
        menus = [(e, tuple(k[0][0])) for e, k in zip(boxes, kids) if isinstance(k, tuple) and k and k[0]]
        picked = many([(bus, path, "org.a11y.atspi.Selection", "GetSelectedChild", "i", (0,))
                       for _, (bus, path) in menus])
        chosen = [(e, tuple(r[0])) for (e, _), r in zip(menus, picked)
                  if isinstance(r, tuple) and r and isinstance(r[0], tuple) and r[0][1] != "/org/a11y/atspi/null"]
        names = many([(bus, path, _PROPS, "Get", "ss", ("org.a11y.atspi.Accessible", "Name"))
                      for _, (bus, path) in chosen])
        for (e, _), n in zip(chosen, names):
            if isinstance(n, tuple) and n:
                value = n[0][1] if isinstance(n[0], tuple) else n[0]
                if isinstance(value, str) and value.strip():
                    e.value = value.strip()


class _Dump:
    """The state of one dump: pipelined requests, replies matched by serial, pruning as replies come in."""

    def __init__(self, reader: AtspiReader, screen: Rect, apps: list[_App], max_nodes: int, deadline: float,
                 soft_deadline: float, strategy: str):
        self.reader = reader
        self.wire = reader._wire
        self.screen = (screen.left, screen.top, screen.right, screen.bottom)
        self.apps = apps
        self.max_nodes = max(0, int(max_nodes))
        self.visit_limit = max(1, _VISIT_FACTOR * self.max_nodes)
        self.deadline = deadline
        self.soft_deadline = soft_deadline
        self.strategy = strategy
        self.nodes: list[_Node] = []
        self.tops: list[int] = []
        self.queue: deque[int] = deque()
        self.pending: dict[int, tuple[Optional[_Node], int, _App]] = {}
        self.chunks: list[bytes] = []
        self.visited = 0
        self.vanished = 0
        self.cut_reasons: list[str] = []
        self.stopped = False

    # -- requests
    def request(self, node: Optional[_Node], kind: int, app: _App, template: _CallTemplate, bus: str,
                path: str) -> None:
        s = next(self.wire.serials)
        self.chunks.append(template.build(s, bus, path))
        self.pending[s] = (node, kind, app)
        app.inflight += 1

    def start_walk(self, app: _App) -> None:
        app.mode = "walk"
        self.request(None, _K_CHILDREN, app, _T_CHILDREN, app.ref.bus_name, app.ref.path)

    def flush(self) -> None:
        if self.chunks:
            data, self.chunks = self.chunks, []
            self.wire.send(data, self.deadline)

    def pump(self) -> None:
        """Issue phase 1 for queued nodes within the visit limit, the time budget and each app's window."""
        if self.queue and not self.stopped:
            if time.monotonic() > self.soft_deadline:
                self.stop("the walk stopped at half of the timeout")
            else:
                held = deque()
                queue = self.queue
                while queue:
                    i = queue.popleft()
                    node = self.nodes[i]
                    app = node.app
                    if app.gone or not self.ancestors_alive(node):
                        node.alive = False
                        self.node_done(node)
                        continue
                    if app.inflight >= _APP_WINDOW:
                        held.append(i)
                        if all(a.inflight >= _APP_WINDOW or a.gone for a in self.apps):
                            held.extend(queue)  # every window is full: wait for replies
                            queue.clear()
                        continue
                    if app.mode == "walk":
                        if self.visited >= self.visit_limit:
                            held.append(i)
                            held.extend(queue)
                            queue.clear()
                            self.stop(f"the walk stopped after visiting {self.visit_limit} nodes")
                            break
                        self.visited += 1
                    node.issued = True
                    node.waiting = len(_PHASE1)
                    for kind, template in _PHASE1:
                        self.request(node, kind, app, template, node.bus, node.path)
                queue.extend(held)
        self.flush()

    def stop(self, reason: str) -> None:
        if not self.stopped:
            self.stopped = True
            self.cut_reasons.append(reason)

    def ancestors_alive(self, node: _Node) -> bool:
        p = node.parent
        while p >= 0:
            parent = self.nodes[p]
            if not parent.alive:
                return False
            p = parent.parent
        return True

    # -- replies
    def on_reply(self, msg: _Msg) -> None:
        entry = self.pending.pop(msg.reply_serial, None)
        if entry is None:
            return  # a late reply to an earlier dump
        node, kind, app = entry
        app.inflight -= 1
        value = None
        if msg.type == _ERROR:
            if msg.error_name in _GONE_ERRORS:
                self.app_gone(app, msg.error_text())
                return
            error_name = msg.error_name
        else:
            error_name = ""
            try:
                value = msg.values()
            except Exception:  # a malformed reply counts as an error reply
                error_name = "malformed reply"
        if kind == _K_MATCHES:
            return self.on_matches(app, value, error_name, msg)
        if node is None:  # an application's top-level children (walk)
            for bus, path in (value[0] if value else ()):
                i = len(self.nodes)
                self.nodes.append(_Node(i, app, str(bus), str(path), -1, i, self.screen))
                self.tops.append(i)
                self.queue.append(i)
            return
        if kind == _K_CHILDREN:
            if value and node.alive:
                for bus, path in value[0]:
                    i = len(self.nodes)
                    self.nodes.append(_Node(i, app, str(bus), str(path), node.index, node.top, node.clip))
                    node.kids.append(i)
                    self.queue.append(i)
            return
        if kind == _K_TEXT:
            if value is not None:
                node.text = str(value[0])
            return
        if kind == _K_VALUE:
            if value is not None:
                node.value = _format_number(value[0])
            return
        if kind == _K_IFACES:
            if value is not None:
                node.ifaces = tuple(i[len(_IFACE_PREFIX):] if i.startswith(_IFACE_PREFIX) else i for i in value[0])
            return
        if kind == _K_PROPS:
            if value is None:
                node.failed = True
            else:
                node.props = value[0]
        elif kind == _K_ROLE:
            if value is None:
                node.failed = True
            else:
                node.role = str(value[0])
        elif kind == _K_STATE:
            if value is None:
                node.failed = True
            else:
                node.states = state_bits(value[0])
        elif kind == _K_EXTENTS:
            if value is not None:
                node.ext = tuple(value[0])
        node.waiting -= 1
        if node.waiting == 0:
            self.node_done(node)

    def node_done(self, node: _Node) -> None:
        """Phase 1 of ``node`` is over (or will never happen)."""
        app = node.app
        if app.mode == "walk":
            if node.alive and node.issued:
                self.settle(node, phase2=True)
            return
        app.waiting_nodes -= 1
        if app.waiting_nodes == 0 and not app.settled:
            self.settle_collection(app, phase2=True)

    def on_matches(self, app: _App, value: Optional[tuple], error_name: str, msg: _Msg) -> None:
        if value is None:
            if error_name in _NO_COLLECTION_ERRORS:
                self.reader._no_collection.add(app.ref.bus_name)
            if self.strategy == "collection":
                app.gone = app.gone or f"Collection.GetMatches failed: {msg.error_text() if msg.type == _ERROR else error_name}"
                return
            self.start_walk(app)
            return
        refs = value[0]
        budget = self.visit_limit - self.visited
        if len(refs) > budget:
            self.cut_reasons.append(f"{app.ref.name or app.ref.bus_name}: visited {budget} of its "
                                    f"{len(refs)} showing nodes")
            refs = refs[:max(0, budget)]
        elif len(refs) >= self.visit_limit:
            self.cut_reasons.append(f"{app.ref.name or app.ref.bus_name}: showing nodes capped at "
                                    f"{self.visit_limit}")
        self.visited += len(refs)
        app.mode = "collection"
        app.settled = not refs
        app.waiting_nodes = len(refs)
        for bus, path in refs:
            i = len(self.nodes)
            self.nodes.append(_Node(i, app, str(bus), str(path), -1, i, self.screen))
            app.members.append(i)
            self.queue.append(i)

    def app_gone(self, app: _App, why: str) -> None:
        if not app.gone:
            app.gone = why
        for s in [s for s, (_, _, a) in self.pending.items() if a is app]:
            node, kind, _ = self.pending.pop(s)
            if node is not None and kind in _PHASE1_KINDS:
                node.failed = True
        app.inflight = 0
        if app.mode == "collection" and not app.settled:
            self.settle_collection(app, phase2=False)

    # -- pruning
    def settle(self, node: _Node, phase2: bool) -> None:
        """Phase 1 is complete: prune, decide emission, ask phase 2 (children, text, value)."""
        if node.failed or node.props is None:
            node.alive = False
            self.vanished += 1
            return
        st = node.states
        if not (_bit(st, S_SHOWING) and _bit(st, S_VISIBLE)):
            node.alive = False
            return
        clip = node.clip
        if node.ext is not None:
            x, y, w, h = node.ext
            if w > 0 and h > 0:
                rect = (x, y, x + w, y + h)
                if not _intersects(rect, clip):
                    node.alive = False
                    return
                node.rect = rect
                if node.role in _CLIP_ROLES:
                    clip = _intersection(clip, rect)
        node.clip = clip
        props = node.props
        role = map_role(node.role, st, props.get("Attributes"))
        node.emit = node.rect is not None and not _is_bare(node, role)
        if not phase2:
            return
        app = node.app
        if app.mode == "walk" and int(props.get("ChildCount", 0) or 0) > 0:
            self.request(node, _K_CHILDREN, app, _T_CHILDREN, node.bus, node.path)
        if node.emit:
            if node.role in _TEXT_VALUE_ROLES:
                self.request(node, _K_TEXT, app, _T_TEXT, node.bus, node.path)
            if node.role in _NUMERIC_VALUE_ROLES:
                self.request(node, _K_VALUE, app, _T_VALUE, node.bus, node.path)
            if role not in _BUTTON_LIKE and _bit(st, S_FOCUSABLE):
                # only here does the Action interface decide clickability
                self.request(node, _K_IFACES, app, _T_IFACES, node.bus, node.path)

    def settle_collection(self, app: _App, phase2: bool) -> None:
        """Link a Collection app's nodes by their Parent property, then prune parents before children.

        A node whose parent is neither the application nor a matched node hangs below something not
        SHOWING (e.g. the selected option of a closed popup): it is dropped, as the walk would drop it.
        """
        app.settled = True
        nodes = self.nodes
        by_ref = {(nodes[i].bus, nodes[i].path): i for i in app.members}
        root = (app.ref.bus_name, app.ref.path)
        parent_of: dict[int, int] = {}   # -1: top-level; -2: orphan or unread
        for i in app.members:
            node = nodes[i]
            if node.waiting > 0 or not node.issued or node.props is None:
                parent_of[i] = -2
                node.alive = False
                continue
            ref = node.props.get("Parent")
            ref = (str(ref[0]), str(ref[1])) if ref else root
            parent_of[i] = -1 if ref == root else by_ref.get(ref, -2)
        depth: dict[int, int] = {}
        for i in app.members:
            chain, j = [], i
            while j not in depth:
                p = parent_of[j]
                if p < 0 or p in chain or p == j:
                    depth[j] = 0 if p == -1 else -1
                    break
                chain.append(j)
                j = p
            d = depth[j]
            for k in reversed(chain):
                d = -1 if d < 0 else d + 1
                depth[k] = d
        order = sorted((depth[i], n, i) for n, i in enumerate(app.members) if depth[i] >= 0)
        for i in app.members:
            if depth[i] < 0:
                nodes[i].alive = False
        for _, _, i in order:
            node = nodes[i]
            p = parent_of[i]
            if p >= 0:
                parent = nodes[p]
                if not parent.alive:
                    node.alive = False
                    continue
                node.parent, node.top, node.clip = p, parent.top, parent.clip
                parent.kids.append(i)
            else:
                node.parent, node.top, node.clip = -1, i, self.screen
                self.tops.append(i)
            self.settle(node, phase2)

    # -- the loop
    def run(self) -> TreeDump:
        for app in self.apps:
            if self.strategy == "walk" or (self.strategy == "auto" and app.ref.bus_name in self.reader._no_collection):
                self.start_walk(app)
            else:
                s = next(self.wire.serials)
                self.chunks.append(_matches_call(s, app.ref.bus_name, app.ref.path, self.visit_limit))
                self.pending[s] = (None, _K_MATCHES, app)
                app.inflight += 1
        while True:
            self.pump()
            if not self.pending and not (self.queue and not self.stopped):
                unsettled = [a for a in self.apps if not a.settled]
                if not unsettled:
                    break
                for a in unsettled:
                    self.settle_collection(a, phase2=True)
                continue
            if time.monotonic() >= self.deadline:
                break
            for m in self.wire.receive(self.deadline):
                self.on_reply(m)
        # a ConnectionError goes up: dump() closes the dead connection and raises AtspiUnavailable
        return self.finish()

    def finish(self) -> TreeDump:
        warnings: list[str] = []
        partial = False
        for app in self.apps:
            if app.gone:
                partial = True
                warnings.append(f"application {app.ref.name or app.ref.bus_name!r} (pid {app.ref.pid}) went away "
                                f"or failed during the dump: {app.gone}")
        if self.pending:
            partial = True
            silent = sorted({a.ref.name or a.ref.bus_name for _, _, a in self.pending.values()})
            warnings.append(f"no reply before the timeout from {', '.join(repr(s) for s in silent)}; "
                            f"{len(self.pending)} requests unanswered")
            for node, kind, _ in self.pending.values():
                if node is not None and kind in _PHASE1_KINDS:
                    node.failed = True
            self.pending.clear()
        for app in self.apps:
            if not app.settled:
                self.settle_collection(app, phase2=False)
        if self.vanished:
            warnings.append(f"{self.vanished} nodes vanished while being read")
        truncated = False
        if self.cut_reasons:
            truncated = True
            left = sum(1 for i in self.queue if not self.nodes[i].issued)
            warnings.append("tree truncated: " + "; ".join(self.cut_reasons)
                            + (f" ({left} nodes left unvisited)" if left else ""))
        rank = {id(app): n for n, app in enumerate(self.apps)}
        self.tops.sort(key=lambda i: (rank[id(self.nodes[i].app)], i))
        elements, cut = _build_elements(self.nodes, self.tops, self.max_nodes)
        if cut:
            truncated = True
            warnings.append(f"tree truncated: kept {self.max_nodes} of {cut + self.max_nodes} elements "
                            f"(windows, then interactive, then text-carrying ones)")
        return TreeDump(elements=elements, partial=partial, truncated=truncated, visited=self.visited,
                        warnings=warnings)


_BARE_ROLES = {Role.container, Role.unknown, Role.text}


def _is_bare(node: _Node, role: Role) -> bool:
    """Layout only: a container-like (or empty text) node with no text, id, focus or checkability."""
    if role not in _BARE_ROLES or node.role in _SCROLLABLE_ROLES:
        return False
    props = node.props or {}
    if props.get("Name") or props.get("Description") or props.get("AccessibleId"):
        return False
    if node.role in _TEXT_VALUE_ROLES:
        return False  # its text is in the Text interface, not in the name
    attrs = props.get("Attributes") or {}
    if attrs.get("id"):
        return False
    if _bit(node.states, S_FOCUSABLE) or _bit(node.states, S_CHECKABLE):
        return False
    return True


def _tier(node: _Node, element: UIElement) -> int:
    if node.parent < 0 or element.role in (Role.window, Role.dialog):
        return 0
    s = element.states
    if s.clickable or s.editable or s.checked is not None or element.role in _BUTTON_LIKE:
        return 1
    if element.name or element.value or element.description:
        return 2
    return 3


def _element_of(node: _Node) -> UIElement:
    props = node.props or {}
    raw_attrs = props.get("Attributes") or {}
    role = map_role(node.role, node.states, raw_attrs)
    states = map_states(node.role, node.states, node.ifaces, raw_attrs)
    attrs: dict[str, str] = {"atspi-role": node.role, "bus": node.bus, "path": node.path}
    toolkit_id = str(props.get("AccessibleId") or raw_attrs.get("id") or "")
    if toolkit_id:
        attrs["toolkit-id"] = toolkit_id
        attrs["resource-id"] = toolkit_id
    if node.app.ref.pid is not None:
        attrs["pid"] = str(node.app.ref.pid)
    for key in _KEPT_ATTRS:
        v = raw_attrs.get(key)
        if v:
            attrs[key] = str(v)
    if "toolkit" not in attrs and node.app.toolkit:
        attrs["toolkit"] = node.app.toolkit
    if _bit(node.states, S_INDETERMINATE):
        attrs["indeterminate"] = "true"
    if _bit(node.states, S_EXPANDABLE):
        attrs["expanded"] = "true" if _bit(node.states, S_EXPANDED) else "false"
    if _bit(node.states, S_ACTIVE) and role in (Role.window, Role.dialog):
        attrs["active"] = "true"
    value = ""
    if node.text is not None:
        value = node.text.replace("\ufffc", "")
    if node.value is not None and not value:
        value = str(raw_attrs.get("valuetext") or node.value)
    if states.password and value:
        value = "\u2022" * len(value)
    hint = str(raw_attrs.get("placeholder-text") or raw_attrs.get("placeholder") or "")
    if not hint and raw_attrs.get("name-from") == "placeholder":
        hint = str(props.get("Name") or "")  # Chromium names a field by its placeholder
    x0, y0, x1, y1 = node.rect  # type: ignore[misc]
    return UIElement(id=0, role=role, name=str(props.get("Name") or ""),
                     description=str(props.get("Description") or ""), value=value, hint=hint,
                     bounds=Rect(left=x0, top=y0, right=x1, bottom=y1), states=states, app=node.app.ref.name,
                     attrs=attrs)


def _build_elements(nodes: list[_Node], tops: list[int], max_nodes: int) -> tuple[list[UIElement], int]:
    """Elements in tree order with ids and parent links; returns them and how many were cut by the cap."""
    order: list[tuple[int, int]] = []   # (node index, nearest emitted ancestor node index or -1)
    stack: list[tuple[int, int]] = [(i, -1) for i in reversed(tops)]
    while stack:
        i, anc = stack.pop()
        node = nodes[i]
        if not node.alive or node.props is None or node.waiting > 0:
            continue
        if node.emit:
            order.append((i, anc))
            anc = i
        for k in reversed(node.kids):
            stack.append((k, anc))
    # a nameless top-level window with nothing kept inside (e.g. an unmapped popup that still claims SHOWING)
    populated = {nodes[i].top for i, _ in order if nodes[i].top != i}
    order = [(i, anc) for i, anc in order
             if nodes[i].top != i or i in populated or (nodes[i].props or {}).get("Name")]
    built: dict[int, UIElement] = {}
    for i, _ in order:
        built[i] = _element_of(nodes[i])
    cut = 0
    if len(order) > max_nodes:
        ranked = sorted(range(len(order)), key=lambda j: (_tier(nodes[order[j][0]], built[order[j][0]]), j))
        keep = set(ranked[:max_nodes])
        cut = len(order) - max_nodes
        kept_nodes = {order[j][0] for j in keep}
        emitted_parent = dict(order)
        new_order = []
        for j, (i, anc) in enumerate(order):
            if j not in keep:
                continue
            while anc >= 0 and anc not in kept_nodes:
                anc = emitted_parent[anc]
            new_order.append((i, anc))
        order = new_order
    ids = {i: n for n, (i, _) in enumerate(order)}
    window_names: dict[int, str] = {}
    out: list[UIElement] = []
    for n, (i, anc) in enumerate(order):
        node = nodes[i]
        e = built[i]
        top = node.top
        if top not in window_names:
            props = nodes[top].props or {}
            window_names[top] = str(props.get("Name") or "")
        e = e.model_copy(update={"id": n, "parent": ids[anc] if anc >= 0 else None,
                                 "window": window_names[top]})
        out.append(e)
        if anc >= 0:
            out[ids[anc]].children.append(n)
    return out, cut
