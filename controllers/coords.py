"""The coordinate contract: resolve a target to one physical pixel, exactly once.

Normalized points are converted with the frame they name; element and selector
targets resolve to the centre of the element's visible part. A point that lands
outside the screen is refused, never clamped.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from controllers.actions import Frame, PointTarget
from controllers.elements import Observation, Rect, UIElement
from controllers.selectors import find


class PixelPoint(BaseModel):
    model_config = ConfigDict(frozen=True)

    x: int
    y: int


class TargetError(ValueError):
    """A target that cannot be resolved: unknown element, no match, or off screen."""


def frame_rect(obs: Observation, frame: Frame) -> Rect:
    if frame == Frame.window:
        if obs.window_bounds is None:
            raise TargetError("a window-frame point needs a foreground window, and there is none")
        return obs.window_bounds
    return obs.screen.rect


def point_to_pixels(target: PointTarget, obs: Observation) -> PixelPoint:
    rect = frame_rect(obs, target.frame)
    # Normalized units cover the frame edge to edge; the last pixel is width-1.
    x = rect.left + round(target.x * (rect.width - 1))
    y = rect.top + round(target.y * (rect.height - 1))
    if not obs.screen.rect.contains(x, y):
        raise TargetError(f"point ({x}, {y}) lies outside the {obs.screen.width}x{obs.screen.height} screen")
    return PixelPoint(x=x, y=y)


def pixels_to_point(x: float, y: float, obs: Observation, frame: Frame = Frame.screen) -> PointTarget:
    """The inverse of ``point_to_pixels`` (used by experts and recorders)."""
    rect = frame_rect(obs, frame)
    nx = (x - rect.left) / max(1, rect.width - 1)
    ny = (y - rect.top) / max(1, rect.height - 1)
    if not (0 <= nx <= 1 and 0 <= ny <= 1):
        raise TargetError(f"pixel ({x}, {y}) lies outside the {frame.value} frame")
    return PointTarget(x=nx, y=ny, frame=frame)


def resolve_element(target, obs: Observation) -> UIElement | None:
    """The element a target names, None for a point; raises TargetError when it names nothing."""
    if target.kind == "element":
        e = obs.element(target.id)
        if e is None:
            raise TargetError(f"element #{target.id} is not in the current observation")
        return e
    if target.kind == "selector":
        e = find(obs, target.selector)
        if e is None:
            raise TargetError("no element matches the selector")
        return e
    return None


def element_center(e: UIElement, obs: Observation) -> PixelPoint:
    visible = e.bounds.intersect(obs.screen.rect)
    if visible is None:
        raise TargetError(f"element #{e.id} ({e.role.value} {e.label!r}) is off screen")
    cx, cy = visible.center
    return PixelPoint(x=cx, y=cy)


def resolve_target(target, obs: Observation) -> tuple[PixelPoint, UIElement | None]:
    """The pixel to act on and the element there (if the target named one)."""
    if target.kind == "point":
        return point_to_pixels(target, obs), None
    e = resolve_element(target, obs)
    return element_center(e, obs), e
