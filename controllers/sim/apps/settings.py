"""Settings: switches, sliders, radio choices, sub-pages and a rename dialog."""
from __future__ import annotations

from controllers.sim.apps.base import App
from controllers.sim.ui import Page


class SettingsApp(App):
    key = "settings"
    label_key = "settings"
    package = "com.handa.settings"
    icon = (96, 125, 139)

    def init_state(self) -> None:
        r = self.rng
        self.wifi = r.random() < 0.5
        self.bluetooth = r.random() < 0.5
        self.airplane = False
        self.dark_mode = r.random() < 0.3
        self.location = r.random() < 0.5
        self.notifications = r.random() < 0.7
        self.auto_rotate = r.random() < 0.5
        self.vibrate = r.random() < 0.5
        self.brightness = r.randint(10, 90)
        self.volume = r.randint(10, 90)
        self.font_size = r.choice(["small", "default", "large"])
        self.device_name = r.choice(["My phone", "Galaxy", "Pixel", "내 휴대폰", "Handa One"])
        self.name_draft = ""
        self.main_order = ["network", "display", "sound", "notifications", "location", "about"]
        r.shuffle(self.main_order)
        self.network_order = ["wifi", "bluetooth", "airplane"]
        r.shuffle(self.network_order)

    def _set(self, attr: str):
        def setter(value: int) -> None:
            setattr(self, attr, value)
        return setter

    def _toggle_airplane(self) -> None:
        self.airplane = not self.airplane
        if self.airplane:
            self.wifi = False
            self.bluetooth = False

    def build(self, ui: Page) -> None:
        page = self.page
        if page == "main":
            ui.header(self.title)
            self.distractor_banner(ui)
            for item in self.main_order:
                if item == "network":
                    ui.section(self.L("network"), key="settings:section_network")
                    for sw in self.network_order:
                        toggle = self._toggle_airplane if sw == "airplane" else self.toggler(sw)
                        enabled = not (self.airplane and sw != "airplane")
                        ui.switch(f"settings:{sw}", self.L(sw), getattr(self, sw), toggle, enabled=enabled)
                elif item in ("notifications", "location"):
                    ui.switch(f"settings:{item}", self.L(item), getattr(self, item), self.toggler(item))
                else:
                    sub = {"display": f"{self.brightness}%", "sound": f"{self.volume}%",
                           "about": self.device_name}[item]
                    ui.row_item(f"settings:{item}", self.L(item), lambda p=item: self.go(p), subtitle=sub)
        elif page == "display":
            ui.header(self.L("display"), back=self.back)
            ui.slider("settings:brightness", self.L("brightness"), self.brightness, 0, 100, self._set("brightness"))
            ui.switch("settings:dark_mode", self.L("dark_mode"), self.dark_mode, self.toggler("dark_mode"))
            ui.switch("settings:auto_rotate", self.L("auto_rotate"), self.auto_rotate, self.toggler("auto_rotate"))
            ui.radios("settings:font_size", self.L("font_size"),
                      [("small", "Small / 작게"), ("default", "Default / 기본"), ("large", "Large / 크게")],
                      self.font_size, self._set("font_size"))
        elif page == "sound":
            ui.header(self.L("sound"), back=self.back)
            ui.slider("settings:volume", self.L("volume"), self.volume, 0, 100, self._set("volume"))
            ui.switch("settings:vibrate", self.L("vibrate"), self.vibrate, self.toggler("vibrate"))
        elif page == "about":
            ui.header(self.L("about"), back=self.back)
            ui.row_item("settings:device_name", self.L("device_name"), self._open_rename, subtitle=self.device_name)
            ui.text("Android 15 · Build HND.2026", key="settings:build")
            ui.text("Model: Handa Sim", key="settings:model")
            if self.dialog == "rename":
                ui.dialog("settings:rename_dialog", self.L("rename"), self.L("device_name"), [
                    ("settings:rename_cancel", self.L("cancel"), self.close_overlay, 0),
                    ("settings:rename_ok", self.L("save"), self._commit_rename, 1),
                ], fields=[("settings:rename_field", self.L("device_name"), self.name_draft,
                            self.setter("name_draft"))])

    def _open_rename(self) -> None:
        self.name_draft = self.device_name
        self.dialog = "rename"
        self.focus = "settings:rename_field"

    def _commit_rename(self) -> None:
        if self.name_draft.strip():
            self.device_name = self.name_draft.strip()
        self.dialog = None
