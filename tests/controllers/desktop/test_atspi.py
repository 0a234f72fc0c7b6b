"""The AT-SPI reader, against a real private desktop.

A private desktop (``DesktopSession.start_virtual()``: Xvfb, a private session bus, the AT-SPI bus launcher and
openbox) with gtk3-widget-factory and two Chromium pages (``chromium_argv``) is started once for the module
(``_desktop()``); ``session.close()`` stops every process started in it and removes its folder. The role/state
mapping, the wire codec and the "no accessibility bus" errors need no X server.
"""
from __future__ import annotations

import os
import random
import signal
import statistics
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Optional

import pytest
from jeepney import DBusAddress, new_error, new_method_call, new_method_return
from jeepney.low_level import Endianness, Parser

from controllers.desktop import atspi
from controllers.desktop.apps import chromium_argv
from controllers.desktop.atspi import (AtspiError, AtspiReader, AtspiUnavailable, TreeDump, a11y_bus_address,
                                       map_role, map_states, state_bits)
from controllers.desktop.session import BUS_CONFIG, DesktopSession
from controllers.elements import Rect, Role

SCREEN = Rect(left=0, top=0, right=1280, bottom=800)

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Handa 테스트</title></head>
<body style="font:16px sans-serif">
<h1>안녕하세요 세계</h1>
<p>한국어 문단입니다.</p>
<button id="go-btn">확인 OK</button>
<input id="name-input" type="text" placeholder="이름 입력" value="홍길동">
<input id="pw" type="password" value="secret">
<label><input id="agree" type="checkbox" checked> 동의합니다</label>
<label><input id="news" type="checkbox"> 소식 받기</label>
<input id="vol" type="range" min="0" max="100" value="30">
<a href="#x" id="lnk">링크</a>
<div style="display:none"><button id="hidden-btn">숨김</button></div>
<div style="position:absolute; top:6000px"><button id="far-btn">far away</button></div>
</body></html>
"""


def _big_page() -> str:
    """~6,000 nodes: 2,000 tiny buttons on screen, then 2,000 paragraphs, most of them below the fold."""
    buttons = "".join(f'<button id="b{i}">{i}</button>' for i in range(2000))
    paragraphs = "".join(f'<p style="margin:0">문단 {i}</p>' for i in range(2000))
    return ('<!doctype html><html><head><meta charset="utf-8"><title>큰 페이지</title><style>'
            'body{margin:0;font:6px sans-serif} button{font:6px sans-serif;padding:0;margin:0;border:0;'
            'width:24px;height:8px}</style></head><body>' + buttons + paragraphs + "</body></html>")


# ------------------------------------------------------------------------------------------ the desktop
def _wait(predicate: Callable, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except Exception as exc:  # not up yet
            value, last = None, exc
        else:
            last = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}" + (f": {last}" if last else ""))
        time.sleep(interval)


class _Desk:
    """The private desktop, a reader on its accessibility bus and the pids of the apps under test."""

    def __init__(self, session: DesktopSession) -> None:
        self.session = session
        self.folder = session.workdir or Path()  # private; removed by session.close()
        self.a11y_address = session.a11y_address or ""
        self.reader: Optional[AtspiReader] = None
        self.gtk = self.chrome = self.big = 0  # pids

    def close(self) -> None:
        try:
            if self.reader is not None:
                self.reader.close()
        finally:
            self.session.close()

    # -- apps (not waited for by window: the tree waits below say when each one is ready, all in parallel)
    def dump(self, pid: int, **kw) -> TreeDump:
        assert self.reader is not None
        return self.reader.dump(SCREEN, pids={pid}, **kw)

    def start_gtk(self) -> int:
        pid = self.session.launch(["gtk3-widget-factory"], wait_window=False).pid
        _wait(lambda: any(e.name == "checkbutton" for e in self.dump(pid).elements), 20,
              "gtk3-widget-factory in the accessibility tree")
        return pid

    def start_chromium(self, page: Path, width: int, height: int) -> int:
        # a normal window (not --app), so the browser chrome (tabs, Reload) is in the tree too
        argv = chromium_argv(page.as_uri(), str(self.folder / f"chromium-{page.stem}"), width=width, height=height,
                             app_mode=False)
        return self.session.launch(argv, wait_window=False).pid


@contextmanager
def _desktop():
    desk = _Desk(DesktopSession.start_virtual(width=SCREEN.width, height=SCREEN.height))
    try:
        assert desk.session.workdir is not None and desk.a11y_address
        desk.reader = _wait(lambda: AtspiReader(desk.a11y_address), 15, "the AT-SPI registry")
        (desk.folder / "page.html").write_text(PAGE, encoding="utf-8")
        (desk.folder / "big.html").write_text(_big_page(), encoding="utf-8")
        desk.chrome = desk.start_chromium(desk.folder / "page.html", 1000, 700)  # both at 0,0: they overlap
        desk.big = desk.start_chromium(desk.folder / "big.html", 1280, 800)
        desk.gtk = desk.start_gtk()
        _wait(lambda: any(e.name == "확인 OK" for e in desk.dump(desk.chrome).elements), 40, "the Chromium page")
        _wait(lambda: len(desk.dump(desk.big, max_nodes=5000).elements) > 1500, 40, "the big Chromium page")
        yield desk
    finally:
        desk.close()


@pytest.fixture(scope="module")
def desk():
    with _desktop() as d:
        yield d


def by(elements, **kw):
    """Elements whose fields (or attrs, with ``attr_`` prefix) equal the given values."""
    out = []
    for e in elements:
        ok = True
        for k, v in kw.items():
            got = e.attrs.get(k[5:].replace("_", "-")) if k.startswith("attr_") else getattr(e, k)
            if got != v:
                ok = False
                break
        if ok:
            out.append(e)
    return out


def assert_consistent(dump: TreeDump) -> None:
    els = dump.elements
    assert [e.id for e in els] == list(range(len(els)))
    for e in els:
        if e.parent is not None:
            assert e.parent < e.id, "a parent comes before its children (tree order)"
            assert e.id in els[e.parent].children
        for c in e.children:
            assert c > e.id and els[c].parent == e.id
        assert e.bounds.width > 0 and e.bounds.height > 0
        assert SCREEN.intersect(e.bounds) is not None, f"{e.role} {e.name!r} {e.bounds} lies off screen"
        assert e.states.visible
        assert e.attrs["atspi-role"] and e.attrs["bus"] and e.attrs["path"]
        assert e.app


# ------------------------------------------------------------------------------ mapping (no X server)
def bits(*ns: int) -> int:
    return sum(1 << n for n in ns)


SHOWN = (atspi.S_SHOWING, atspi.S_VISIBLE, atspi.S_ENABLED, atspi.S_SENSITIVE)


@pytest.mark.parametrize("name,states,attrs,role", [
    ("push button", 0, None, Role.button),
    ("toggle button", 0, None, Role.switch),
    ("toggle button", bits(atspi.S_HAS_POPUP), None, Role.button),
    ("push button", 0, {"xml-roles": "switch"}, Role.switch),
    ("check box", 0, None, Role.checkbox),
    ("check menu item", 0, None, Role.checkbox),
    ("radio button", 0, None, Role.radio),
    ("radio menu item", 0, None, Role.radio),
    ("entry", 0, None, Role.text_field),
    ("password text", 0, None, Role.text_field),
    ("text", bits(atspi.S_EDITABLE), None, Role.text_field),
    ("text", bits(atspi.S_FOCUSABLE, atspi.S_READ_ONLY), None, Role.text_field),  # a read-only entry
    ("text", 0, None, Role.text),
    ("text", bits(atspi.S_EDITABLE, atspi.S_READ_ONLY), None, Role.text),
    ("spin button", 0, None, Role.text_field),
    ("edit bar", 0, None, Role.text_field),
    ("combo box", 0, None, Role.dropdown),
    ("slider", 0, None, Role.slider),
    ("scroll bar", 0, None, Role.slider),
    ("link", 0, None, Role.link),
    ("page tab", 0, None, Role.tab),
    ("list item", 0, None, Role.list_item),
    ("table cell", 0, None, Role.list_item),
    ("tree item", 0, None, Role.list_item),
    ("menu item", 0, None, Role.menu_item),
    ("menu", 0, None, Role.menu),
    ("popup menu", 0, None, Role.menu),
    ("label", 0, None, Role.text),
    ("static", 0, None, Role.text),
    ("paragraph", 0, None, Role.text),
    ("heading", 0, None, Role.heading),
    ("dialog", 0, None, Role.dialog),
    ("alert", 0, None, Role.dialog),
    ("file chooser", 0, None, Role.dialog),
    ("frame", 0, None, Role.window),
    ("window", 0, None, Role.window),
    ("image", 0, None, Role.image),
    ("icon", 0, None, Role.icon),
    ("tool bar", 0, None, Role.toolbar),
    ("progress bar", 0, None, Role.progress),
    ("level bar", 0, None, Role.progress),
    ("document web", 0, None, Role.web_view),
    ("document frame", 0, None, Role.web_view),
    ("panel", 0, None, Role.container),
    ("filler", 0, None, Role.container),
    ("section", 0, None, Role.container),
    ("form", 0, None, Role.container),
    ("grouping", 0, None, Role.container),
    ("scroll pane", 0, None, Role.container),
    ("list", 0, None, Role.list),
    ("list box", 0, None, Role.list),
    ("table", 0, None, Role.list),
    ("tree", 0, None, Role.list),
    ("a role from the future", 0, None, Role.unknown),
    ("", 0, None, Role.unknown),
    ("Push Button", 0, None, Role.button),
])
def test_role_mapping(name, states, attrs, role):
    assert map_role(name, states, attrs) == role


def test_state_mapping():
    on = map_states("check box", bits(*SHOWN, atspi.S_CHECKED))
    off = map_states("check box", bits(*SHOWN))
    assert on.checked is True and off.checked is False and on.clickable and on.enabled
    assert map_states("push button", bits(*SHOWN, atspi.S_CHECKED)).checked is None  # not checkable
    assert map_states("toggle button", bits(*SHOWN, atspi.S_PRESSED)).checked is True
    assert map_states("toggle button", bits(*SHOWN, atspi.S_HAS_POPUP)).checked is None  # a menu button
    assert map_states("push button", bits(*SHOWN, atspi.S_CHECKABLE, atspi.S_PRESSED)).checked is True  # aria-pressed
    assert map_states("check box", bits(*SHOWN, atspi.S_INDETERMINATE)).checked is False
    assert map_states("push button", bits(atspi.S_SENSITIVE)).enabled
    assert map_states("push button", bits(atspi.S_ENABLED)).enabled
    assert not map_states("push button", bits(atspi.S_SHOWING, atspi.S_VISIBLE)).enabled
    s = map_states("entry", bits(*SHOWN, atspi.S_EDITABLE, atspi.S_FOCUSED, atspi.S_FOCUSABLE))
    assert s.editable and s.focused and s.clickable and not s.password
    assert not map_states("entry", bits(*SHOWN, atspi.S_EDITABLE, atspi.S_READ_ONLY)).editable
    assert map_states("password text", bits(*SHOWN, atspi.S_EDITABLE)).password
    assert map_states("entry", bits(*SHOWN), attributes={"text-input-type": "password"}).password
    assert map_states("page tab", bits(*SHOWN, atspi.S_SELECTED)).selected
    assert map_states("scroll pane", bits(*SHOWN)).scrollable
    assert not map_states("label", bits(*SHOWN)).clickable
    assert not map_states("panel", bits(*SHOWN, atspi.S_FOCUSABLE)).clickable
    assert map_states("panel", bits(*SHOWN, atspi.S_FOCUSABLE), interfaces=["Action"]).clickable
    assert map_states("a role from the future", 0).checked is None


def test_state_words():
    assert state_bits([0, 0]) == 0
    assert state_bits([1 << 25 | 1 << 30, 1 << 9]) == bits(atspi.S_SHOWING, atspi.S_VISIBLE, atspi.S_CHECKABLE)
    assert state_bits([-1 & 0xFFFFFFFF]) == 0xFFFFFFFF


# ------------------------------------------------------------------------------ wire codec (no X server)
def test_marshalled_calls_read_back_with_jeepney():
    template = atspi._CallTemplate("org.freedesktop.DBus.Properties", "GetAll", "s", ("org.a11y.atspi.Accessible",))
    raw = template.build(7, ":1.42", "/org/a11y/atspi/accessible/123") + template.build(8, ":1.5", "/o/b")
    raw += atspi._method_call(9, "org.a11y.Bus", "/org/a11y/bus", "org.a11y.Bus", "GetAddress")
    raw += atspi._method_call(10, ":1.3", "/p", "org.x.Y", "Z", "ssuig", ("한국어", "ab", 5, -1, "a{sv}"))
    parser = Parser()
    parser.add_data(raw)
    msgs = [parser.get_next_message() for _ in range(4)]
    assert parser.get_next_message() is None
    h = msgs[0].header
    assert (h.serial, h.fields[6], h.fields[1], h.fields[2], h.fields[3]) == (
        7, ":1.42", "/org/a11y/atspi/accessible/123", "org.freedesktop.DBus.Properties", "GetAll")
    assert msgs[0].body == ("org.a11y.atspi.Accessible",)
    assert msgs[1].header.serial == 8 and msgs[1].header.fields[1] == "/o/b"
    assert msgs[2].body == () and msgs[2].header.fields[3] == "GetAddress"
    assert msgs[3].body == ("한국어", "ab", 5, -1, "a{sv}")


def _reply(serial: int, signature: str, body: tuple, big_endian: bool = False) -> bytes:
    call = new_method_call(DBusAddress("/x", ":1.1", "a.b"), "M")
    call.header.serial = serial
    msg = new_method_return(call, signature, body)
    if big_endian:
        msg.header.endianness = Endianness.big
    return msg.serialise(serial=1000 + serial)


def test_replies_parse_like_jeepney_in_any_chunking():
    props = {"Name": ("s", "확인 버튼 ✓"), "ChildCount": ("i", 3), "Parent": ("(so)", (":1.2", "/a/b")),
             "Attributes": ("a{ss}", {"id": "go-btn", "태그": "값"}), "Description": ("s", "")}
    cases = [
        ("a{sv}", (props,), ({k: v[1] for k, v in props.items()},)),
        ("a(so)", ([(":1.2", "/a/1"), (":1.2", "/a/22")],), ([(":1.2", "/a/1"), (":1.2", "/a/22")],)),
        ("(iiii)", ((-5, 10, 300, 40),), ((-5, 10, 300, 40),)),
        ("au", ([1 << 25 | 1 << 30, 512],), ([1 << 25 | 1 << 30, 512],)),
        ("as", (["org.a11y.atspi.Accessible", "org.a11y.atspi.Action"],),
         (["org.a11y.atspi.Accessible", "org.a11y.atspi.Action"],)),
        ("v", (("d", 0.5),), (0.5,)),
        ("s", ("",), ("",)),
        ("", (), ()),
        ("yb(xt)", (7, True, (-(2 ** 40), 2 ** 50)), (7, True, (-(2 ** 40), 2 ** 50))),
    ]
    raw = b""
    expected = []
    for i, (sig, body, want) in enumerate(cases):
        for big in (False, True):
            serial = 2 * i + big + 1
            raw += _reply(serial, sig, body, big)
            expected.append((serial, want))
    call = new_method_call(DBusAddress("/x", ":1.1", "a.b"), "M")
    call.header.serial = 99
    raw += new_error(call, "org.freedesktop.DBus.Error.ServiceUnknown", "s", ("gone 없음",)).serialise(serial=5000)
    rng = random.Random(3)
    for _ in range(20):
        buf, pos, got = bytearray(), 0, []
        cuts = sorted(rng.sample(range(1, len(raw)), 12))
        for a, b in zip([0] + cuts, cuts + [len(raw)]):
            buf += raw[a:b]
            msgs, pos = atspi._parse_messages(buf, pos)
            got.extend(msgs)
        assert pos == len(buf)
        assert [(m.reply_serial, m.values()) for m in got[:-1]] == expected
        err = got[-1]
        assert err.type == atspi._ERROR and err.reply_serial == 99
        assert err.error_name == "org.freedesktop.DBus.Error.ServiceUnknown" and "없음" in err.error_text()


# ------------------------------------------------------------------------ no accessibility bus (no X)
def test_no_session_bus_is_unavailable(tmp_path, monkeypatch):
    with pytest.raises(AtspiUnavailable, match="cannot connect"):
        a11y_bus_address(f"unix:path={tmp_path / 'nothing-here'}", timeout=0.5)
    monkeypatch.delenv("AT_SPI_BUS_ADDRESS", raising=False)
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    with pytest.raises(AtspiUnavailable, match="DBUS_SESSION_BUS_ADDRESS"):
        a11y_bus_address()
    with pytest.raises(AtspiUnavailable):
        AtspiReader(f"unix:path={tmp_path / 'nothing-here'}", timeout=0.5)


def test_a_bus_without_accessibility_is_unavailable(tmp_path):
    (tmp_path / "bus.conf").write_text(BUS_CONFIG.format(socket_dir=tmp_path))
    bus = subprocess.Popen(["dbus-daemon", "--nofork", f"--config-file={tmp_path / 'bus.conf'}", "--print-address=1"],
                           stdout=subprocess.PIPE, start_new_session=True)
    try:
        address = bus.stdout.readline().decode().strip()
        assert address
        t = time.monotonic()
        with pytest.raises(AtspiUnavailable, match="org.a11y.Bus"):
            a11y_bus_address(address, timeout=2)
        with pytest.raises(AtspiUnavailable, match="registry"):
            AtspiReader(address, timeout=2)  # a bus, but no AT-SPI registry on it
        assert time.monotonic() - t < 3
    finally:
        os.killpg(bus.pid, signal.SIGKILL)
        bus.wait()
        bus.stdout.close()


# ------------------------------------------------------------------------------------ the real desktop
def test_applications_have_names_and_pids(desk):
    apps = {a.pid: a for a in desk.reader.applications()}
    assert apps[desk.gtk].name == "gtk3-widget-factory"
    assert apps[desk.chrome].name.lower().startswith("chrom")
    assert all(a.bus_name.startswith(":") and a.path for a in apps.values())


def test_widget_factory_roles_states_and_values(desk):
    dump = desk.dump(desk.gtk)
    assert not dump.partial and not dump.truncated, dump.warnings
    els = dump.elements
    assert_consistent(dump)
    assert {e.app for e in els} == {"gtk3-widget-factory"}
    assert {e.attrs["pid"] for e in els} == {str(desk.gtk)}
    assert els[0].role == Role.window and els[0].parent is None

    checks = by(els, role=Role.checkbox, name="checkbutton")
    assert len(checks) == 6
    assert any(c.states.checked is True and c.states.enabled for c in checks)
    assert any(c.states.checked is False and c.states.enabled for c in checks)
    assert any(not c.states.enabled for c in checks)
    assert any(c.attrs.get("indeterminate") == "true" for c in checks)
    assert all(c.states.clickable for c in checks)
    radios = by(els, role=Role.radio, name="radiobutton")
    assert len(radios) == 6 and any(r.states.checked for r in radios) and any(r.states.checked is False for r in radios)

    toggles = by(els, role=Role.switch, name="togglebutton")
    assert {t.states.checked for t in toggles} == {True, False}

    entries = by(els, role=Role.text_field, attr_atspi_role="text")
    assert "entry" in {e.value for e in entries}
    assert any(e.hint == "Click icon to change mode" for e in entries)
    assert all(e.states.editable for e in entries if e.states.enabled)
    spins = by(els, role=Role.text_field, attr_atspi_role="spin button")
    assert "50" in {s.value for s in spins}
    sliders = by(els, role=Role.slider)
    assert sliders and all(float(s.value) >= 0 for s in sliders) and "50" in {s.value for s in sliders}
    assert "0.5" in {p.value for p in by(els, role=Role.progress)}

    tabs = by(els, role=Role.tab, name="page 1")
    assert tabs and all(t.states.selected for t in tabs)
    assert not any(t.states.selected for t in by(els, role=Role.tab, name="page 2"))
    assert by(els, role=Role.dropdown, name="Left")
    assert by(els, role=Role.list_item, name="Andrea")
    assert by(els, role=Role.button, name="Minimize")
    assert len(by(els, role=Role.button)) >= 3
    assert by(els, role=Role.text, name="label")

    # pruning: no hidden popup menu, no bare fillers, nothing wholly off screen (the window is wider)
    assert not by(els, role=Role.menu)
    assert not [e for e in els if e.attrs["atspi-role"] == "filler" and not e.name]
    assert not by(els, name="Close", role=Role.button)  # the title bar's close button sits at x > 1280
    window = els[0]
    assert window.bounds.right > SCREEN.right  # true bounds are kept, not clipped


def test_walk_and_collection_agree(desk):
    a = desk.dump(desk.gtk, strategy="walk")
    b = desk.dump(desk.gtk, strategy="collection")
    key = lambda d: [(e.role, e.name, e.value, e.bounds, e.states, e.parent) for e in d.elements]  # noqa: E731
    assert key(a) == key(b)
    assert b.visited < a.visited  # Collection only returns showing nodes
    c = desk.dump(desk.chrome, strategy="walk")
    d = desk.dump(desk.chrome, strategy="collection")
    assert [(e.role, e.name) for e in c.elements] == [(e.role, e.name) for e in d.elements]


def test_dump_is_fast(desk):
    times, dump = [], None
    for _ in range(20):
        t = time.perf_counter()
        dump = desk.dump(desk.gtk)
        times.append(time.perf_counter() - t)
    median = statistics.median(times) * 1000
    print(f"gtk3-widget-factory: median {median:.1f} ms, {len(dump.elements)} elements, {dump.visited} visited")
    assert median <= 150, f"median dump {median:.0f} ms"


def test_chromium_page_in_korean(desk):
    dump = desk.dump(desk.chrome)
    assert not dump.partial, dump.warnings
    assert_consistent(dump)
    els = dump.elements
    doc = by(els, role=Role.web_view)
    assert len(doc) == 1 and doc[0].name == "Handa 테스트" and doc[0].states.scrollable
    assert doc[0].window.startswith("Handa 테스트")
    assert by(els, role=Role.heading, name="안녕하세요 세계")
    assert by(els, role=Role.text, name="한국어 문단입니다.")
    (button,) = by(els, attr_resource_id="go-btn")
    assert button.role == Role.button and button.name == "확인 OK" and button.states.clickable
    assert button.attrs["toolkit-id"] == "go-btn" and button.attrs["tag"] == "button"
    (field,) = by(els, attr_resource_id="name-input")
    assert field.role == Role.text_field and field.value == "홍길동" and field.hint == "이름 입력"
    assert field.states.editable
    (pw,) = by(els, attr_resource_id="pw")
    assert pw.role == Role.text_field and pw.states.password and pw.value and set(pw.value) == {"•"}
    (agree,) = by(els, attr_resource_id="agree")
    assert agree.role == Role.checkbox and agree.name == "동의합니다" and agree.states.checked is True
    (news,) = by(els, attr_resource_id="news")
    assert news.role == Role.checkbox and news.states.checked is False
    (vol,) = by(els, attr_resource_id="vol")
    assert vol.role == Role.slider and vol.value == "30"
    assert by(els, role=Role.link, name="링크")
    assert not by(els, attr_resource_id="hidden-btn")  # display: none
    assert not by(els, attr_resource_id="far-btn")     # far below the fold
    # everything in the page hangs below the document
    ids = {e.id for e in els}
    for e in (button, field, pw, agree, vol):
        p = e.parent
        while p is not None and p != doc[0].id:
            assert p in ids
            p = els[p].parent
        assert p == doc[0].id
    # browser chrome is there too, named by the window title
    assert by(els, role=Role.window)[0].name.startswith("Handa 테스트")
    assert by(els, role=Role.button, name="Reload")


def test_app_filters(desk):
    both = desk.reader.dump(SCREEN, pids={desk.gtk, desk.chrome})
    assert {e.attrs["pid"] for e in both.elements} == {str(desk.gtk), str(desk.chrome)}
    named = desk.reader.dump(SCREEN, app_names={"GTK3-Widget-Factory"})
    assert {e.app for e in named.elements} == {"gtk3-widget-factory"}
    assert desk.reader.dump(SCREEN, pids={-1}).elements == []


@pytest.mark.parametrize("strategy", ["collection", "walk"])
def test_a_4000_node_page_stays_bounded(desk, strategy):
    t = time.perf_counter()
    dump = desk.dump(desk.big, max_nodes=300, strategy=strategy)
    elapsed = time.perf_counter() - t
    assert len(dump.elements) <= 300
    assert dump.truncated and any("truncated" in w for w in dump.warnings)
    assert dump.visited <= 2 * 300
    assert elapsed < 2.5, f"{elapsed:.2f} s"
    assert_consistent(dump)
    els = dump.elements
    assert by(els, role=Role.window)  # windows are kept first
    interactive = [e for e in els if e.states.clickable or e.states.editable]
    assert len(interactive) > 0.8 * len(els)
    # the default cap
    t = time.perf_counter()
    dump = desk.dump(desk.big, strategy=strategy)
    elapsed = time.perf_counter() - t
    assert len(dump.elements) <= 1000 and dump.truncated and dump.visited <= 2000
    assert elapsed < 2.5 + 0.5, f"{elapsed:.2f} s"
    print(f"big page ({strategy}): {elapsed * 1000:.0f} ms for {dump.visited} visited, {len(dump.elements)} kept")


def _stop_after(monkeypatch, replies: int, action: Callable[[], None]) -> dict:
    """Run ``action`` once, after the dump has handled ``replies`` replies."""
    state = {"n": 0, "fired": False}
    original = atspi._Dump.on_reply

    def on_reply(self, msg):
        state["n"] += 1
        if state["n"] == replies and not state["fired"]:
            state["fired"] = True
            action()
        return original(self, msg)

    monkeypatch.setattr(atspi._Dump, "on_reply", on_reply)
    return state


@pytest.mark.parametrize("strategy", ["collection", "walk"])
def test_an_app_killed_mid_dump_gives_a_partial_tree(desk, monkeypatch, strategy):
    pid = desk.start_gtk()
    full = desk.dump(pid, strategy=strategy)
    assert not full.partial and len(full.elements) > 50
    state = _stop_after(monkeypatch, 40, lambda: os.kill(pid, signal.SIGKILL))
    t = time.perf_counter()
    dump = desk.dump(pid, strategy=strategy, timeout=5.0)
    assert state["fired"]
    assert time.perf_counter() - t < 3.0
    assert dump.partial and any("went away" in w for w in dump.warnings), dump.warnings
    assert len(dump.elements) < len(full.elements)
    assert_consistent(dump)
    monkeypatch.undo()
    # the reader stays usable, and the dead app is simply gone
    assert not desk.dump(pid).elements
    assert not desk.dump(desk.gtk).partial


def test_a_hung_app_cannot_hang_the_dump(desk, monkeypatch):
    pid = desk.start_gtk()
    full = desk.dump(pid)
    try:
        # stopped before the dump: left out quickly
        os.kill(pid, signal.SIGSTOP)
        t = time.perf_counter()
        dump = desk.reader.dump(SCREEN, pids={pid, desk.gtk}, timeout=1.0)
        assert time.perf_counter() - t < 1.5
        assert dump.partial and any("did not answer" in w for w in dump.warnings), dump.warnings
        assert {e.attrs["pid"] for e in dump.elements} == {str(desk.gtk)}  # the other app is complete
        os.kill(pid, signal.SIGCONT)
        wait_full = _wait(lambda: not desk.dump(pid).partial, 10, "the app to answer again")
        assert wait_full
        # stopped in the middle of the dump: bounded by the timeout, partial
        _stop_after(monkeypatch, 30, lambda: os.kill(pid, signal.SIGSTOP))
        t = time.perf_counter()
        dump = desk.dump(pid, timeout=1.0)
        elapsed = time.perf_counter() - t
        assert 0.5 < elapsed < 1.5, elapsed
        assert dump.partial and any("no reply" in w for w in dump.warnings), dump.warnings
        assert_consistent(dump)
        monkeypatch.undo()
    finally:
        os.kill(pid, signal.SIGCONT)
    # late replies to the stopped dump are ignored: the next dump is whole and the same
    again = _wait(lambda: (d := desk.dump(pid)) and not d.partial and d, 10, "a whole dump")
    assert [(e.role, e.name, e.bounds) for e in again.elements] == [(e.role, e.name, e.bounds) for e in full.elements]


def test_a_closed_reader_refuses(desk):
    reader = AtspiReader(desk.a11y_address)
    with reader:
        assert reader.applications()
    with pytest.raises(AtspiError):
        reader.dump(SCREEN)
