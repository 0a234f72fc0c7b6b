import pytest

from controllers.actions import (Click, Drag, Key, OpenApp, PointTarget, Scroll, System, TypeText, Wait, element,
                                 select)
from controllers.base import Controller, DeviceLost
from controllers.elements import Role
from controllers.sim import SimController, SimDevice, Split


def key_of(obs, key):
    return next(e for e in obs.elements if e.attrs.get("sim-key") == key)


def has_key(obs, key):
    return any(e.attrs.get("sim-key") == key for e in obs.elements)


def open_settings(ctl):
    assert ctl.execute(OpenApp(app="settings")).ok
    return ctl.observe()


def test_controller_satisfies_the_protocol_and_is_a_context_manager():
    with SimController(seed=1) as ctl:
        assert isinstance(ctl, Controller)
        assert ctl.screen.width == ctl.device.size[0] and ctl.screen.height == ctl.device.size[1]
    with pytest.raises(DeviceLost):
        ctl.observe()


def test_same_seed_same_world_and_pixels():
    a, b = SimController(seed=5), SimController(seed=5)
    oa, ob = a.observe(), b.observe()
    assert oa.fingerprint() == ob.fingerprint()
    assert oa.screenshot().tobytes() == ob.screenshot().tobytes()


def test_seeds_vary_looks_words_sizes_and_order():
    themes, wifi_labels, orders, sizes, fonts = set(), set(), set(), set(), set()
    for seed in range(30):
        dev = SimDevice(seed=seed)
        themes.add(dev.style.theme.name)
        wifi_labels.add(dev.style.label("wifi"))
        orders.add(tuple(dev.icon_order))
        sizes.add(dev.size)
        fonts.add(dev.style.typeface)
    assert len(themes) >= 5 and len(wifi_labels) >= 3 and len(orders) >= 20 and len(sizes) >= 3
    assert len(fonts) >= 3


def test_heldout_split_uses_looks_train_never_sees():
    train = {SimDevice(seed=s, split=Split.train).style.theme.name for s in range(40)}
    held = {SimDevice(seed=s, split=Split.heldout).style.theme.name for s in range(40)}
    assert train and held and not (train & held)
    train_labels = {SimDevice(seed=s, split=Split.train).style.label("sign_in") for s in range(60)}
    held_labels = {SimDevice(seed=s, split=Split.heldout).style.label("sign_in") for s in range(60)}
    assert not (train_labels & held_labels)


def test_phone_has_status_and_navigation_bars():
    obs = SimController(seed=2).observe()
    for key in ("sys:statusbar", "sys:back", "sys:home", "sys:recents"):
        assert has_key(obs, key)
    assert obs.screen.height > obs.screen.width


def test_switch_click_changes_app_state():
    ctl = SimController(seed=3)
    obs = open_settings(ctl)
    before = ctl.device.app("settings").wifi
    wifi = key_of(obs, "settings:wifi")
    result = ctl.execute(Click(target=element(wifi.id)))
    assert result.ok and result.points and wifi.bounds.contains(result.points[0].x, result.points[0].y)
    assert ctl.device.app("settings").wifi is (not before)
    assert key_of(ctl.observe(), "settings:wifi").states.checked is (not before)


def test_korean_text_is_typed_and_kept():
    ctl = SimController(seed=4)
    dev = ctl.device
    dev.launch("settings")
    dev.app("settings").go("about")
    obs = ctl.observe()
    assert ctl.execute(Click(target=element(key_of(obs, "settings:device_name").id))).ok
    obs = ctl.observe()
    field = key_of(obs, "settings:rename_field")
    assert ctl.execute(TypeText(text="민준의 폰 ☕", target=element(field.id), clear=True)).ok
    assert key_of(ctl.observe(), "settings:rename_field").value == "민준의 폰 ☕"
    obs = ctl.observe()
    assert ctl.execute(Click(target=element(key_of(obs, "settings:rename_ok").id))).ok
    assert dev.app("settings").device_name == "민준의 폰 ☕"


def test_typing_needs_an_editable_target_or_focus():
    ctl = SimController(seed=4)
    obs = open_settings(ctl)
    title = key_of(obs, "settings:title")
    r = ctl.execute(TypeText(text="x", target=element(title.id)))
    assert not r.ok and "not editable" in r.error
    r = ctl.execute(TypeText(text="x"))
    assert not r.ok and "focus" in r.error


def test_scrolling_reveals_rows_below_the_fold():
    ctl = SimController(seed=11, form="phone")
    ctl.device.launch("contacts")  # a list longer than the screen
    obs = ctl.observe()
    before = {e.attrs["sim-key"] for e in obs.elements}
    body = next(e for e in obs.elements if e.states.scrollable)
    r = ctl.execute(Scroll(direction="down", amount=1.0, target=element(body.id)))
    assert r.ok and r.info["effect"].startswith("scrolled +")
    after = {e.attrs["sim-key"] for e in ctl.observe().elements}
    assert after - before, "new rows came into view"
    for _ in range(30):
        ctl.observe()
        r = ctl.execute(Scroll(direction="down", amount=1.0))
    assert "already at the end" in r.info["effect"]


def test_slider_takes_clicks_drags_and_arrow_keys():
    ctl = SimController(seed=6)
    ctl.device.launch("settings")
    ctl.device.app("settings").go("display")
    obs = ctl.observe()
    slider = key_of(obs, "settings:brightness")
    x = (slider.bounds.left + 0.25 * (slider.bounds.width - 1)) / (obs.screen.width - 1)
    y = slider.bounds.center[1] / (obs.screen.height - 1)
    assert ctl.execute(Click(target=PointTarget(x=x, y=y))).ok
    assert ctl.device.app("settings").brightness == 25
    assert ctl.execute(Key(keys=["right"])).ok
    assert ctl.device.app("settings").brightness == 26
    obs = ctl.observe()
    slider = key_of(obs, "settings:brightness")
    end = PointTarget(x=(slider.bounds.right - 1) / (obs.screen.width - 1), y=y)
    assert ctl.execute(Drag(start=element(slider.id), end=end)).ok
    assert ctl.device.app("settings").brightness == 100


def test_back_home_and_recents():
    ctl = SimController(seed=7)
    open_settings(ctl)
    ctl.device.app("settings").go("display")
    assert ctl.execute(System(button="back")).ok
    assert ctl.device.app("settings").page == "main"
    ctl.execute(System(button="home"))
    assert ctl.device.foreground is None
    ctl.execute(System(button="recents"))
    obs = ctl.observe()
    card = key_of(obs, "recents:card:settings")
    ctl.execute(Click(target=element(card.id)))
    assert ctl.device.foreground == "settings"


def test_unknown_app_and_missing_element_are_errors_not_crashes():
    ctl = SimController(seed=8)
    ctl.observe()
    r = ctl.execute(OpenApp(app="Minesweeper"))
    assert not r.ok and "Minesweeper" in r.error
    ctl.observe()
    r = ctl.execute(Click(target=element(9999)))
    assert not r.ok and "#9999" in r.error
    r = ctl.execute({"type": "click", "target": {"kind": "point", "x": 3, "y": 0}})
    assert not r.ok and "invalid action" in r.error


def test_wait_until_checks_the_screen():
    ctl = SimController(seed=8)
    open_settings(ctl)
    assert ctl.execute(Wait(until={"text": ctl.device.app("settings").title, "role": "heading"})).ok
    r = ctl.execute(Wait(until={"text": "no such thing"}, timeout=0.1))
    assert not r.ok and "timed out" in r.error


def test_hidpi_scale_doubles_pixels_and_points_still_hit():
    ctl = SimController(seed=9, scale=2.0)
    obs = open_settings(ctl)
    w, h = ctl.device.size
    assert (obs.screen.width, obs.screen.height, obs.screen.scale_factor) == (2 * w, 2 * h, 2.0)
    assert obs.screenshot().size == (2 * w, 2 * h)
    wifi = key_of(obs, "settings:wifi")
    before = ctl.device.app("settings").wifi
    assert ctl.execute(Click(target=element(wifi.id))).ok
    assert ctl.device.app("settings").wifi is (not before)


def test_desktop_windows_title_bars_and_menus():
    ctl = SimController(seed=10, form="desktop")
    obs = ctl.observe()
    assert obs.screen.width > obs.screen.height
    icon = key_of(obs, "desktop:icon:settings")
    ctl.execute(Click(target=element(icon.id)))  # one click only selects
    assert ctl.device.foreground is None
    ctl.execute(Click(target=element(icon.id), count=2))
    obs = ctl.observe()
    assert ctl.device.foreground == "settings"
    win = key_of(obs, "window:settings")
    assert win.role == Role.window and obs.window_bounds == win.bounds
    start = key_of(obs, "taskbar:start")
    ctl.execute(Click(target=element(start.id)))
    obs = ctl.observe()
    assert key_of(obs, "taskbar:menu").role == Role.menu
    ctl.execute(Click(target=element(key_of(obs, "taskbar:menu:settings").id)))
    obs = ctl.observe()
    ctl.execute(Click(target=element(key_of(obs, "window:settings:close").id)))
    assert ctl.device.foreground is None and "settings" not in ctl.device.windows


def test_window_frame_points_land_inside_the_window():
    ctl = SimController(seed=12, form="desktop")
    ctl.device.launch("settings")
    obs = ctl.observe()
    r = ctl.execute(Click(target=PointTarget(x=0.5, y=0.02, frame="window")))
    assert r.ok and obs.window_bounds.contains(r.points[0].x, r.points[0].y)


def test_korean_renders_as_glyphs_not_boxes():
    from controllers.sim.render import font

    f = font(20)
    assert f.getmask("가").getbbox() != f.getmask("각").getbbox() or \
        bytes(f.getmask("가")) != bytes(f.getmask("각"))


def test_selector_targets_work_on_the_sim():
    ctl = SimController(seed=13)
    ctl.observe()
    r = ctl.execute(Click(target=select(role="button", text=ctl.device.apps["settings"].title)))
    assert r.ok and ctl.device.foreground == "settings"


def test_long_menus_scroll_instead_of_dropping_items():
    from controllers.sim.apps.base import App

    class Picker(App):
        key = "picker"
        package = "com.handa.picker"

        def init_state(self):
            self.choice = ""
            self.menu = "open"

        def build(self, ui):
            ui.header("Pick")
            if self.menu:
                ui.menu("picker:menu", [(f"picker:item:{i}", f"Option {i}", (lambda i=i: self._pick(i)))
                                        for i in range(40)])

        def _pick(self, i):
            self.choice = f"Option {i}"
            self.close_overlay()

    dev = SimDevice(seed=1)
    dev.apps["picker"] = Picker(dev)
    dev.launch("picker")
    dev.apps["picker"].menu = "open"
    ctl = SimController(dev)
    obs = ctl.observe()
    menu = next(e for e in obs.elements if e.role == Role.menu)
    assert menu.states.scrollable
    shown = [e.name for e in obs.elements if e.role == Role.menu_item]
    assert "Option 0" in shown and "Option 39" not in shown
    for _ in range(10):
        ctl.observe()
        ctl.execute(Scroll(direction="down", amount=1.0, target=element(menu.id)))
    obs = ctl.observe()
    last = next(e for e in obs.elements if e.name == "Option 39")
    ctl.execute(Click(target=element(last.id)))
    assert dev.apps["picker"].choice == "Option 39"
    assert dev.apps["picker"].menu is None


@pytest.mark.parametrize("scale", [0.75, 1.0, 1.25, 1.5, 2.0, 2.625, 3.0])
def test_element_bounds_agree_with_hit_testing_at_any_scale(scale):
    """Every pixel inside an element's bounds must reach that element (no silent off-by-one at edges)."""
    checked = 0
    for seed, app in enumerate(["settings", "contacts", "shop", "webform", "calendar", "files", "notes", "messages"]):
        ctl = SimController(seed=seed, form="desktop" if seed % 2 else "phone", scale=scale)
        ctl.device.launch(app)
        ctl.device.apps[app].close_overlay()
        ctl.device.invalidate()
        obs, nodes = ctl.device.observe()
        assert obs.screenshot().size == (obs.screen.width, obs.screen.height)
        for e in obs.elements:
            assert 0 <= e.bounds.left < e.bounds.right <= obs.screen.width, (app, e)
            assert 0 <= e.bounds.top < e.bounds.bottom <= obs.screen.height, (app, e)
            n = nodes[e.id]
            if not (n.on_click or n.editable or n.on_point):
                continue
            b = e.bounds
            for px, py in ((b.left, b.top), (b.right - 1, b.bottom - 1), (b.left, b.bottom - 1), (b.right - 1, b.top)):
                hit = ctl.device.hit((px + 0.5) / scale, (py + 0.5) / scale)
                assert hit is n or any(hit is d for d in n.walk()), (app, n.key, (px, py), hit and hit.key)
                checked += 1
    assert checked > 100


def test_learners_can_get_observations_without_sim_keys():
    ctl = SimController(seed=3, expose_keys=False)
    obs = ctl.observe()
    assert obs.elements and all("sim-key" not in e.attrs for e in obs.elements)
    assert all("sim-key" in e.attrs for e in SimController(seed=3).observe().elements)
    # acting still works without the keys
    icon = next(e for e in obs.elements if e.role == Role.button and e.name)
    assert ctl.execute(Click(target=element(icon.id))).ok and ctl.device.foreground is not None
