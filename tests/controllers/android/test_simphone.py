"""The simulated Android phone, driven by the real, unmodified uiautomator2 and adbutils clients."""
import hashlib
import http.client
import socket
import threading
from pathlib import Path

import adbutils
import pytest
import uiautomator2 as u2
from lxml import etree
from PIL import Image

from controllers.android.simphone.phone import JAR_PATH, SimPhoneServer, serve
from controllers.android.simphone.uixml import HierarchyDumper
from controllers.sim.device import SimDevice

U2_JAR = Path(u2.__file__).parent / "assets" / "u2.jar"
U2_JAR_MD5 = "d4f2cb5299dfd894a40fdde067b56bc9"  # uiautomator2 3.7.1's jar (pinned)
ATTR_ORDER = ["index", "text", "resource-id", "class", "package", "content-desc", "checkable", "checked", "clickable",
              "enabled", "focusable", "focused", "scrollable", "long-clickable", "password", "selected",
              "visible-to-user", "bounds", "drawing-order", "hint", "display-id"]


@pytest.fixture(autouse=True)
def no_real_adb(monkeypatch):
    # never let adbutils start a real adb server, whatever goes wrong
    monkeypatch.setenv("ADBUTILS_ADB_PATH", "/bin/false")
    monkeypatch.delenv("ANDROID_SERIAL", raising=False)


@pytest.fixture
def server():
    with SimPhoneServer() as s:
        yield s


def client(server) -> adbutils.AdbClient:
    return adbutils.AdbClient(host="127.0.0.1", port=server.port)


def connect(server, serial="emulator-5554"):
    return u2.connect(client(server).device(serial))


def add(server, serial="emulator-5554", seed=1, scale=2.0, **kw):
    return server.add(serial, SimDevice(form="phone", seed=seed, scale=scale), **kw)


def tree(d):
    return etree.fromstring(d.dump_hierarchy().encode("utf-8"))


def center(node):
    l, t, r, b = (int(v) for v in node.get("bounds").replace("][", ",").strip("[]").split(","))
    return (l + r) // 2, (t + b) // 2


def dismiss_dialogs(d):
    """Close the sim's distractor dialogs (a second window root of the app in front)."""
    for _ in range(3):
        pkg = d.app_current()["package"]
        if sum(w.get("package") == pkg for w in tree(d)) < 2:
            return
        d.press("back")


def open_app(d, package):
    d.app_start(package)
    dismiss_dialogs(d)
    assert d.app_current()["package"] == package


# ---------------------------------------------------------------- connecting


def test_first_connect_pushes_the_jar_and_launches_the_server_a_second_connect_reuses_both(server):
    assert hashlib.md5(U2_JAR.read_bytes()).hexdigest() == U2_JAR_MD5
    phone = add(server)
    assert phone.fs.read(JAR_PATH) is None and not phone.server_alive()
    d = connect(server)
    assert hashlib.md5(phone.fs.read(JAR_PATH)).hexdigest() == U2_JAR_MD5
    assert phone.stats["push"] == 1 and phone.stats["launch"] == 1 and phone.server_alive(9008)
    assert U2_JAR_MD5 in d.shell(["toybox", "md5sum", JAR_PATH]).output
    d2 = connect(server)
    assert d2.info["displayWidth"] == phone.size[0]
    assert phone.stats["push"] == 1 and phone.stats["launch"] == 1  # md5 matched, the server answered /ping
    assert d.jsonrpc.ping() == "pong"


def test_info_window_size_shell_and_device_list(server):
    phone = add(server, scale=2.625)
    d = connect(server)
    w, h = phone.size
    assert (w, h) == (round(phone.device.size[0] * 2.625), round(phone.device.size[1] * 2.625))
    info = d.info
    assert (info["displayWidth"], info["displayHeight"], info["displayRotation"]) == (w, h, 0)
    assert info["currentPackageName"] == "com.handa.launcher" and info["sdkInt"] == 35
    assert d.window_size() == (w, h)
    assert d.shell("wm size").output == f"Physical size: {w}x{h}\n"
    assert d.shell("wm density").output == "Physical density: 420\n"
    missing = d.shell("no_such_tool --x")
    assert missing.exit_code == 127 and "no_such_tool: inaccessible or not found" in missing.output
    assert d.shell("false || echo $?; echo 'a;b' \"c d\" && false").output == "1\na;b c d\n"
    assert d.shell("false").exit_code == 1 and d.shell(["echo", "서울 x"]).output == "서울 x\n"
    assert d.device_info["model"] == "Handa Sim" and d.device_info["sdk"] == 35
    assert d.adb_device.shell2("false", v2=True).returncode == 1  # the shell v2 protocol
    (listed,) = client(server).list(extended=True)
    assert listed.serial == "emulator-5554" and listed.state == "device" and listed.tags["model"] == "Handa_Sim"


def test_adb_wire_details_and_files(server):
    phone = add(server)
    raw = socket.create_connection(("127.0.0.1", server.port))
    raw.sendall(b"000chost:version")
    assert raw.recv(12) == b"OKAY00040029"
    raw.close()
    raw = socket.create_connection(("127.0.0.1", server.port))
    raw.sendall(b"%04xhost:tport:serial:nope" % len("host:tport:serial:nope"))
    reply = b""
    while chunk := raw.recv(100):
        reply += chunk
    raw.close()
    assert reply == b"FAIL" + b"%04x" % len("device 'nope' not found") + b"device 'nope' not found"
    dev = client(server).device("emulator-5554")
    with pytest.raises(adbutils.AdbError, match="closed"):
        dev.create_connection(adbutils.Network.TCP, 9008)  # nothing launched the server yet
    dev.sync.push("안녕 <&>".encode("utf-8"), "/sdcard/Download/note.txt")  # missing folders are made
    assert dev.sync.read_text("/sdcard/Download/note.txt") == "안녕 <&>"
    assert [f.path for f in dev.sync.list("/sdcard/Download")] == ["note.txt"]
    assert dev.shell("echo hi > /data/local/tmp/f; cat /data/local/tmp/f /nope 2>/dev/null; echo $?") == "hi\n1"
    assert dev.shell("ls /data/local/tmp | grep f") == "f"
    assert dev.screenshot().size == phone.size


# ---------------------------------------------------------------- the screen


def test_dump_hierarchy_is_uiautomator_xml_with_one_root_per_window(server):
    phone = add(server)
    d = connect(server)
    xml = d.dump_hierarchy()
    assert xml.startswith("<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\r\n<hierarchy rotation=\"0\">\r\n")
    assert "\r\n  <node " in xml and '<hierarchy rotation="0" />' not in xml
    root = etree.fromstring(xml.encode("utf-8"))
    assert root.tag == "hierarchy" and root.get("rotation") == "0"
    windows = list(root)
    assert [w.get("package") for w in windows] == ["com.handa.launcher", "com.handa.system", "com.handa.system"]
    w, h = phone.size
    assert [w_.get("bounds") for w_ in windows[1:]] == [f"[0,0][{w},48]", f"[0,{h - 96}][{w},{h}]"]
    for node in root.iter("node"):
        keys = [k for k in node.keys() if k != "NAF"]
        assert keys == ATTR_ORDER, keys
    assert "sim-key" not in xml  # only with expose_keys
    buttons = root.findall(".//node[@class='android.widget.Button']")
    assert len([b for b in buttons if b.get("package") == "com.handa.launcher"]) == 10
    # a popup is a window root of its own, sized to itself
    open_app(d, "com.handa.files")
    row = tree(d).find(".//node[@long-clickable='true']")
    d.long_click(*center(row))
    windows = list(tree(d))
    assert [w.get("package") for w in windows].count("com.handa.files") == 2
    menu = windows[1]
    assert menu.get("class") == "android.widget.ListView" and menu.get("bounds") != windows[0].get("bounds")
    assert len(menu.findall("node")) >= 2
    d.press("back")
    assert [w.get("package") for w in tree(d)].count("com.handa.files") == 1


def test_screenshot_is_a_pil_image_of_the_screen(server):
    phone = add(server, scale=1.5)
    d = connect(server)
    img = d.screenshot()
    assert isinstance(img, Image.Image) and img.size == phone.size
    lo, hi = img.convert("L").getextrema()
    assert hi - lo > 50  # drawn, not blank
    assert d.adb_device.screenshot().size == phone.size  # screencap -p over the shell


def test_click_on_an_icon_launches_the_app_and_on_a_switch_toggles_it(server):
    phone = add(server)
    d = connect(server)
    d.press("home")
    settings = phone.device.apps["settings"]
    icon = tree(d).find(f".//node[@text='{settings.title}'][@class='android.widget.Button']")
    d.click(*center(icon))
    assert d.app_current() == {"package": "com.handa.settings", "activity": "com.handa.settings.MainActivity",
                               "pid": 0}
    dismiss_dialogs(d)
    switch = tree(d).find(".//node[@class='android.widget.Switch'][@enabled='true']")
    attr = switch.get("resource-id").split(":id/")[1]
    before = getattr(settings, attr)
    assert switch.get("checked") == str(before).lower()
    d.click(*center(switch))
    assert getattr(settings, attr) is (not before)
    again = tree(d).find(f".//node[@resource-id='{switch.get('resource-id')}']")
    assert again.get("checked") == str(not before).lower()


def test_swipe_drag_long_click_and_system_keys(server):
    phone = add(server)
    d = connect(server)
    open_app(d, "com.handa.contacts")
    rows = lambda: [n.get("text") for n in tree(d).iter("node") if n.get("class") == "android.widget.LinearLayout"]
    first = rows()
    w, h = d.window_size()
    d.swipe(w // 2, int(h * 0.75), w // 2, int(h * 0.3), duration=0.1)
    assert rows() != first and phone.device.apps["contacts"].scroll.get("main", 0) > 0
    # long click: a context menu window appears; back closes it
    row = tree(d).find(".//node[@long-clickable='true']")
    d.long_click(*center(row))
    assert [x.get("package") for x in tree(d)].count("com.handa.contacts") == 2
    d.press("back")
    assert [x.get("package") for x in tree(d)].count("com.handa.contacts") == 1
    # drag a slider
    open_app(d, "com.handa.settings")
    d(resourceId="com.handa.settings:id/display").click()
    bar = tree(d).find(".//node[@class='android.widget.SeekBar']")
    l, t, r, b = (int(v) for v in bar.get("bounds").replace("][", ",").strip("[]").split(","))
    d.drag(l + 2, (t + b) // 2, l + int((r - l) * 0.9), (t + b) // 2, duration=0.1)
    value = phone.device.apps["settings"].brightness
    assert 85 <= value <= 95
    assert tree(d).find(".//node[@class='android.widget.SeekBar']").get("text") == f"{float(value)}"
    # raw touch events: down/up in place is a tap (back to the main page through the header's back button)
    back = tree(d).find(".//node[@resource-id='com.handa.settings:id/back']")
    d.touch.down(*center(back)).up(*center(back))
    assert phone.device.apps["settings"].page == "main"
    d.press("recent")
    assert d.app_current()["activity"] == "com.handa.launcher.RecentsActivity"
    d.press("back")
    d.press("home")
    assert d.app_current()["package"] == "com.handa.launcher" and phone.device.foreground is None
    volume = phone.device.apps["settings"].volume
    d.press("volume_up")
    assert phone.device.apps["settings"].volume == min(100, volume + 7)


def test_send_keys_types_korean_and_symbols_exactly(server):
    phone = add(server)
    d = connect(server)
    open_app(d, "com.handa.login")
    field = tree(d).find(".//node[@class='android.widget.EditText'][@password='false']")
    d.click(*center(field))
    text = "서울역 <3 café"
    d.send_keys(text, clear=True)
    focused = tree(d).find(".//node[@focused='true']")
    assert focused.get("resource-id") == field.get("resource-id") and focused.get("text") == text
    d.send_keys("!")
    assert d(focused=True).get_text() == text + "!"
    assert phone.stats["rpc_pasteClipboard"] == 2 and phone.stats["rpc_clearInputText"] == 1
    assert d.clipboard == "!"
    password = tree(d).find(".//node[@password='true']")
    d.click(*center(password))
    d.send_keys("hunter2")
    assert tree(d).find(".//node[@password='true']").get("text") == "•" * 7  # masked, as Android does
    d.clear_text()
    assert tree(d).find(".//node[@password='true']").get("text") == ""


def test_app_start_current_stop_and_open_url(server):
    phone = add(server)
    d = connect(server)
    d.app_start("com.handa.settings")
    assert d.app_current()["package"] == "com.handa.settings"
    d.app_stop("com.handa.settings")
    assert d.app_current()["package"] == "com.handa.launcher"
    d.app_start("com.handa.notes", ".MainActivity")
    assert phone.device.foreground == "notes"
    bad = d.shell("am start -n com.handa.notes/.Nope")
    assert bad.exit_code == 1 and "does not exist" in bad.output
    assert d.app_wait("com.handa.notes", timeout=2) == phone.pid_of("com.handa.notes")
    assert set(d.app_list("-3")) == set(phone.packages) and "com.handa.notes" in d.app_list_running()
    d.open_url("https://example.com/form")
    assert d.app_current()["package"] == "com.handa.webform"
    assert d.shell("am start -a android.intent.action.VIEW -d tel:123").exit_code == 1
    assert d.shell("monkey -p com.handa.nope -c android.intent.category.LAUNCHER 1").exit_code == 252


def test_selectors_and_xpath(server):
    phone = add(server)
    d = connect(server)
    open_app(d, "com.handa.settings")
    switches = tree(d).findall(".//node[@class='android.widget.Switch'][@enabled='true']")
    assert d(className="android.widget.Switch").count == len(tree(d).findall(".//node[@class='android.widget.Switch']"))
    label, rid = switches[0].get("text"), switches[0].get("resource-id")
    attr = rid.split(":id/")[1]
    before = getattr(phone.device.apps["settings"], attr)
    d(text=label, className="android.widget.Switch").click()
    assert getattr(phone.device.apps["settings"], attr) is (not before)
    assert d(resourceId=rid).info["checked"] is (not before)
    assert d(resourceId=rid).exists and not d(text="no such words anywhere").exists
    with pytest.raises(u2.exceptions.UiObjectNotFoundError):
        d(text="no such words anywhere").info
    d.xpath(f'//android.widget.Switch[@text="{label}"]').click()
    assert getattr(phone.device.apps["settings"], attr) is before
    all_switches = tree(d).findall(".//node[@class='android.widget.Switch']")
    assert len(d.xpath("//android.widget.Switch").all()) == len(all_switches)
    assert d.xpath(phone.device.apps["settings"].title).exists  # bare text: text, content-desc or resource-id


def test_two_phones_at_once(server):
    one, two = add(server, "emulator-5554", seed=1), add(server, "emulator-5556", seed=2, scale=1.0)
    assert sorted(x.serial for x in client(server).device_list()) == ["emulator-5554", "emulator-5556"]
    d1, d2 = connect(server, "emulator-5554"), connect(server, "emulator-5556")
    errors = []

    def work(d, package, n):
        try:
            for _ in range(n):
                d.app_start(package)
                etree.fromstring(d.dump_hierarchy().encode("utf-8"))
                d.press("home")
            d.app_start(package)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(d1, "com.handa.settings", 6)),
               threading.Thread(target=work, args=(d2, "com.handa.calculator", 6))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert one.device.foreground == "settings" and two.device.foreground == "calculator"
    assert d1.window_size() == one.size and d2.window_size() == two.size and one.size != two.size


# ---------------------------------------------------------------- faults


def test_dropped_connections_raise_in_the_client_and_the_next_call_recovers(server):
    phone = add(server)
    d = connect(server)
    phone.slow_dump(1.0)
    threading.Timer(0.3, phone.drop_connections).start()
    # the dump was in flight: uiautomator2 neither catches nor retries a connection that dies mid-request
    with pytest.raises(ConnectionError) as caught:
        d.dump_hierarchy()
    assert isinstance(caught.value, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError))
    assert not phone.server_alive()  # the launch stream died with the rest
    phone.slow_dump(0)
    assert d.info["displayWidth"] == phone.size[0]  # tcp:9008 FAIL -> uiautomator2 relaunches the server
    assert phone.stats["launch"] == 2


def test_a_crashed_server_is_relaunched_by_the_client(server):
    phone = add(server)
    d = connect(server)
    phone.crash_server()
    assert not phone.server_alive()
    with pytest.raises(adbutils.AdbError, match="closed"):
        d.adb_device.create_connection(adbutils.Network.TCP, 9008)
    assert d.app_current()["package"] == "com.handa.launcher"  # plain adb keeps working
    d.press("home")  # the JSON-RPC call fails, uiautomator2 relaunches the server and retries once
    assert phone.stats["launch"] == 2 and phone.server_alive(9008)
    assert d.info["currentPackageName"] == "com.handa.launcher"


def test_malformed_xml_reaches_the_caller_unparsable(server):
    phone = add(server)
    d = connect(server)
    phone.malformed_xml(True)
    broken = d.dump_hierarchy()
    assert broken.startswith("<?xml") and "<hierarchy" in broken
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(broken.encode("utf-8"))
    phone.malformed_xml(False)
    assert len(tree(d)) == 3


def test_an_offline_phone_leaves_the_device_list_and_fails_every_call(server):
    phone = add(server)
    other = add(server, "emulator-5556", seed=2)
    d = connect(server)
    phone.offline(True)
    assert [x.serial for x in client(server).device_list()] == ["emulator-5556"]
    with pytest.raises(adbutils.AdbError, match="not found"):
        d.info
    with pytest.raises(u2.exceptions.AdbShellError):
        d.shell("echo hi")
    assert other.state == "device" and connect(server, "emulator-5556").info["displayWidth"] == other.size[0]
    phone.offline(False)
    assert d.info["displayWidth"] == phone.size[0]


# ---------------------------------------------------------------- the XML writer alone


def test_hierarchy_writer_options():
    dev = SimDevice(form="phone", seed=1, scale=2.0)
    dev.launch("login")
    obs, nodes = dev.observe()
    xml = HierarchyDumper(expose_keys=True).dump(obs, nodes)
    root = etree.fromstring(xml.encode("utf-8"))
    keys = {n.get("sim-key") for n in root.iter("node")}
    assert None not in keys and "login:username" in keys and "sys:navbar" in keys
    old = etree.fromstring(HierarchyDumper(api_level=17).dump(obs, nodes).encode("utf-8"))
    assert all("resource-id" not in n.keys() and "hint" not in n.keys() for n in old.iter("node"))
    mid = etree.fromstring(HierarchyDumper(api_level=26).dump(obs, nodes).encode("utf-8"))
    assert all("hint" in n.keys() and "display-id" not in n.keys() for n in mid.iter("node"))
    shallow = etree.fromstring(HierarchyDumper().dump(obs, nodes, max_depth=1).encode("utf-8"))
    assert max(len(list(n.iterancestors())) for n in shallow.iter("node")) == 2
    # seeds that strip resource ids, as minified apps do, give empty ids
    bare = SimDevice(form="phone", seed=3)
    assert all(n.get("resource-id") == "" for n in
               etree.fromstring(HierarchyDumper().dump(*bare.observe()).encode("utf-8")).iter("node"))
    # text is escaped the way KXmlSerializer does it
    dev.apps["login"].focus = "login:username"
    dev.invalidate()
    dev.type_text('a<b & "c"\n')
    xml = HierarchyDumper().dump(*dev.observe())
    assert 'text="a&lt;b &amp; &quot;c&quot;&#10;"' in xml


def test_serve_starts_several_phones_on_one_port():
    srv = serve(0, devices=2, seed=4)
    try:
        assert [p.serial for p in srv.phones] == ["emulator-5554", "emulator-5556"]
        assert [p.device.seed for p in srv.phones] == [4, 5]
        assert connect(srv, "emulator-5556").info["productName"] == "handa_sim"
    finally:
        srv.close()
    with pytest.raises(adbutils.AdbError):
        client(srv).device_list()
