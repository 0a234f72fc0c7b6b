"""The desktop controller against real apps on a real X server; every effect is read back from the app's tree."""
import threading
import time

import pytest

from controllers.actions import (Click, Drag, Key, LongPress, MouseButton, OpenApp, PointTarget, Scroll, System,
                                 TypeText, Wait, element, point, select)
from controllers.base import DeviceLost
from controllers.desktop.controller import DesktopController, find_desktop_entry
from controllers.desktop.session import DesktopSession
from controllers.elements import Role
from controllers.selectors import find
from tests.controllers.desktop.conftest import wait_until


@pytest.fixture(scope="module")
def factory():
    """GTK 3's widget factory on a screen wide enough to show all of its first page."""
    session = DesktopSession.start_virtual(width=1600, height=1000)
    try:
        app = session.launch(["gtk3-widget-factory"])
        ctl = DesktopController(session)
        assert wait_until(lambda: len(ctl.observe().elements) > 80, timeout=20), "the widget factory's tree never came"
        yield session, ctl, app
        ctl.close()
    finally:
        session.close()


def _fresh(ctl):
    ctl.wait_for_settle(2.0)
    return ctl.observe()


def _entries(obs):
    """The enabled plain entries of page 1, top to bottom."""
    return sorted((e for e in obs.elements if e.role == Role.text_field and e.states.enabled and e.states.editable
                   and e.attrs.get("atspi-role") == "text"  # not the spin buttons
                   and e.parent is not None and obs.element(e.parent).role == Role.window),
                  key=lambda e: e.bounds.top)


def test_observation_has_the_tree_the_screenshot_and_the_active_window(factory):
    session, ctl, app = factory
    obs = ctl.observe()
    assert obs.platform.value == "desktop" and obs.device == f"x11{session.display}"
    assert obs.window == "gtk3-widget-factory" and obs.app.lower().startswith("gtk3-widget-factory")
    shot = obs.screenshot()
    assert shot.size == (1600, 1000)
    roles = {e.role for e in obs.elements}
    assert {Role.window, Role.checkbox, Role.radio, Role.text_field, Role.slider, Role.button} <= roles
    for e in obs.elements:
        assert e.bounds.intersect(obs.screen.rect) is not None, f"#{e.id} lies off screen"
        if e.parent is not None:
            assert e.id in obs.element(e.parent).children
    # the screenshot shows what the tree says: the window's area is not the empty root background
    w = obs.window_bounds
    crop = shot.crop((w.left, w.top, w.right, w.bottom)).convert("L")
    assert crop.getextrema()[1] - crop.getextrema()[0] > 100


def test_click_toggles_a_check_button(factory):
    _, ctl, _ = factory
    obs = _fresh(ctl)
    box = find(obs, select(role="checkbox", text="checkbutton", enabled=True, checked=False).selector)
    assert box is not None
    top = box.bounds.top
    result = ctl.execute(Click(target=element(box.id)))
    assert result.ok and result.points[0].x == box.bounds.center[0]
    after = wait_until(lambda: next((e for e in _fresh(ctl).elements if e.role == Role.checkbox
                                     and e.bounds.top == top), None) if True else None)
    assert wait_until(lambda: next(e for e in _fresh(ctl).elements
                                   if e.role == Role.checkbox and e.bounds.top == top).states.checked)
    assert after is not None


def test_typing_symbols_and_korean_into_an_entry_then_clearing_it_with_a_chord(factory):
    _, ctl, _ = factory
    obs = _fresh(ctl)
    entry = _entries(obs)[-1]
    top = entry.bounds.top
    text = "<tag> & 한국어 입력 ü"
    assert ctl.execute(TypeText(text=text, target=element(entry.id), clear=True)).ok

    def value():
        return next(e for e in _fresh(ctl).elements if e.role == Role.text_field and e.bounds.top == top).value

    assert wait_until(lambda: value() == text), value()
    ctl.observe()
    assert ctl.execute(Key(keys=["ctrl", "a"])).ok
    ctl.observe()
    assert ctl.execute(Key(keys=["backspace"])).ok
    assert wait_until(lambda: value() == ""), value()


def test_double_click_selects_a_word_that_typing_then_replaces(factory):
    _, ctl, _ = factory
    obs = _fresh(ctl)
    entry = _entries(obs)[-1]
    top = entry.bounds.top
    assert ctl.execute(TypeText(text="alpha beta", target=element(entry.id), clear=True)).ok

    def field():
        return next(e for e in _fresh(ctl).elements if e.role == Role.text_field and e.bounds.top == top)

    assert wait_until(lambda: field().value == "alpha beta")
    e = field()
    # "alpha" is the first word: a point a few pixels into the text
    px = PointTarget(x=(e.bounds.left + 14) / (ctl.screen.width - 1), y=e.bounds.center[1] / (ctl.screen.height - 1))
    assert ctl.execute(Click(target=px, count=2)).ok
    time.sleep(0.2)
    ctl.observe()
    assert ctl.execute(TypeText(text="omega")).ok
    assert wait_until(lambda: field().value == "omega beta"), field().value


def test_right_click_opens_the_context_menu_whose_item_then_acts(factory):
    _, ctl, _ = factory
    obs = _fresh(ctl)
    entry = _entries(obs)[-1]
    top = entry.bounds.top
    assert ctl.execute(TypeText(text="select me", target=element(entry.id), clear=True)).ok
    ctl.wait_for_settle()
    obs = ctl.observe()
    entry = next(e for e in obs.elements if e.role == Role.text_field and e.bounds.top == top)
    assert ctl.execute(Click(target=element(entry.id), button=MouseButton.right)).ok
    menu_item = wait_until(lambda: find(_fresh(ctl), select(role="menu_item", text="Delete").selector), timeout=5)
    assert menu_item is not None, [e.name for e in ctl.observe().elements if e.role == Role.menu_item]
    # "Delete" acts on the selection: select all first, through the same menu
    select_all = find(ctl.observe(), select(role="menu_item", text="Select All").selector)
    assert ctl.execute(Click(target=element(select_all.id))).ok
    assert wait_until(lambda: find(_fresh(ctl), select(role="menu_item").selector) is None, timeout=5)
    obs = ctl.observe()
    entry = next(e for e in obs.elements if e.role == Role.text_field and e.bounds.top == top)
    assert ctl.execute(Click(target=element(entry.id), button=MouseButton.right)).ok
    delete = wait_until(lambda: find(_fresh(ctl), select(role="menu_item", text="Delete").selector), timeout=5)
    assert ctl.execute(Click(target=element(delete.id))).ok
    assert wait_until(lambda: next(e for e in _fresh(ctl).elements
                                   if e.role == Role.text_field and e.bounds.top == top).value == "")


def _slider(obs):
    return next(e for e in obs.elements if e.role == Role.slider and e.states.enabled
                and e.bounds.width > 3 * e.bounds.height)


def test_drag_moves_a_slider_and_the_wheel_scrolls_it(factory):
    _, ctl, _ = factory
    obs = _fresh(ctl)
    s = _slider(obs)
    top = s.bounds.top
    assert float(s.value) == pytest.approx(50)
    # the knob sits at the middle of the trough; drag it to the left end
    y = s.bounds.center[1] / (ctl.screen.height - 1)
    start = point(s.bounds.center[0] / (ctl.screen.width - 1), y)
    end = point((s.bounds.left + 2) / (ctl.screen.width - 1), y)
    result = ctl.execute(Drag(start=start, end=end, duration=0.4))
    assert result.ok and len(result.points) == 2

    def value():
        return float(next(e for e in _fresh(ctl).elements if e.role == Role.slider and e.bounds.top == top).value)

    assert wait_until(lambda: value() < 10), value()
    low = value()
    ctl.observe()
    s = next(e for e in ctl.observe().elements if e.role == Role.slider and e.bounds.top == top)
    assert ctl.execute(Scroll(direction="up", amount=0.2, target=element(s.id))).ok
    assert wait_until(lambda: value() > low), value()


def test_long_press_holds_the_button_down(factory):
    _, ctl, _ = factory
    obs = _fresh(ctl)
    box = find(obs, select(role="checkbox", text="checkbutton", enabled=True).selector)
    before = box.states.checked
    top = box.bounds.top
    t = time.perf_counter()
    assert ctl.execute(LongPress(target=element(box.id), duration=0.5)).ok
    assert time.perf_counter() - t >= 0.5
    # a GTK check button toggles on release, however long the press
    assert wait_until(lambda: next(e for e in _fresh(ctl).elements if e.role == Role.checkbox
                                   and e.bounds.top == top).states.checked != before)


def test_off_screen_points_and_stale_elements_are_refused_not_clamped(factory):
    _, ctl, _ = factory
    obs = ctl.observe()
    result = ctl.execute(Click(target=element(len(obs.elements) + 50)))
    assert not result.ok and "not in the current observation" in result.error
    ctl.observe()
    result = ctl.execute({"type": "click", "target": {"kind": "point", "x": 1.5, "y": 0.5}})
    assert not result.ok and "invalid action" in result.error
    ctl.observe()
    result = ctl.execute({"type": "launch_rockets"})
    assert not result.ok


def test_wait_until_and_open_app_focus_a_window_by_name(factory):
    session, ctl, _ = factory
    xterm = session.launch(["xterm", "-T", "second app"])
    try:
        assert wait_until(lambda: ctl.active_window() and ctl.active_window().title == "second app")
        ctl.observe()
        result = ctl.execute(OpenApp(app="gtk3-widget-factory"))
        assert result.ok and "focused" in result.info["effect"]
        assert wait_until(lambda: ctl.observe().window == "gtk3-widget-factory")
        ctl.observe()
        result = ctl.execute(Wait(until=select(role="checkbox", text="checkbutton").selector, timeout=5))
        assert result.ok
        ctl.observe()
        result = ctl.execute(OpenApp(app="no such app anywhere"))
        assert not result.ok and "no open window or installed app" in result.error
    finally:
        xterm.process.terminate()


def test_desktop_entries_resolve_to_argv_without_a_shell(tmp_path):
    (tmp_path / "demo.desktop").write_text("[Desktop Entry]\nType=Application\nName=Demo Editor\n"
                                           "Exec=demo-edit --new-window %U\n", encoding="utf-8")
    (tmp_path / "hidden.desktop").write_text("[Desktop Entry]\nType=Application\nName=Hidden\nNoDisplay=true\n"
                                             "Exec=hidden\n", encoding="utf-8")
    assert find_desktop_entry("demo editor", dirs=(tmp_path,)) == ["demo-edit", "--new-window"]
    assert find_desktop_entry("demo-edit", dirs=(tmp_path,)) == ["demo-edit", "--new-window"]
    assert find_desktop_entry("hidden", dirs=(tmp_path,)) is None
    assert find_desktop_entry("; rm -rf /", dirs=(tmp_path,)) is None
    # localized names, terminal apps, and the user's entry overriding (or hiding) the system's
    (tmp_path / "top.desktop").write_text("[Desktop Entry]\nType=Application\nName=Top\nName[ko]=작업 관리자\n"
                                          "Exec=top\nTerminal=true\n", encoding="utf-8")
    assert find_desktop_entry("작업 관리자", dirs=(tmp_path,)) == ["xterm", "-e", "top"]
    user = tmp_path / "user"
    user.mkdir()
    (user / "demo.desktop").write_text("[Desktop Entry]\nType=Application\nName=Demo Editor\nHidden=true\n"
                                       "Exec=demo-edit\n", encoding="utf-8")
    assert find_desktop_entry("demo editor", dirs=(user, tmp_path)) is None


def test_hidpi_gtk_reports_logical_extents_that_become_physical_pixels():
    """GDK_SCALE=2: AT-SPI speaks logical units, the X server physical pixels; observations use the latter."""
    with DesktopSession.start_virtual(width=2400, height=1600, scale=2.0) as session:
        app = session.launch(["gtk3-demo"])
        with DesktopController(session) as ctl:
            assert ctl.screen.scale_factor == 2.0
            assert wait_until(lambda: any(e.role == Role.button for e in ctl.observe().elements), timeout=20)
            obs = ctl.observe()
            frame = next(e for e in obs.elements if e.role == Role.window and e.attrs.get("pid") == str(app.pid))
            win = next(w for w in ctl.windows() if w.pid == app.pid)
            assert frame.attrs["extents-scale"] == "2"
            assert abs(frame.bounds.width - win.bounds.width) <= 4 and abs(frame.bounds.height - win.bounds.height) <= 4
            # a click on a physical-pixel element centre lands on it: the window's own close button closes it
            close = find(obs, select(role="button", text="Close").selector)
            assert close is not None and win.bounds.contains(*close.bounds.center)
            assert ctl.execute(Click(target=element(close.id))).ok
            assert wait_until(lambda: app.process.poll() is not None, timeout=10)


def test_two_monitors_share_one_coordinate_space_and_window_points_land_on_the_second(tmp_path):
    from controllers.actions import Frame
    from controllers.desktop.windows import WindowManager
    from tests.controllers.desktop.conftest import xterm_capture

    with DesktopSession.start_virtual(width=2560, height=800, monitors=2) as session:
        with WindowManager(session.display) as wm:
            left, right = wm.monitors()
            assert (left.left, left.right, right.left, right.right) == (0, 1280, 1280, 2560)
            out = tmp_path / "typed.txt"
            app = xterm_capture(session, out, title="on the right")
            wm.d.create_resource_object("window", app.window).configure(x=1600, y=200)
            wm.d.sync()
            assert wm.focus(app.window)
        with DesktopController(session, tree=False) as ctl:
            assert wait_until(lambda: ctl.observe().window_bounds.left >= 1280)
            obs = ctl.observe()
            result = ctl.execute(Click(target=point(0.5, 0.5, frame=Frame.window)))
            assert result.ok and right.contains(result.points[0].x, result.points[0].y)
            assert obs.window_bounds.contains(result.points[0].x, result.points[0].y)
            ctl.observe()
            assert ctl.execute(TypeText(text="오른쪽 <2>", submit=True)).ok
            assert wait_until(lambda: out.exists() and out.read_text(encoding="utf-8") == "오른쪽 <2>\n")


def test_elements_under_another_apps_window_are_left_out(factory):
    session, ctl, _ = factory
    obs = _fresh(ctl)
    before = len(obs.elements)
    # an xterm placed over the left half of the widget factory
    cover = session.launch(["xterm", "-T", "cover", "-geometry", "60x20+0+120"])
    try:
        assert wait_until(lambda: _fresh(ctl).window == "cover")
        obs = ctl.observe()
        win = next(w for w in ctl.windows() if w.title == "cover")
        assert all(not win.bounds.contains(*e.bounds.center) for e in obs.elements if e.role != Role.window)
        assert len(obs.elements) < before
        for e in obs.elements:  # the tree is still consistent after the cut
            assert e.parent is None or e.id in obs.element(e.parent).children
    finally:
        cover.process.terminate()
        cover.process.wait(5)
    assert wait_until(lambda: len(_fresh(ctl).elements) == before)


def test_with_the_failsafe_on_a_corner_press_is_refused_before_the_mouse_moves():
    with DesktopSession.start_virtual(accessibility=False) as session:
        with DesktopController(session, failsafe=True) as ctl:
            ctl.observe()
            assert ctl.execute(Click(target=point(0.5, 0.5))).ok
            where = ctl.input.position()
            ctl.observe()
            result = ctl.execute(Click(target=point(1.0, 0.0)))
            assert not result.ok and "corner" in result.error
            assert ctl.input.position() == where
            ctl.observe()
            assert ctl.execute(Click(target=point(0.4, 0.4))).ok  # the mouse is not locked afterwards
