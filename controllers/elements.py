"""What a controller sees: UI elements, the screen frame and the observation.

One model for every platform. Bounds are in physical screen pixels; the scale
factor says how many physical pixels make one logical point.
"""
from __future__ import annotations

import hashlib
import time
from enum import Enum
from typing import Any, Callable, Optional

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator


class Role(str, Enum):
    """The normalized role vocabulary. Platform roles are mapped onto these."""

    button = "button"
    text_field = "text_field"
    checkbox = "checkbox"
    switch = "switch"
    radio = "radio"
    link = "link"
    tab = "tab"
    list_item = "list_item"
    menu_item = "menu_item"
    menu = "menu"
    slider = "slider"
    dropdown = "dropdown"
    image = "image"
    icon = "icon"
    text = "text"
    heading = "heading"
    dialog = "dialog"
    window = "window"
    container = "container"
    list = "list"
    toolbar = "toolbar"
    progress = "progress"
    keyboard = "keyboard"
    web_view = "web_view"
    unknown = "unknown"

    @classmethod
    def parse(cls, value: Any) -> "Role":
        """Map any string to a role; unknown strings become ``Role.unknown``."""
        if isinstance(value, Role):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            return cls.unknown


class Platform(str, Enum):
    sim = "sim"
    desktop = "desktop"
    android = "android"


class Orientation(str, Enum):
    portrait = "portrait"
    landscape = "landscape"


class Rect(BaseModel):
    """A rectangle in physical pixels; right and bottom are exclusive."""

    model_config = ConfigDict(frozen=True)

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def center(self) -> tuple[int, int]:
        return ((self.left + self.right) // 2, (self.top + self.bottom) // 2)

    @property
    def area(self) -> int:
        return max(0, self.width) * max(0, self.height)

    def contains(self, x: float, y: float) -> bool:
        return self.left <= x < self.right and self.top <= y < self.bottom

    def intersect(self, other: "Rect") -> Optional["Rect"]:
        left, top = max(self.left, other.left), max(self.top, other.top)
        right, bottom = min(self.right, other.right), min(self.bottom, other.bottom)
        if right <= left or bottom <= top:
            return None
        return Rect(left=left, top=top, right=right, bottom=bottom)


class ElementStates(BaseModel):
    model_config = ConfigDict(frozen=True)

    enabled: bool = True
    visible: bool = True
    focused: bool = False
    selected: bool = False
    checked: Optional[bool] = None  # None: not checkable
    clickable: bool = False
    editable: bool = False
    scrollable: bool = False
    password: bool = False


class UIElement(BaseModel):
    """One node of the accessibility tree.

    ``id`` is stable within one observation only; ``parent``/``children`` refer to
    ids of the same observation. ``attrs`` keeps the raw platform attributes
    (resource-id, class, package, AT-SPI role name, ...).
    """

    id: int = Field(ge=0)
    role: Role = Role.unknown
    name: str = ""
    description: str = ""
    value: str = ""
    hint: str = ""
    bounds: Rect
    states: ElementStates = ElementStates()
    parent: Optional[int] = None
    children: list[int] = Field(default_factory=list)
    app: str = ""
    window: str = ""
    attrs: dict[str, str] = Field(default_factory=dict)

    @field_validator("role", mode="before")
    @classmethod
    def _normalize_role(cls, value: Any) -> Role:
        return Role.parse(value)

    @property
    def label(self) -> str:
        """The best human-readable label: name, else description, else hint."""
        return self.name or self.description or self.hint

    @property
    def resource_id(self) -> str:
        return self.attrs.get("resource-id", "")


class ScreenFrame(BaseModel):
    """The screen in physical pixels, and how many of them make one logical point."""

    model_config = ConfigDict(frozen=True)

    width: int = Field(gt=0)
    height: int = Field(gt=0)
    scale_factor: float = Field(default=1.0, gt=0)
    orientation: Orientation = Orientation.portrait

    @property
    def rect(self) -> Rect:
        return Rect(left=0, top=0, right=self.width, bottom=self.height)

    @property
    def logical_size(self) -> tuple[float, float]:
        return (self.width / self.scale_factor, self.height / self.scale_factor)


class Observation(BaseModel):
    """Everything a policy may look at for one step.

    The screenshot is lazy: controllers attach a loader and the image is only
    produced when someone asks for it (a screenshot-only policy, the recorder).
    ``elements`` may be empty for screenshot-only platforms.
    """

    platform: Platform
    screen: ScreenFrame
    elements: list[UIElement] = Field(default_factory=list)
    app: str = ""
    window: str = ""
    window_bounds: Optional[Rect] = None
    timestamp: float = Field(default_factory=time.time)
    device: str = ""
    warnings: list[str] = Field(default_factory=list)

    _screenshot_loader: Optional[Callable[[], Any]] = PrivateAttr(default=None)
    _screenshot: Any = PrivateAttr(default=None)
    _index: Optional[dict[int, UIElement]] = PrivateAttr(default=None)

    def attach_screenshot(self, loader: Callable[[], Any]) -> "Observation":
        """Attach a zero-argument callable returning a PIL image (called at most once).

        The loader must return the screen as it was when this observation was
        made, even when called after actions have changed the screen.
        """
        self._screenshot_loader = loader
        self._screenshot = None
        return self

    @property
    def has_screenshot(self) -> bool:
        return self._screenshot is not None or self._screenshot_loader is not None

    def screenshot(self):
        """The screenshot as a PIL image, or None when the platform gave none."""
        if self._screenshot is None and self._screenshot_loader is not None:
            self._screenshot = self._screenshot_loader()
            self._screenshot_loader = None
        return self._screenshot

    def element(self, element_id: int) -> Optional[UIElement]:
        if self._index is None:
            self._index = {e.id: e for e in self.elements}
        return self._index.get(element_id)

    def roots(self) -> list[UIElement]:
        return [e for e in self.elements if e.parent is None]

    def fingerprint(self) -> str:
        """A digest of what is on screen, to detect change.

        Tree content and geometry when there is a tree; a coarse digest of the
        screenshot's pixels when the observation is screenshot-only.
        """
        h = hashlib.blake2b(digest_size=12)
        if not self.elements and self.has_screenshot:
            image = self.screenshot()
            if image is not None:
                h.update(image.convert("L").resize((96, 96)).tobytes())
        h.update(f"{self.app}|{self.window}|{self.screen.width}x{self.screen.height}".encode())
        for e in self.elements:
            s = e.states
            h.update(
                f"{e.role.value}|{e.name}|{e.value}|{e.bounds.left},{e.bounds.top},{e.bounds.right},"
                f"{e.bounds.bottom}|{int(s.checked or 0)}{int(s.selected)}{int(s.focused)}{int(s.enabled)}\n".encode()
            )
        return h.hexdigest()
