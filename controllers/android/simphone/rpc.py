"""The on-device uiautomator2 server (``com.wetest.uia2.Main``: NanoHTTPD + jsonrpc4j), for one sim phone.

The adb server hands this module the socket of a ``tcp:PORT`` stream while the phone's server is alive;
``serve_http`` reads HTTP/1.1 requests from it and answers:

- ``GET /ping`` -> ``pong``;
- ``POST /jsonrpc/0`` -> JSON-RPC 2.0; ``params`` a positional array (``{}`` means none). A result is always
  present (``null`` for void methods); errors are ``{"code": -32001, "message": <Java exception class>,
  "data": <message>}`` as the jar's ErrorResolver writes them, an unknown method ``-32601``;
- ``GET /screenshot/0`` -> a PNG; ``GET /stop`` stops the server; anything else 404.

Coordinates are physical pixels (floats accepted, as Jackson accepts them for ints). Selector methods match
uiautomator ``Selector`` objects (mask, text/textContains/textMatches/textStartsWith, className, description*,
packageName*, resourceId*, states, index, instance, child/sibling chains) against the nodes of the current
``dumpWindowHierarchy`` tree.
"""
from __future__ import annotations

import base64
import inspect
import io
import json
import re
import socket
import time
from typing import TYPE_CHECKING, Any, Callable, Optional

from controllers.android.simphone.uixml import XNode

if TYPE_CHECKING:  # pragma: no cover
    from controllers.android.simphone.phone import SimPhone

NOT_FOUND = "androidx.test.uiautomator.UiObjectNotFoundException"
ILLEGAL_ARGUMENT = "java.lang.IllegalArgumentException"
MAX_BODY = 64 << 20


class RpcError(Exception):
    def __init__(self, java_class: str, message: str = "", code: int = -32001):
        super().__init__(message)
        self.java_class, self.message, self.code = java_class, message, code


# ---------------------------------------------------------------- HTTP


_QUICKACK = getattr(socket, "TCP_QUICKACK", None)


def _recv(sock: socket.socket) -> bytes:
    """``recv`` that acknowledges at once: http.client sends headers and body in two writes on a socket
    without TCP_NODELAY, so a delayed ACK here would stall every request by ~40 ms (Nagle)."""
    chunk = sock.recv(65536)
    if _QUICKACK is not None and chunk:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
        except OSError:
            pass
    return chunk


def _read_request(sock: socket.socket, buf: bytearray) -> Optional[tuple[str, str, dict, bytes]]:
    """One request from ``sock`` (``buf`` keeps bytes read past it); None at EOF."""
    if _QUICKACK is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
        except OSError:
            pass
    while b"\r\n\r\n" not in buf:
        chunk = _recv(sock)
        if not chunk:
            return None
        buf.extend(chunk)
        if len(buf) > MAX_BODY:
            return None
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) < 2:
        return None
    method, path = parts[0].upper(), parts[1]
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0") or 0)
    if length > MAX_BODY:
        return None
    body = bytearray(rest)
    while len(body) < length:
        chunk = _recv(sock)
        if not chunk:
            return None
        body.extend(chunk)
    buf[:] = body[length:]
    return method, path, headers, bytes(body[:length])


def _response(status: int, body: bytes, content_type: str) -> bytes:
    reason = {200: "OK", 404: "Not Found", 400: "Bad Request", 500: "Internal Server Error"}.get(status, "OK")
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
            f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S GMT', time.gmtime())}\r\n"
            f"Connection: keep-alive\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


def serve_http(sock: socket.socket, phone: "SimPhone", port: int) -> None:
    """Answer HTTP requests on ``sock`` until the client closes it or the server dies."""
    rpc = JsonRpc(phone)
    buf = bytearray()
    while True:
        req = _read_request(sock, buf)
        if req is None:
            return
        method, path, _headers, body = req
        if not phone.server_alive(port):
            return  # the server died while the request was on its way: the connection just ends
        route = path.split("?", 1)[0]
        if route == "/ping":
            out = _response(200, b"pong", "text/plain")
        elif route == "/jsonrpc/0" and method == "POST":
            out = _response(200, rpc.handle(body), "application/json")
        elif route == "/screenshot/0":
            img = phone.screenshot()
            data = io.BytesIO()
            img.save(data, "PNG")
            out = _response(200, data.getvalue(), "image/png")
        elif route == "/stop":
            sock.sendall(_response(200, b"Server stopped!!!", "text/plain"))
            phone.crash_server()
            return
        else:
            out = _response(404, b"Not Found", "text/plain")
        if not phone.server_alive(port):
            return  # died while working (crash_server / drop_connections): no answer
        sock.sendall(out)


# ---------------------------------------------------------------- selectors

_FIELDS = {  # selector field -> (mask bit, test)
    "text": (0x01, lambda n, v: n.get("text") == v),
    "textContains": (0x02, lambda n, v: v in n.get("text")),
    "textMatches": (0x04, lambda n, v: _full(v, n.get("text"))),
    "textStartsWith": (0x08, lambda n, v: n.get("text").startswith(v)),
    "className": (0x10, lambda n, v: n.get("class") == v),
    "classNameMatches": (0x20, lambda n, v: _full(v, n.get("class"))),
    "description": (0x40, lambda n, v: n.get("content-desc") == v),
    "descriptionContains": (0x80, lambda n, v: v in n.get("content-desc")),
    "descriptionMatches": (0x100, lambda n, v: _full(v, n.get("content-desc"))),
    "descriptionStartsWith": (0x200, lambda n, v: n.get("content-desc").startswith(v)),
    "checkable": (0x400, lambda n, v: n.flag("checkable") == bool(v)),
    "checked": (0x800, lambda n, v: n.flag("checked") == bool(v)),
    "clickable": (0x1000, lambda n, v: n.flag("clickable") == bool(v)),
    "longClickable": (0x2000, lambda n, v: n.flag("long-clickable") == bool(v)),
    "scrollable": (0x4000, lambda n, v: n.flag("scrollable") == bool(v)),
    "enabled": (0x8000, lambda n, v: n.flag("enabled") == bool(v)),
    "focusable": (0x10000, lambda n, v: n.flag("focusable") == bool(v)),
    "focused": (0x20000, lambda n, v: n.flag("focused") == bool(v)),
    "selected": (0x40000, lambda n, v: n.flag("selected") == bool(v)),
    "packageName": (0x80000, lambda n, v: n.get("package") == v),
    "packageNameMatches": (0x100000, lambda n, v: _full(v, n.get("package"))),
    "resourceId": (0x200000, lambda n, v: n.get("resource-id") == v),
    "resourceIdMatches": (0x400000, lambda n, v: _full(v, n.get("resource-id"))),
    "index": (0x800000, lambda n, v: n.get("index") == str(int(v))),
}
MASK_INSTANCE = 0x1000000


def _full(pattern: str, text: str) -> bool:
    try:
        return re.fullmatch(pattern, text, re.S) is not None
    except re.error:
        raise RpcError("java.util.regex.PatternSyntaxException", f"bad pattern: {pattern}") from None


def _fields(sel: dict) -> list[tuple[Callable, Any]]:
    if not isinstance(sel, dict):
        raise RpcError(ILLEGAL_ARGUMENT, f"not a selector: {sel!r}")
    mask = int(sel.get("mask", 0) or 0)
    tests = []
    for name, (bit, test) in _FIELDS.items():
        if name in sel and (mask & bit or not mask):
            tests.append((test, sel[name]))
    return tests


def _instance(sel: dict) -> Optional[int]:
    mask = int(sel.get("mask", 0) or 0)
    if "instance" in sel and (mask & MASK_INSTANCE or not mask):
        return int(sel["instance"])
    return None


def _match_one(nodes: list[XNode], sel: dict) -> list[XNode]:
    tests = _fields(sel)
    found = [n for n in nodes if all(t(n, v) for t, v in tests)]
    inst = _instance(sel)
    if inst is not None:
        found = found[inst:inst + 1]
    return found


def match(roots: list[XNode], sel: dict) -> list[XNode]:
    """Nodes ``sel`` picks, in document order."""
    everything = [n for r in roots for n in r.walk()]
    found = _match_one(everything, {k: v for k, v in sel.items()})
    for rel, sub in zip(sel.get("childOrSibling") or [], sel.get("childOrSiblingSelector") or []):
        nxt: list[XNode] = []
        seen: set[int] = set()
        for n in found:
            if rel == "child":
                pool = [d for c in n.children for d in c.walk()]
            else:
                pool = [s for s in (n.parent.children if n.parent else [r for r in roots]) if s is not n]
            for m in _match_one(pool, sub):
                if id(m) not in seen:
                    seen.add(id(m))
                    nxt.append(m)
        found = nxt
    return found


def obj_info(n: XNode) -> dict:
    l, t, r, b = n.bounds
    box = {"top": t, "bottom": b, "left": l, "right": r}
    return {"bounds": box, "visibleBounds": dict(box), "childCount": len(n.children), "className": n.get("class"),
            "contentDescription": n.get("content-desc"), "packageName": n.get("package"), "text": n.get("text"),
            "resourceName": n.get("resource-id") or None, "checkable": n.flag("checkable"),
            "checked": n.flag("checked"), "clickable": n.flag("clickable"), "enabled": n.flag("enabled"),
            "focusable": n.flag("focusable"), "focused": n.flag("focused"),
            "longClickable": n.flag("long-clickable"), "scrollable": n.flag("scrollable"),
            "selected": n.flag("selected")}


def _center(n: XNode) -> tuple[int, int]:
    l, t, r, b = n.bounds
    return (l + r) // 2, (t + b) // 2


# ---------------------------------------------------------------- JSON-RPC


class JsonRpc:
    """The jar's JSON-RPC methods the Python client calls, on a ``SimPhone``."""

    def __init__(self, phone: "SimPhone"):
        self.phone = phone

    def handle(self, body: bytes) -> bytes:
        rid: Any = None
        try:
            req = json.loads(body.decode("utf-8"))
            if not isinstance(req, dict) or "method" not in req:
                raise RpcError("com.fasterxml.jackson.databind.JsonMappingException", "invalid request", -32600)
            rid = req.get("id")
            params = req.get("params")
            args = list(params) if isinstance(params, list) else []
            fn = getattr(self, f"m_{req['method']}", None)
            if fn is None:
                raise RpcError("method not found", "", -32601)
            self.phone.stats["rpc"] += 1
            self.phone.stats[f"rpc_{req['method']}"] += 1
            try:
                inspect.signature(fn).bind(*args)
            except TypeError:  # jsonrpc4j finds no overload with this many arguments
                raise RpcError("method not found", "", -32601) from None
            try:
                result = fn(*args)
            except (ValueError, TypeError, KeyError, IndexError) as exc:
                raise RpcError(ILLEGAL_ARGUMENT, f"{type(exc).__name__}: {exc}") from None
            out = {"jsonrpc": "2.0", "id": rid, "result": result}
        except RpcError as exc:
            err = {"code": exc.code, "message": exc.java_class}
            if exc.message or exc.code == -32001:
                err["data"] = exc.message or exc.java_class
            out = {"jsonrpc": "2.0", "id": rid, "error": err}
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            out = {"jsonrpc": "2.0", "id": None,
                   "error": {"code": -32700, "message": "JSON parse error", "data": str(exc)}}
        return json.dumps(out, ensure_ascii=False).encode("utf-8")

    # ------------------------------------------------------------ helpers
    def _roots(self) -> list[XNode]:
        ph = self.phone
        with ph.lock:
            obs, nodes = ph.device.observe()
            return ph.dumper.windows(obs, nodes)

    def _find(self, sel: dict) -> XNode:
        found = match(self._roots(), sel)
        if not found:
            raise RpcError(NOT_FOUND, f"UiSelector{_short(sel)}")
        return found[0]

    # ------------------------------------------------------------ device
    def m_ping(self):
        return "pong"

    def m_deviceInfo(self):
        ph = self.phone
        w, h = ph.size
        dw, dh = ph.device.size
        return {"currentPackageName": ph.current()[0], "displayWidth": w, "displayHeight": h,
                "displayRotation": 0, "displaySizeDpX": int(dw), "displaySizeDpY": int(dh),
                "productName": ph.props["ro.product.name"], "naturalOrientation": True, "screenOn": ph.screen_on,
                "sdkInt": ph.api_level}

    def m_dumpWindowHierarchy(self, compressed=False, max_depth=50, root_in_active=False):
        return self.phone.dump(max_depth=int(max_depth) if max_depth is not None else 50,
                               root_in_active=bool(root_in_active))

    def m_takeScreenshot(self, *args):
        if len(args) == 3:  # (filename, scale, quality): save on the device
            filename, scale, quality = args
        elif len(args) == 2:
            filename, (scale, quality) = None, args
        else:
            raise TypeError("takeScreenshot takes 2 or 3 arguments")
        img = self.phone.screenshot().convert("RGB")
        scale = float(scale)
        if scale <= 0 or scale > 1:
            scale = 1.0
        if scale != 1.0:
            img = img.resize((max(1, int(img.width * scale)), max(1, int(img.height * scale))))
        data = io.BytesIO()
        img.save(data, "JPEG", quality=max(1, min(100, int(quality))))
        if filename is not None:
            return self.phone.fs.write(str(filename), data.getvalue())
        return base64.encodebytes(data.getvalue()).decode("ascii")

    def m_waitForIdle(self, timeout=0):
        return True

    def m_waitForWindowUpdate(self, package=None, timeout=0):
        return True

    def m_wakeUp(self):
        self.phone.screen_on = True

    def m_sleep(self):
        self.phone.screen_on = False

    def m_isScreenOn(self):
        return self.phone.screen_on

    def m_freezeRotation(self, freeze=True):
        return None

    def m_setOrientation(self, orientation):
        if str(orientation).lower() not in ("n", "natural", "0"):
            raise RpcError("java.lang.UnsupportedOperationException", "the sim phone stays in portrait")

    def m_openNotification(self):
        return False

    def m_openQuickSettings(self):
        return False

    def m_getLastToast(self, *args):
        return None

    def m_clearLastToast(self):
        return None

    def m_getLastTraversedText(self):
        return None

    def m_clearLastTraversedText(self):
        return None

    def m_launchApp(self, package):
        return self.phone.launch(str(package))

    # ------------------------------------------------------------ gestures (pixels)
    def m_click(self, *args):
        if args and isinstance(args[0], dict):
            return self.m_clickSelector(*args)
        if len(args) == 2:
            return self.phone.tap(float(args[0]), float(args[1]))
        if len(args) == 3:
            x, y, ms = float(args[0]), float(args[1]), float(args[2])
            return self.phone.long_press(x, y) if ms >= 400 else self.phone.tap(x, y)
        raise TypeError("click takes 2 or 3 numbers, or a selector")

    def m_clickSelector(self, sel, corner=None):
        n = self._find(sel)
        return self.phone.tap(*_center(n))

    def m_longClick(self, *args):
        if args and isinstance(args[0], dict):
            return self.phone.long_press(*_center(self._find(args[0])))
        return self.phone.long_press(float(args[0]), float(args[1]))

    def m_clickAndWaitForNewWindow(self, sel, timeout=0):
        return self.m_clickSelector(sel)

    def m_swipe(self, *args):
        if args and isinstance(args[0], dict):  # swipe(selector, direction, [percent,] steps)
            n = self._find(args[0])
            l, t, r, b = n.bounds
            cx, cy = _center(n)
            d = str(args[1]).lower()
            dx, dy = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}.get(d, (0, 0))
            return self.phone.drag(cx - dx * (r - l) * 0.4, cy - dy * (b - t) * 0.4,
                                   cx + dx * (r - l) * 0.4, cy + dy * (b - t) * 0.4)
        fx, fy, tx, ty = (float(v) for v in args[:4])
        return self.phone.drag(fx, fy, tx, ty)

    def m_swipePoints(self, points, steps=0):
        pts = [float(v) for v in points]
        if len(pts) < 4:
            raise ValueError("swipePoints needs two points")
        return self.phone.drag(pts[0], pts[1], pts[-2], pts[-1])

    def m_drag(self, sx, sy, ex, ey, steps=0):
        return self.phone.drag(float(sx), float(sy), float(ex), float(ey))

    def m_dragTo(self, sel, *args):
        n = self._find(sel)
        if args and isinstance(args[0], dict):
            tx, ty = _center(self._find(args[0]))
        else:
            tx, ty = float(args[0]), float(args[1])
        return self.phone.drag(*_center(n), tx, ty)

    def m_injectInputEvent(self, action, x, y, meta=0):
        return self.phone.touch(int(action), float(x), float(y))

    def m_pressKey(self, key):
        return self.phone.press_key(str(key))

    def m_pressKeyCode(self, code, meta=0):
        return self.phone.press_keycode(int(code), int(meta or 0))

    # ------------------------------------------------------------ text
    def m_setClipboard(self, label, text):
        self.phone.clipboard = None if text is None else str(text)

    def m_getClipboard(self):
        return self.phone.clipboard

    def m_pasteClipboard(self):
        self.phone.paste()

    def m_clearInputText(self):
        self.phone.clear_text()

    def m_setText(self, sel, text):
        n = self._find(sel)
        if n.get("class") != "android.widget.EditText" and not n.flag("focusable"):
            return False
        self.phone.tap(*_center(n))
        return self.phone.type_text(str(text), clear=True)

    def m_clearTextField(self, sel):
        self.m_setText(sel, "")

    def m_getText(self, sel):
        return self._find(sel).get("text")

    # ------------------------------------------------------------ selectors
    def m_exist(self, sel):
        return bool(match(self._roots(), sel))

    def m_waitForExists(self, sel, timeout=0):
        return self._wait(sel, float(timeout or 0) / 1000, gone=False)

    def m_waitUntilGone(self, sel, timeout=0):
        return self._wait(sel, float(timeout or 0) / 1000, gone=True)

    def _wait(self, sel: dict, timeout: float, gone: bool) -> bool:
        # the sim changes only on input, so a short grace period covers another client's input in flight
        deadline = time.monotonic() + min(timeout, 1.0)
        while True:
            if bool(match(self._roots(), sel)) != gone:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def m_objInfo(self, sel):
        return obj_info(self._find(sel))

    def m_objInfoOfAllInstances(self, sel):
        return [obj_info(n) for n in match(self._roots(), sel)]

    def m_count(self, sel):
        return len(match(self._roots(), sel))

    def m_getChild(self, sel, child):
        sub = dict(sel)
        sub["childOrSibling"] = list(sel.get("childOrSibling") or []) + ["child"]
        sub["childOrSiblingSelector"] = list(sel.get("childOrSiblingSelector") or []) + [child]
        return obj_info(self._find(sub))

    # scrolling: forward = toward the end (content moves up)
    def _scroll(self, sel: dict, vertical: bool, forward: bool, fraction: float = 0.8) -> bool:
        n = self._find(sel)
        if not vertical:
            return False
        l, t, r, b = n.bounds
        cx = (l + r) // 2
        ph = self.phone
        with ph.lock:
            before = ph.device.state_digest()
            x, y = ph._dp(cx, (t + b) // 2)
            ph.device.scroll("down" if forward else "up", fraction, x, y)
            return ph.device.state_digest() != before

    def m_scrollForward(self, sel, vertical=True, steps=55):
        return self._scroll(sel, bool(vertical), True)

    def m_scrollBackward(self, sel, vertical=True, steps=55):
        return self._scroll(sel, bool(vertical), False)

    def m_flingForward(self, sel, vertical=True):
        return self._scroll(sel, bool(vertical), True, 1.5)

    def m_flingBackward(self, sel, vertical=True):
        return self._scroll(sel, bool(vertical), False, 1.5)

    def m_scrollToEnd(self, sel, vertical=True, max_swipes=20, steps=55):
        for _ in range(int(max_swipes)):
            if not self._scroll(sel, bool(vertical), True):
                break
        return True

    def m_scrollToBeginning(self, sel, vertical=True, max_swipes=20, steps=55):
        for _ in range(int(max_swipes)):
            if not self._scroll(sel, bool(vertical), False):
                break
        return True

    m_flingToEnd = m_scrollToEnd
    m_flingToBeginning = m_scrollToBeginning

    def m_scrollTo(self, sel, target, vertical=True):
        for _ in range(30):
            if match(self._roots(), target):
                return True
            if not self._scroll(sel, bool(vertical), True):
                break
        return bool(match(self._roots(), target))


def _short(sel: dict) -> str:
    keep = {k: v for k, v in sel.items() if k not in ("mask", "childOrSibling", "childOrSiblingSelector") and v}
    return "[" + ", ".join(f"{k.upper()}={v}" for k, v in keep.items()) + "]"
