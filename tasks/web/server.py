"""A local HTTP server for the web task pages, and the states they report.

``TaskServer`` serves the pages in ``tasks/web/pages`` and the scripts they share
(``pages/*.js``, e.g. ``common.js``), nothing else, on 127.0.0.1 at a free port, in
a daemon thread. Each page reads its configuration from the URL query
(``?session=ID&...``) and, after every change and once on load, POSTs its full
state as a JSON object to ``/state/<session>``; the server keeps the latest state
per session for the success checks.
"""
from __future__ import annotations

import json
import re
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Optional
from urllib.parse import quote, unquote, urlencode, urlsplit

PAGES_DIR = Path(__file__).resolve().parent / "pages"
MAX_STATE_BYTES = 256 * 1024
SESSION_RE = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")
PAGE_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}\.html$")
SCRIPT_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}\.js$")  # the scripts the pages share, e.g. common.js
SERVED = ((PAGE_RE, "text/html; charset=utf-8"), (SCRIPT_RE, "text/javascript; charset=utf-8"))


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"
    server_version = "HandaTaskServer/1"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # quiet: no request log on stderr
        pass

    def _send(self, status: int, body: bytes = b"", content_type: str = "text/plain; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, message: str) -> None:
        self._send(status, (message + "\n").encode())

    def do_GET(self) -> None:
        path = unquote(urlsplit(self.path).path)
        if path in ("", "/"):
            names = sorted(p.name for p in PAGES_DIR.glob("*.html"))
            self._send(HTTPStatus.OK, json.dumps(names).encode(), "application/json")
            return
        if path == "/favicon.ico":
            self._send(HTTPStatus.NO_CONTENT)
            return
        name = path[1:]
        file = PAGES_DIR / name
        # only a plain page or script name: no folders, no dots but the extension, no other file types
        content_type = next((ctype for pattern, ctype in SERVED if pattern.match(name)), None)
        if content_type is None or not file.is_file() or file.resolve().parent != PAGES_DIR:
            self._error(HTTPStatus.NOT_FOUND, "no such page")
            return
        self._send(HTTPStatus.OK, file.read_bytes(), content_type)

    do_HEAD = do_GET

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        if not path.startswith("/state/"):
            self._error(HTTPStatus.NOT_FOUND, "POST only to /state/<session>")
            return
        session = unquote(path[len("/state/"):])
        if not SESSION_RE.match(session):
            self._error(HTTPStatus.BAD_REQUEST, "bad session id")
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._error(HTTPStatus.LENGTH_REQUIRED, "Content-Length required")
            return
        if length < 0 or length > MAX_STATE_BYTES:
            self.close_connection = True  # the body is left unread
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"state larger than {MAX_STATE_BYTES} bytes")
            return
        raw = self.rfile.read(length)
        try:
            state = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            self._error(HTTPStatus.BAD_REQUEST, "body is not JSON")
            return
        if not isinstance(state, dict):
            self._error(HTTPStatus.BAD_REQUEST, "state must be a JSON object")
            return
        self.server.store(session, state)
        self._send(HTTPStatus.NO_CONTENT)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int]):
        super().__init__(address, _Handler)
        self.states: dict[str, dict] = {}
        self.changed = threading.Condition()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a browser that goes away mid-request (a closed tab, an exiting headless run) is no news."""

    def store(self, session: str, state: dict) -> None:
        with self.changed:
            old = self.states.get(session)
            # posts may overtake each other: a page numbers its reports, an older one never replaces a newer
            seq, old_seq = state.get("seq"), (old or {}).get("seq")
            if isinstance(seq, int) and isinstance(old_seq, int) and seq < old_seq:
                return
            self.states[session] = state
            self.changed.notify_all()


class TaskServer:
    """The task pages on http://127.0.0.1:<port>/, with the latest state each session reported.

    Use as a context manager or call ``close()``.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self._server = _Server((host, port))
        self.host = host
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name=f"handa-task-server:{self.port}", daemon=True)
        self._thread.start()
        self._closed = False

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def url(self, page: str, **query: Any) -> str:
        """The address of ``page`` (e.g. ``"signup.html"``) with ``query`` as its URL query."""
        if not PAGE_RE.match(page) or not (PAGES_DIR / page).is_file():
            raise ValueError(f"no task page {page!r} in {PAGES_DIR.name}/")
        q = urlencode({k: str(v) for k, v in query.items()}, quote_via=quote)
        return f"{self.base_url}{page}" + (f"?{q}" if q else "")

    def state(self, session: str) -> Optional[dict]:
        """The latest state ``session`` reported (a copy), or None before its first report."""
        with self._server.changed:
            s = self._server.states.get(session)
            return None if s is None else json.loads(json.dumps(s))

    def sessions(self) -> list[str]:
        with self._server.changed:
            return list(self._server.states)

    def forget(self, session: str) -> None:
        with self._server.changed:
            self._server.states.pop(session, None)

    def wait_state(self, session: str, predicate: Callable[[dict], bool] = lambda s: True,
                   timeout: float = 5.0) -> Optional[dict]:
        """Wait until ``session``'s state satisfies ``predicate``; that state, or None on timeout."""
        deadline = time.monotonic() + timeout
        with self._server.changed:
            while True:
                s = self._server.states.get(session)
                if s is not None:
                    copy = json.loads(json.dumps(s))
                    try:
                        if predicate(copy):
                            return copy
                    except Exception:  # a predicate that cannot read this state is not satisfied by it
                        pass
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._server.changed.wait(left)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "TaskServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass
