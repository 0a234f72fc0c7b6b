"""AndroidController: against a stub uiautomator2 device (calls, geometry, faults) and end to end against the
simulated phone (the real uiautomator2 and adbutils clients over the loopback adb server)."""
from __future__ import annotations

import socket
import threading
import time
import types

from adbutils.errors import AdbConnectionError, AdbError, AdbTimeout
import pytest
from PIL import Image
from uiautomator2 import exceptions as u2e

from controllers.actions import (Click, Drag, Frame, Key, LongPress, OpenApp, Scroll, Swipe, System, TypeText, Wait,
                                 element, point, select)
from controllers.android.controller import AndroidController, BoundedAdbClient
from controllers.base import DeviceLost
from controllers.elements import Platform, Rect, Role
from tests.controllers.android.test_hierarchy import dump, node

# ---------------------------------------------------------------- a stub device

PAGE = dump(
    node("android.widget.FrameLayout", (0, 0, 1080, 2400),
         node("android.widget.EditText", (40, 120, 1040, 220), text="", hint="Name", clickable=True,
              resource_id="com.example:id/name", **{"sim-key": "form:name"}),
         node("android.widget.Button", (40, 240, 500, 340), text="Save", clickable=True,
              resource_id="com.example:id/save"),
         node("androidx.recyclerview.widget.RecyclerView", (0, 400, 1080, 2000),
              *[node("android.widget.LinearLayout", (0, 400 + 200 * i, 1080, 600 + 200 * i),
                     node("android.widget.TextView", (40, 400 + 200 * i, 1000, 600 + 200 * i), text=f"Row {i}"),
                     clickable=True) for i in range(8)],
              scrollable=True, resource_id="com.example:id/list")),
    node("android.widget.FrameLayout", (0, 0, 1080, 80), pkg="com.android.systemui"),
)
FOCUSED = PAGE.replace('hint="Name" display-id="0"', 'hint="Name" display-id="0"').replace(
    'focused="false" scrollable="false" long-clickable="false" password="false" selected="false" '
    'visible-to-user="true" bounds="[40,120][1040,220]"',
    'focused="true" scrollable="false" long-clickable="false" password="false" selected="false" '
    'visible-to-user="true" bounds="[40,120][1040,220]"')


class Stub:
    """A ``uiautomator2.Device`` look-alike that records calls; ``faults[method]`` lists exceptions to raise."""

    def __init__(self, xml: str = PAGE, size=(1080, 2400), packages=("com.example", "com.android.settings",
                                                                        "com.android.providers.settings")):
        self.xml = xml
        self.dumps: list = []
        self.calls: list = []
        self.faults: dict[str, list] = {}
        self.packages = list(packages)
        self.image = Image.new("RGB", size, "white")
        self.monkey_out = "Events injected: 1"
        stub = self

        class Rpc:
            def __getattr__(self, method):
                def call(*args):
                    stub.calls.append((method, args))
                    stub._fault(method)
                    if method == "dumpWindowHierarchy":
                        return stub.dumps.pop(0) if stub.dumps else stub.xml
                    if method == "deviceInfo":
                        return {"displayWidth": size[0], "displayHeight": size[1], "displaySizeDpX": 411,
                                "displayRotation": 0}
                    return True
                return call

        self.jsonrpc = Rpc()

        def app_current():
            self._fault("app_current")
            return types.SimpleNamespace(package="com.example", activity=".Main")

        self.adb_device = types.SimpleNamespace(app_current=app_current)

    def _fault(self, method: str) -> None:
        queue = self.faults.get(method)
        if queue:
            raise queue.pop(0)

    def screenshot(self):
        self.calls.append(("screenshot", ()))
        self._fault("screenshot")
        return self.image

    def shell(self, cmd, timeout=None):
        text = cmd if isinstance(cmd, str) else " ".join(cmd)
        self.calls.append(("shell", text))
        self._fault("shell")
        out = ""
        if text == "wm density":
            out = "Physical density: 420\nOverride density: 480\n"
        elif text == "wm size":
            out = "Physical size: 1080x2400\n"
        elif text.startswith("pm list packages"):
            out = "".join(f"package:{p}\n" for p in self.packages)
        elif text.startswith("monkey"):
            out = self.monkey_out if "providers" not in text else "** No activities found to run, monkey aborted."
        elif text.startswith("am start"):
            out = "Starting: Intent { act=android.intent.action.VIEW }"
        return types.SimpleNamespace(output=out, exit_code=0)

    def send_keys(self, text):
        self.calls.append(("send_keys", text))
        self._fault("send_keys")

    def clear_text(self):
        self.calls.append(("clear_text", ()))

    def rpc(self, method: str) -> list:
        return [args for m, args in self.calls if m == method]


def make(stub: Stub | None = None, **kw) -> tuple[AndroidController, Stub, list]:
    stub = stub or Stub()
    opened: list = []

    def connect():
        opened.append(stub)
        return stub

    ctl = AndroidController("stub-1", connector=connect, **kw)
    ctl.focus_delay = 0
    ctl.tap_interval = 0
    ctl.settle_interval = 0.01
    return ctl, stub, opened


# ---------------------------------------------------------------- observe (stub)


def test_observe_builds_the_observation():
    ctl, stub, _ = make()
    obs = ctl.observe()
    assert obs.platform == Platform.android and obs.device == "android:stub-1"
    assert (obs.screen.width, obs.screen.height) == (1080, 2400) and obs.screen.scale_factor == 3.0  # 480 / 160
    assert obs.app == "com.example" and obs.window == "com.example"
    assert obs.window_bounds == Rect(left=0, top=0, right=1080, bottom=2400)
    assert [e.attrs["window-type"] for e in obs.roots()] == ["app", "status_bar"]
    assert obs.screenshot() is stub.image and obs.warnings == []
    assert next(e for e in obs.elements if e.role == Role.text_field).attrs["sim-key"] == "form:name"
    assert stub.rpc("dumpWindowHierarchy")[-1] == (False, 50)


def test_the_screen_follows_the_screenshot_and_keys_can_be_hidden():
    ctl, stub, _ = make(expose_keys=False)
    stub.image = Image.new("RGB", (2400, 1080))
    obs = ctl.observe()
    assert (obs.screen.width, obs.screen.height) == (2400, 1080) and obs.screen.orientation.value == "landscape"
    assert ctl.screen == obs.screen
    assert all("sim-key" not in e.attrs for e in obs.elements)


def test_a_malformed_dump_is_fetched_again_then_given_up():
    ctl, stub, _ = make()
    stub.dumps = ["<hierarchy><node", PAGE]
    obs = ctl.observe()
    assert obs.elements and obs.warnings == [] and len(stub.rpc("dumpWindowHierarchy")) == 2
    stub.dumps = ["<hierarchy><node", "not xml at all"]
    obs = ctl.observe()
    assert obs.elements == [] and obs.screenshot() is stub.image
    assert "screenshot-only" in obs.warnings[0] and "malformed" in obs.warnings[0]
    assert obs.app == "com.example"  # from the window manager when the tree says nothing
    stub.dumps = ['<?xml version="1.0" ?><hierarchy rotation="0" />'] * 2
    obs = ctl.observe()
    assert obs.elements == [] and "no windows" in obs.warnings[0]


def test_wait_for_settle_polls_dumps_only():
    ctl, stub, _ = make()
    stub.dumps = [PAGE.replace("Row 1", "Row one"), PAGE]
    assert ctl.wait_for_settle(2.0) is True
    assert ("screenshot", ()) not in stub.calls
    assert len(stub.rpc("dumpWindowHierarchy")) == 3
    assert ctl.wait_idle(1.0) is True


def test_wait_for_settle_gives_up_on_a_moving_screen():
    ctl, stub, _ = make()
    stub.dumps = [PAGE.replace("Row 1", f"Row {i}x") for i in range(500)]
    start = time.monotonic()
    assert ctl.wait_for_settle(0.2) is False
    assert time.monotonic() - start < 1.0


# ---------------------------------------------------------------- actions (stub)


def test_clicks_long_presses_drags_and_swipes_send_pixels():
    ctl, stub, _ = make()
    obs = ctl.observe()
    save = next(e for e in obs.elements if e.name == "Save")
    r = ctl.execute(Click(target=element(save.id)))
    assert r.ok and r.points[0].model_dump() == {"x": 270, "y": 290} and r.element_id == save.id
    assert stub.rpc("click")[-1] == (270, 290)
    r = ctl.execute(Click(target=select(text="Save"), count=2))
    assert r.ok and stub.rpc("click")[-2:] == [(270, 290), (270, 290)]
    r = ctl.execute(Click(target=element(save.id), button="right"))
    assert not r.ok and "long_press" in r.error and stub.rpc("click")[-1] == (270, 290) and len(stub.rpc("click")) == 3
    r = ctl.execute(LongPress(target=point(0.5, 0.5), duration=1.2))
    assert r.ok and stub.rpc("click")[-1] == (540, 1200, 1200)
    r = ctl.execute(Swipe(start=point(0.5, 0.8), end=point(0.5, 0.2), duration=0.3))
    assert r.ok and stub.rpc("swipe")[-1] == (540, 1919, 540, 480, 60) and len(r.points) == 2
    r = ctl.execute(Drag(start=element(save.id), end=point(0.9, 0.9), duration=1.0))
    assert r.ok and stub.rpc("drag")[-1] == (270, 290, 971, 2159, 200)


def test_bad_targets_are_refused_not_raised():
    ctl, stub, _ = make()
    ctl.observe()
    r = ctl.execute(Click(target=element(999)))
    assert not r.ok and "not in the current observation" in r.error
    r = ctl.execute(Click(target=select(text="Nowhere")))
    assert not r.ok and "no element matches" in r.error
    r = ctl.execute({"type": "click", "target": {"kind": "point", "x": 1.5, "y": 0.5}})
    assert not r.ok and "invalid action" in r.error
    r = ctl.execute({"type": "teleport"})
    assert not r.ok
    stub.xml = PAGE.replace("[40,240][500,340]", "[0,0][0,0]")  # nothing new executed for refused actions
    assert stub.rpc("click") == []


def test_a_device_false_is_a_failed_action():
    ctl, stub, _ = make()

    class No:
        def __getattr__(self, method):
            return lambda *a: False if method == "click" else (PAGE if method == "dumpWindowHierarchy" else {})
    stub.jsonrpc = No()
    r = ctl.execute(Click(target=point(0.5, 0.5)))
    assert not r.ok and "refused the tap" in r.error


def test_scroll_swipes_inside_the_list_and_holds_still():
    ctl, stub, _ = make()
    obs = ctl.observe()
    lst = next(e for e in obs.elements if e.role == Role.list)
    r = ctl.execute(Scroll(direction="down", amount=0.5, target=element(lst.id)))
    assert r.ok and r.info["pixels"] == 800 and r.info["area"] == [0, 400, 1080, 2000]
    (pts, steps), = stub.rpc("swipePoints")
    x0, y0, x1, y1, x2, y2 = pts
    assert x0 == x1 == 540 and y0 - y1 == 800 and y0 > y1  # down: the finger moves up by the amount
    assert (x2, y2) == (x1, y1) and 400 <= y1 < y0 < 2000
    # up, by a row's height, on a row: the list around it scrolls, the unit is the row
    row = next(e for e in obs.elements if e.name == "Row 2").parent
    ctl.execute(Scroll(direction="up", amount=1.0, target=element(row)))
    x0, y0, x1, y1, _, _ = stub.rpc("swipePoints")[-1][0]
    assert y1 - y0 == 200
    # more than fits in one swipe: several; no target: the foreground's biggest scrollable element
    r = ctl.execute(Scroll(direction="down", amount=1.0))
    assert r.ok and len(r.info["swipes"]) == 2 and r.info["pixels"] == 2400 and r.info["area"] == [0, 400, 1080, 2000]
    assert all(400 <= s[1] < 2000 and 400 <= s[3] < 2000 for s in r.info["swipes"])
    r = ctl.execute(Scroll(direction="right", amount=0.25, target=element(lst.id)))
    x0, y0, x1, y1, _, _ = stub.rpc("swipePoints")[-1][0]
    assert y0 == y1 and x0 - x1 == 270  # right: the finger moves left


def test_type_taps_clears_pastes_and_submits():
    ctl, stub, _ = make()
    obs = ctl.observe()
    field = next(e for e in obs.elements if e.role == Role.text_field)
    r = ctl.execute(TypeText(text="홍길동 Hong", target=element(field.id), clear=True, submit=True))
    assert r.ok and r.points[0].model_dump() == {"x": 540, "y": 170}
    tail = [c for c in stub.calls if c[0] in ("click", "clear_text", "send_keys", "pressKey")]
    assert tail == [("click", (540, 170)), ("clear_text", ()), ("send_keys", "홍길동 Hong"), ("pressKey", ("enter",))]
    save = next(e for e in obs.elements if e.name == "Save")
    r = ctl.execute(TypeText(text="x", target=element(save.id)))
    assert not r.ok and "not editable" in r.error
    r = ctl.execute(TypeText(text="x"))
    assert not r.ok and "no text field has focus" in r.error
    stub.xml = FOCUSED
    r = ctl.execute(TypeText(text="more", secret=True))
    assert r.ok and stub.calls[-1] == ("send_keys", "more")


@pytest.mark.parametrize("keys, call", [
    (["enter"], ("pressKeyCode", (66,))),
    (["backspace"], ("pressKeyCode", (67,))),
    (["delete"], ("pressKeyCode", (112,))),
    (["back"], ("pressKeyCode", (4,))),
    (["home"], ("pressKeyCode", (3,))),
    (["recents"], ("pressKeyCode", (187,))),
    (["volume_up"], ("pressKeyCode", (24,))),
    (["volume_mute"], ("pressKeyCode", (164,))),
    (["power"], ("pressKeyCode", (26,))),
    (["tab"], ("pressKeyCode", (61,))),
    (["a"], ("pressKeyCode", (29,))),
    (["A"], ("pressKeyCode", (29, 0x41))),
    (["?"], ("pressKeyCode", (76, 0x41))),
    (["7"], ("pressKeyCode", (14,))),
    (["ctrl", "a"], ("pressKeyCode", (29, 0x3000))),
    (["ctrl", "shift", "z"], ("pressKeyCode", (54, 0x3041))),
    (["alt", "tab"], ("pressKeyCode", (61, 0x12))),
    (["shift"], ("pressKeyCode", (59,))),
    (["ctrl", "alt"], ("pressKeyCode", (57, 0x3000))),
    (["한"], ("send_keys", "한")),
])
def test_keys_become_android_key_codes(keys, call):
    ctl, stub, _ = make()
    r = ctl.execute(Key(keys=keys))
    assert r.ok, r.error
    assert stub.calls[-1] == call


def test_impossible_chords_are_refused():
    ctl, stub, _ = make()
    r = ctl.execute(Key(keys=["a", "b"]))
    assert not r.ok and "one key plus modifiers" in r.error
    r = ctl.execute(Key(keys=["ctrl", "한"]))
    assert not r.ok and "no Android key code" in r.error


@pytest.mark.parametrize("button, key", [("back", "back"), ("home", "home"), ("recents", "recent"),
                                         ("enter", "enter")])
def test_system_buttons(button, key):
    ctl, stub, _ = make()
    assert ctl.execute(System(button=button)).ok
    assert stub.calls[-1] == ("pressKey", (key,))


def test_open_app_by_package_name_url_and_label():
    ctl, stub, _ = make()
    r = ctl.execute(OpenApp(app="com.example"))
    assert r.ok and stub.calls[-1] == ("shell", "monkey -p com.example -c android.intent.category.LAUNCHER 1")
    r = ctl.execute(OpenApp(app="Settings"))  # the shortest package whose last part it is
    assert r.ok and r.info["effect"] == "started com.android.settings"
    stub.packages = ["com.android.providers.settings"]
    ctl.installed_packages(refresh=True)
    r = ctl.execute(OpenApp(app="settings"))  # found, but it has no launcher activity: then the home screen
    assert not r.ok and "no app named 'settings'" in r.error and ("pressKey", ("home",)) in stub.calls
    r = ctl.execute(OpenApp(app="https://example.com/a?b=1"))
    assert r.ok and stub.calls[-1] == ("shell", "am start -a android.intent.action.VIEW -d https://example.com/a?b=1")
    assert ctl.open_url("https://example.com").ok
    # by the label under an icon of the home screen
    stub.xml = dump(node("android.widget.FrameLayout", (0, 0, 1080, 2400),
                         node("android.widget.TextView", (0, 100, 270, 300), text="연락처", clickable=True),
                         pkg="com.handa.launcher"))
    r = ctl.execute(OpenApp(app="연락처"))
    assert r.ok and stub.rpc("click")[-1] == (135, 200)


def test_wait_seconds_and_until():
    ctl, stub, _ = make()
    start = time.monotonic()
    assert ctl.execute(Wait(seconds=0.1)).ok and time.monotonic() - start >= 0.1
    stub.dumps = [PAGE, PAGE, PAGE.replace("Row 3", "Done!")]
    r = ctl.execute(Wait(until={"text": "Done!"}, timeout=5))
    assert r.ok and r.info["effect"] == "appeared"
    r = ctl.execute(Wait(until={"text": "Never"}, timeout=0.3))
    assert not r.ok and "timed out" in r.error
    assert ctl.execute({"type": "done", "status": "success"}).ok


def test_window_frame_points_use_the_foreground_window():
    dialog = dump(node("android.widget.FrameLayout", (0, 0, 1080, 2400)),
                  node("android.widget.FrameLayout", (140, 900, 940, 1300),
                       node("android.widget.Button", (600, 1200, 900, 1290), text="OK", clickable=True)))
    ctl, stub, _ = make(Stub(xml=dialog))
    obs = ctl.observe()
    assert obs.window == "com.example (dialog)" and obs.window_bounds == Rect(left=140, top=900, right=940, bottom=1300)
    r = ctl.execute(Click(target=point(0.0, 0.0, frame=Frame.window)))
    assert r.ok and stub.rpc("click")[-1] == (140, 900)


# ---------------------------------------------------------------- faults (stub)


def test_one_failure_reconnects_and_retries():
    ctl, stub, opened = make()
    assert len(opened) == 1
    stub.faults["click"] = [ConnectionResetError("reset by peer")]
    r = ctl.execute(Click(target=point(0.5, 0.5)))
    assert r.ok and len(opened) == 2 and ctl.reconnects == 1
    assert stub.rpc("click") == [(540, 1200), (540, 1200)]
    stub.faults["dumpWindowHierarchy"] = [AdbError("closed")]
    assert ctl.observe().elements and len(opened) == 3


@pytest.mark.parametrize("exc", [
    AdbConnectionError("connect to adb server failed"), AdbTimeout("timeout"),
    u2e.HTTPError("HTTP request failed: 500"), u2e.UiAutomationNotConnectedError("gone"), BrokenPipeError(),
    TimeoutError("timed out"), ConnectionRefusedError(), u2e.RPCInvalidError("no result"),
])
def test_two_failures_lose_the_device(exc):
    ctl, stub, opened = make()
    stub.faults["dumpWindowHierarchy"] = [exc, exc]
    with pytest.raises(DeviceLost) as info:
        ctl.observe()
    assert str(info.value).startswith("device stub-1 is lost: dumpWindowHierarchy (JSON-RPC) failed twice")
    assert type(exc).__name__ in str(info.value) and len(opened) == 2
    stub.faults["pressKey"] = [exc, exc]
    with pytest.raises(DeviceLost):  # execute never hides a lost device
        ctl.execute(System(button="home"))


def test_an_error_the_device_answered_fails_the_action_only():
    ctl, stub, _ = make()
    stub.faults["pressKeyCode"] = [u2e.RPCUnknownError("Unknown RPC error: -32001 java.lang.Exception", [], "")] * 2
    r = ctl.execute(Key(keys=["enter"]))
    assert not r.ok and "pressKeyCode (JSON-RPC) failed" in r.error and "RPCUnknownError" in r.error


def test_a_failed_reconnect_loses_the_device_and_a_closed_controller_refuses():
    ctl, stub, opened = make()

    def broken():
        raise AdbError("device 'stub-1' not found")
    ctl._connector = broken
    stub.faults["screenshot"] = [OSError("broken")]
    with pytest.raises(DeviceLost) as info:
        ctl.observe()
    assert "reconnecting failed" in str(info.value) and "not found" in str(info.value)
    ctl.close()
    ctl.close()
    with pytest.raises(DeviceLost):
        ctl.observe()
    with pytest.raises(DeviceLost):
        ctl.execute(System(button="home"))


def test_construction_fails_clearly_and_connecting_is_bounded():
    def refused():
        raise AdbConnectionError("connect to adb server failed: [Errno 111] Connection refused")
    with pytest.raises(DeviceLost) as info:
        AndroidController("emu-9", adb_port=5999, connector=refused)
    assert str(info.value).startswith("device emu-9 cannot be reached through the adb server at 127.0.0.1:5999")
    gate = threading.Event()
    start = time.monotonic()
    with pytest.raises(DeviceLost) as info:
        AndroidController("emu-9", connector=lambda: gate.wait(30), connect_timeout=0.2)
    gate.set()
    assert time.monotonic() - start < 2 and "longer than 0.2s" in str(info.value)


def test_errors_never_echo_a_secret():
    ctl, stub, _ = make(Stub(xml=FOCUSED))
    stub.faults["send_keys"] = [u2e.RPCUnknownError("Unknown RPC error: -32001 x", [None, "hunter2"], "trace")] * 2
    r = ctl.execute(TypeText(text="hunter2", secret=True))
    assert not r.ok and "RPCUnknownError" in r.error and "hunter2" not in r.error
    stub.faults["send_keys"] = [BrokenPipeError("hunter2"), BrokenPipeError("lost hunter2")]
    with pytest.raises(DeviceLost) as info:
        ctl.execute(TypeText(text="hunter2", secret=True))
    assert "hunter2" not in str(info.value) and "••••••" in str(info.value)


def test_current_app_without_focus_is_empty_not_lost():
    ctl, stub, _ = make()
    assert ctl.current_app() == "com.example"
    stub.faults["app_current"] = [AdbError("Couldn't get focused app")]
    assert ctl.current_app() == ""


def test_the_adb_client_bounds_every_socket():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    accepted = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    try:
        client = BoundedAdbClient("127.0.0.1", listener.getsockname()[1], io_timeout=0.3)
        conn = client.make_connection(timeout=600)
        assert conn.conn.gettimeout() == pytest.approx(0.3)
        conn.conn.settimeout(None)
        assert conn.conn.gettimeout() == pytest.approx(0.3)
        conn.conn.settimeout(600)
        assert conn.conn.gettimeout() == pytest.approx(0.3)
        conn.conn.settimeout(0.1)
        assert conn.conn.gettimeout() == pytest.approx(0.1)
        conn.conn.settimeout(0.3)
        start = time.monotonic()
        with pytest.raises(AdbTimeout):  # a silent server: adbutils would have waited 600 s
            conn.read(4)
        assert time.monotonic() - start < 2
        conn.close()
    finally:
        listener.close()
        for peer, _ in accepted:
            peer.close()


# ---------------------------------------------------------------- end to end: the simulated phone

from controllers.android.simphone import phone as simphone  # noqa: E402


@pytest.fixture(scope="module")
def server():
    import os

    old = os.environ.get("ADBUTILS_ADB_PATH")
    os.environ["ADBUTILS_ADB_PATH"] = "/bin/false"  # never start a real adb server
    with simphone.SimPhoneServer() as srv:
        yield srv
    if old is None:
        os.environ.pop("ADBUTILS_ADB_PATH", None)
    else:
        os.environ["ADBUTILS_ADB_PATH"] = old


_serials = iter(range(5554, 5554 + 2000, 2))


@pytest.fixture()
def phone(server):
    from controllers.sim.device import SimDevice

    def make_phone(seed: int = 2, **options):
        serial = f"emulator-{next(_serials)}"
        options.setdefault("preload_jar", True)
        ph = server.add(serial, SimDevice(form="phone", seed=seed), **options)
        ctl = AndroidController(serial, adb_port=server.port, connect_timeout=15, io_timeout=3,
                                expose_keys=False)
        ctl.focus_delay = 0.02
        return ph, ctl
    return make_phone


def _names(obs) -> set[str]:
    return {e.name for e in obs.elements if e.name}


def test_sim_phone_observe(phone):
    ph, ctl = phone(seed=2, expose_keys=True)
    obs = ctl.observe()
    w, h = ph.size
    assert (obs.screen.width, obs.screen.height) == (w, h) and obs.screen.scale_factor == ph.density / 160
    assert obs.app == "com.handa.launcher" and obs.warnings == []
    assert obs.screenshot().size == (w, h)
    kinds = [e.attrs["window-type"] for e in obs.roots()]
    assert sorted(kinds) == ["app", "navigation_bar", "status_bar"]
    assert all("sim-key" not in e.attrs for e in obs.elements)  # stripped: expose_keys=False
    # the tree names what the sim shows
    sim_obs, _ = ph.observe()
    wanted = {e.name for e in sim_obs.elements if e.name and e.role not in (Role.window, Role.container)}
    assert wanted <= _names(obs) | {e.description for e in obs.elements}
    assert ctl.current_app() == "com.handa.launcher"


def test_sim_phone_drive_an_app(phone):
    ph, ctl = phone(seed=2)
    first = ctl.observe()
    shot = first.screenshot().tobytes()
    r = ctl.execute(OpenApp(app="settings"))
    assert r.ok, r.error
    assert ctl.wait_for_settle(3)
    obs = ctl.observe()
    assert obs.app == "com.handa.settings" and first.screenshot().tobytes() == shot  # taken when observed
    switch = next(e for e in obs.elements if e.role == Role.switch)
    before = switch.states.checked
    r = ctl.execute(Click(target=element(switch.id)))
    assert r.ok, r.error
    after = next(e for e in ctl.observe().elements if e.role == Role.switch and e.name == switch.name)
    assert after.states.checked is (not before)
    assert ctl.execute(System(button="back")).ok
    assert ctl.observe().app == "com.handa.launcher"
    assert ctl.execute(OpenApp(app="com.handa.contacts")).ok
    assert ctl.observe().app == "com.handa.contacts"
    assert ctl.execute(System(button="home")).ok and ctl.observe().app == "com.handa.launcher"


def test_sim_phone_type_korean(phone):
    ph, ctl = phone(seed=2)
    assert ctl.execute(OpenApp(app="com.handa.login")).ok
    obs = ctl.observe()
    field = next(e for e in obs.elements if e.role == Role.text_field and not e.states.password)
    r = ctl.execute(TypeText(text="안녕하세요 hello 123", target=element(field.id), clear=True))
    assert r.ok, r.error
    typed = next(e for e in ctl.observe().elements if e.resource_id == field.resource_id)
    assert typed.value == "안녕하세요 hello 123" and typed.states.focused
    assert ctl.execute(Key(keys=["backspace"])).ok
    assert next(e for e in ctl.observe().elements if e.resource_id == field.resource_id).value == "안녕하세요 hello 12"
    secret = next(e for e in obs.elements if e.role == Role.text_field and e.states.password)
    assert ctl.execute(TypeText(text="pw!", target=element(secret.id), secret=True)).ok
    masked = next(e for e in ctl.observe().elements if e.resource_id == secret.resource_id)
    assert masked.value == "•••" and "pw!" not in str(masked.attrs)


def test_sim_phone_scroll_moves_the_list_by_the_amount(phone):
    ph, ctl = phone(seed=2)
    assert ctl.execute(OpenApp(app="com.handa.contacts")).ok
    obs = ctl.observe()
    lst = next(e for e in obs.elements if e.role == Role.list)
    rows = {e.name: e.bounds.top for e in obs.elements if e.parent == lst.id and e.name}
    r = ctl.execute(Scroll(direction="down", amount=0.3, target=element(lst.id)))
    assert r.ok, r.error
    after = {e.name: e.bounds.top for e in ctl.observe().elements if e.name in rows}
    moved = [rows[n] - top for n, top in after.items()]
    assert moved and all(abs(m - r.info["pixels"]) <= 0.15 * r.info["pixels"] for m in moved), (moved, r.info)
    ctl.execute(Scroll(direction="up", amount=0.3, target=element(lst.id)))
    back = {e.name: e.bounds.top for e in ctl.observe().elements if e.name in rows}
    assert all(abs(back[n] - rows[n]) <= 0.15 * r.info["pixels"] for n in back)


def test_sim_phone_faults(phone):
    ph, ctl = phone(seed=3)
    assert ctl.observe().elements
    ph.crash_server()  # uiautomator2 relaunches its server, or we reconnect
    assert ctl.observe().elements
    ph.drop_connections()
    assert ctl.observe().elements
    ph.malformed_xml(True)
    obs = ctl.observe()
    assert obs.elements == [] and "screenshot-only" in obs.warnings[0] and obs.screenshot() is not None
    ph.malformed_xml(False)
    assert ctl.observe().elements
    ph.slow_dump(4)  # longer than io_timeout=3: bounded, then lost
    start = time.monotonic()
    with pytest.raises(DeviceLost):
        ctl.observe()
    assert time.monotonic() - start < 12
    ph.slow_dump(0)
    assert ctl.observe().elements
    ph.offline(True)
    with pytest.raises(DeviceLost) as info:
        ctl.execute(System(button="home"))
    assert ph.serial in str(info.value)
    ph.offline(False)


def test_sim_phone_unknown_serial_and_no_server(server):
    with pytest.raises(DeviceLost) as info:
        AndroidController("emulator-1", adb_port=server.port, connect_timeout=5, io_timeout=2)
    assert "device emulator-1 cannot be reached" in str(info.value)
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    free = probe.getsockname()[1]
    probe.close()
    start = time.monotonic()
    with pytest.raises(DeviceLost) as info:
        AndroidController("emulator-5554", adb_port=free, connect_timeout=5, io_timeout=2)
    assert "Connection refused" in str(info.value) and time.monotonic() - start < 5
