"""The base of every simulated app: navigation stack, focus, scroll and overlays."""
from __future__ import annotations

import random
import zlib
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Callable, Optional

from controllers.sim.ui import Page

if TYPE_CHECKING:  # pragma: no cover
    from controllers.sim.device import SimDevice


class App(ABC):
    """One app. Subclasses set ``key``/``label_key``/``package`` and implement ``build``.

    State lives in plain attributes so task checks can read it directly
    (``device.app("settings").wifi``). ``build`` is called on every observation
    and must only describe the screen, never change state.
    """

    key = "app"
    label_key = ""
    package = "com.handa.app"
    icon = (90, 90, 200)
    aliases: tuple[str, ...] = ()

    def __init__(self, device: "SimDevice"):
        self.device = device
        self.style = device.style
        self.rng = random.Random(zlib.crc32(f"{device.seed}/{self.key}".encode()))
        self.pages: list[str] = ["main"]
        self.scroll: dict[str, float] = {}
        self.focus = ""
        self.dialog: Optional[str] = None
        self.menu: Optional[str] = None
        self.select_all = False
        self.banner = self.style.distractors and self.rng.random() < 0.35
        self.nag_pending = self.style.distractors and self.rng.random() < 0.2
        self.init_state()

    # ------------------------------------------------------------ to override
    def init_state(self) -> None:
        """Create the app's data (seeded by ``self.rng``)."""

    @abstractmethod
    def build(self, ui: Page) -> None:
        """Describe the current screen on ``ui`` (must not change state)."""

    # ------------------------------------------------------------ helpers
    @property
    def title(self) -> str:
        return self.style.label(self.label_key) if self.label_key else self.key.title()

    @property
    def page(self) -> str:
        return self.pages[-1]

    def L(self, key: str) -> str:  # noqa: N802 - short on purpose, used everywhere
        return self.style.label(key)

    def go(self, page: str) -> None:
        self.pages.append(page)
        self.focus = ""
        self.menu = None
        self.dialog = None

    def reset_to(self, page: str = "main") -> None:
        self.pages = [page]
        self.focus = ""
        self.menu = None
        self.dialog = None

    def back(self) -> bool:
        """Close the top overlay or page; False when already at the root."""
        if self.menu:
            self.menu = None
            return True
        if self.dialog:
            self.dialog = None
            return True
        if len(self.pages) > 1:
            self.pages.pop()
            self.focus = ""
            return True
        return False

    def on_open(self) -> None:
        """Called each time the app comes to the foreground."""
        if self.nag_pending:
            self.nag_pending = False
            self.dialog = "nag"

    def setter(self, attr: str) -> Callable[[str], None]:
        def set_value(value: str) -> None:
            setattr(self, attr, value)
        return set_value

    def toggler(self, attr: str) -> Callable[[], None]:
        def toggle() -> None:
            setattr(self, attr, not getattr(self, attr))
        return toggle

    def close_overlay(self) -> None:
        self.menu = None
        self.dialog = None
        for key in [k for k in self.scroll if k.startswith("menu:")]:
            del self.scroll[key]  # a menu opens at its top again

    def common_overlays(self, ui: Page) -> None:
        """Distractors every app can show: a rate-this-app dialog."""
        if self.dialog == "nag":
            ui.dialog(f"{self.key}:nag", self.L("nag_title").format(app=self.title), self.L("nag_message"), [
                (f"{self.key}:nag:later", self.L("close"), self.close_overlay, 0),
                (f"{self.key}:nag:rate", self.L("rate"), self.close_overlay, 1),
            ])

    def distractor_banner(self, ui: Page) -> None:
        if self.banner:
            ui.banner(f"{self.key}:promo", self.L("promo"), self._dismiss_banner)

    def _dismiss_banner(self) -> None:
        self.banner = False
