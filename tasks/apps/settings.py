"""Settings tasks: toggles, sliders, choices, renaming, and combinations."""
from __future__ import annotations

from controllers.sim.style import LEXICON
from tasks.base import TaskTemplate, register

NAV = {
    "display": [("display", "settings:display")],
    "sound": [("sound", "settings:sound")],
    "about": [("about", "settings:about")],
}


def _set_switch(kit, key: str, want: bool, path=()):
    move = kit.goto("settings", list(path))
    if move is not None:
        return move
    e, move = kit.seek(key)
    if e is None:
        return move
    if bool(e.states.checked) != want:
        return kit.click(e)
    return None


def _set_slider(kit, key: str, want: int, path):
    move = kit.goto("settings", list(path))
    if move is not None:
        return move
    e, move = kit.seek(key)
    if e is None:
        return move
    value = int(e.value)
    if value == want:
        return None
    if abs(value - want) > 4:
        return kit.click_at(e, want / 100)
    if not e.states.focused:
        return kit.click_at(e, value / 100)
    return kit.key("right" if want > value else "left")


class _Toggle(TaskTemplate):
    app = "settings"
    attr = ""
    path: tuple = ()
    steps_hint = 2

    def sample(self, rng, device):
        on = rng.random() < 0.5
        return {"on": on, "state": "on" if on else "off", "onoff_ko": "켜" if on else "꺼",
                "label": rng.choice(LEXICON[self.attr][:3])}

    def setup(self, device, params):
        app = device.app("settings")
        setattr(app, self.attr, not params["on"])
        if self.attr != "airplane":
            app.airplane = False

    def is_successful(self, device, params, answer=None):
        return getattr(device.app("settings"), self.attr) == params["on"]

    def act(self, kit, params):
        move = _set_switch(kit, f"settings:{self.attr}", params["on"], self.path)
        return move or kit.done()


def _toggle(attr: str, path=(), extra_goals=()):
    goals = ["Turn {state} {label}", "Switch {label} {state}", "Set {label} to {state}",
             "{label} {onoff_ko}줘", "Please turn {label} {state}.", *extra_goals]
    cls = type(f"Toggle_{attr}", (_Toggle,), {
        "id": f"settings.{attr}", "attr": attr, "path": tuple(path), "goals": goals,
        "steps_hint": 2 + len(path)})
    return register(cls)


_toggle("wifi")
_toggle("bluetooth")
_toggle("airplane")
_toggle("location")
_toggle("notifications")
_toggle("dark_mode", NAV["display"])
_toggle("auto_rotate", NAV["display"])
_toggle("vibrate", NAV["sound"])


class _Slider(TaskTemplate):
    app = "settings"
    attr = ""
    path: tuple = ()
    steps_hint = 3

    def sample(self, rng, device):
        return {"value": rng.randrange(0, 101, 5), "label": rng.choice(LEXICON[self.attr][:3])}

    def setup(self, device, params):
        app = device.app("settings")
        while abs(getattr(app, self.attr) - params["value"]) < 10:
            setattr(app, self.attr, (getattr(app, self.attr) + 37) % 101)

    def is_successful(self, device, params, answer=None):
        return getattr(device.app("settings"), self.attr) == params["value"]

    def act(self, kit, params):
        move = _set_slider(kit, f"settings:{self.attr}", params["value"], self.path)
        return move or kit.done()


@register
class Brightness(_Slider):
    id = "settings.brightness"
    attr = "brightness"
    path = tuple(NAV["display"])
    goals = ["Set {label} to {value}%", "Change the {label} to {value} percent", "{label}를 {value}%로 맞춰줘",
             "Make the screen brightness {value}%"]


@register
class Volume(_Slider):
    id = "settings.volume"
    attr = "volume"
    path = tuple(NAV["sound"])
    goals = ["Set the {label} to {value}%", "Change {label} to {value} percent", "{label}을 {value}으로 설정해",
             "Turn the volume to {value}%"]


@register
class FontSize(TaskTemplate):
    id = "settings.font_size"
    app = "settings"
    steps_hint = 3
    goals = ["Make the font size {size}", "Set text size to {size}", "글꼴 크기를 {size_ko}로 바꿔줘",
             "Change the font to {size}"]

    def sample(self, rng, device):
        size = rng.choice(["small", "default", "large"])
        return {"size": size, "size_ko": {"small": "작게", "default": "기본", "large": "크게"}[size]}

    def setup(self, device, params):
        app = device.app("settings")
        if app.font_size == params["size"]:
            app.font_size = "default" if params["size"] != "default" else "large"

    def is_successful(self, device, params, answer=None):
        return device.app("settings").font_size == params["size"]

    def act(self, kit, params):
        move = kit.goto("settings", NAV["display"])
        if move:
            return move
        e, move = kit.seek(f"settings:font_size:{params['size']}")
        if e is None:
            return move
        return kit.click(e) if not e.states.checked else kit.done()


@register
class RenameDevice(TaskTemplate):
    id = "settings.rename_device"
    app = "settings"
    steps_hint = 5
    goals = ["Rename this device to {name}", "Change the device name to \"{name}\"", "기기 이름을 {name}(으)로 바꿔줘",
             "Call my phone {name}"]

    def sample(self, rng, device):
        return {"name": rng.choice(["Work phone", "민준의 폰", "Kitchen tablet", "Zoë's Pixel", "테스트 기기",
                                    "Dev box", "Café"]) + f" {rng.randint(2, 99)}"}

    def is_successful(self, device, params, answer=None):
        return device.app("settings").device_name == params["name"]

    def act(self, kit, params):
        field = kit.el("settings:rename_field")
        if field is not None:
            if field.value != params["name"]:
                return kit.type(field, params["name"], clear=True)
            return kit.click("settings:rename_ok")
        move = kit.goto("settings", NAV["about"])
        if move:
            return move
        row = kit.el("settings:device_name")
        if row is not None and row.description == params["name"]:
            return kit.done()
        return kit.click(row)


@register
class ReadDeviceName(TaskTemplate):
    id = "settings.read_device_name"
    app = "settings"
    steps_hint = 2
    goals = ["What is this device's name?", "Tell me the device name", "기기 이름이 뭐야?", "Find out what the phone is called"]

    def is_successful(self, device, params, answer=None):
        return answer is not None and answer.strip() == device.app("settings").device_name

    def act(self, kit, params):
        move = kit.goto("settings", NAV["about"])
        if move:
            return move
        return kit.answer(kit.el("settings:device_name").description)


@register
class WifiAndBrightness(TaskTemplate):
    id = "settings.wifi_and_brightness"
    app = "settings"
    steps_hint = 5
    goals = ["Turn on Wi-Fi and set brightness to {value}%", "Enable Wi-Fi, then make the brightness {value}%",
             "와이파이 켜고 밝기를 {value}%로 해줘"]

    def sample(self, rng, device):
        return {"value": rng.randrange(10, 100, 10)}

    def setup(self, device, params):
        app = device.app("settings")
        app.wifi = False
        app.airplane = False
        if abs(app.brightness - params["value"]) < 10:
            app.brightness = (params["value"] + 45) % 100

    def is_successful(self, device, params, answer=None):
        app = device.app("settings")
        return app.wifi and app.brightness == params["value"]

    def act(self, kit, params):
        if kit.page("settings") in (None, "main") and not kit.memory.get("wifi_ok"):
            move = _set_switch(kit, "settings:wifi", True)
            if move:
                return move
            kit.memory["wifi_ok"] = True
        move = _set_slider(kit, "settings:brightness", params["value"], NAV["display"])
        return move or kit.done()


@register
class QuietMode(TaskTemplate):
    id = "settings.quiet_mode"
    app = "settings"
    steps_hint = 6
    goals = ["Mute the phone: volume to 0 and vibration off", "Set volume to zero and turn off vibrate",
             "무음으로 해줘: 음량 0, 진동 끄기"]

    def setup(self, device, params):
        app = device.app("settings")
        app.vibrate = True
        app.volume = max(app.volume, 30)

    def is_successful(self, device, params, answer=None):
        app = device.app("settings")
        return app.volume == 0 and not app.vibrate

    def act(self, kit, params):
        move = _set_slider(kit, "settings:volume", 0, NAV["sound"])
        if move:
            return move
        move = _set_switch(kit, "settings:vibrate", False, NAV["sound"])
        return move or kit.done()
