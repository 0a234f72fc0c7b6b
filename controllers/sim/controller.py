"""The sim device behind the controller protocol."""
from __future__ import annotations

from typing import Any, Optional

from controllers.actions import TypeText
from controllers.base import ActionResult, BaseController
from controllers.coords import PixelPoint, resolve_target
from controllers.elements import Observation, ScreenFrame
from controllers.selectors import find
from controllers.sim.device import SimDevice
from controllers.sim.style import Split


class SimController(BaseController):
    """Drive a ``SimDevice``. Targets resolve against the last observation.

    ``expose_keys=False`` strips the sim-only ``sim-key`` attribute from
    observations: learned policies must see what a real device would give.
    """

    platform = "sim"

    def __init__(self, device: Optional[SimDevice] = None, *, form: str = "phone", seed: int = 0,
                 split: Split | str = Split.all, scale: float = 1.0, expose_keys: bool = True):
        self.device = device or SimDevice(form=form, seed=seed, split=split, scale=scale)
        self.expose_keys = expose_keys
        self._last: Optional[Observation] = None
        self._nodes: dict = {}
        self.closed = False

    @property
    def screen(self) -> ScreenFrame:
        return self.device.frame()

    def observe(self) -> Observation:
        self._check_open()
        self._last, self._nodes = self.device.observe()
        if not self.expose_keys:
            for e in self._last.elements:
                e.attrs.pop("sim-key", None)
        return self._last

    def wait_for_settle(self, timeout: float = 2.0) -> bool:
        return True  # the sim applies every input synchronously

    def state_digest(self) -> str:
        """A digest of every app's state, on screen or not (replay compares it)."""
        return self.device.state_digest()

    def close(self) -> None:
        self.closed = True

    def _check_open(self) -> None:
        if self.closed:
            from controllers.base import DeviceLost
            raise DeviceLost("the sim controller is closed")

    # ------------------------------------------------------------ actions
    def _dp(self, p: PixelPoint) -> tuple[float, float]:
        s = self.device.scale
        return (p.x + 0.5) / s, (p.y + 0.5) / s

    def _dispatch(self, action: Any, obs: Observation) -> ActionResult:
        dev = self.device
        t = action.type
        if t in ("click", "long_press"):
            p, el = resolve_target(action.target, obs)
            x, y = self._dp(p)
            if t == "click":
                effect = dev.tap(x, y, count=action.count, button=action.button.value)
            else:
                effect = dev.long_press(x, y)
            return ActionResult(ok=True, points=[p], element_id=el.id if el else None, info={"effect": effect})
        if t in ("drag", "swipe"):
            p0, el = resolve_target(action.start, obs)
            p1, _ = resolve_target(action.end, obs)
            effect = dev.drag(*self._dp(p0), *self._dp(p1))
            return ActionResult(ok=True, points=[p0, p1], element_id=el.id if el else None, info={"effect": effect})
        if t == "scroll":
            points, el = [], None
            x = y = None
            if action.target is not None:
                p, el = resolve_target(action.target, obs)
                points = [p]
                x, y = self._dp(p)
            effect = dev.scroll(action.direction.value, action.amount, x, y)
            return ActionResult(ok=True, points=points, element_id=el.id if el else None, info={"effect": effect})
        if t == "type":
            return self._type(action, obs)
        if t == "key":
            return ActionResult(ok=True, info={"effect": dev.key(action.keys)})
        if t == "system":
            b = action.button.value
            if b == "back":
                dev.back()
            elif b == "home":
                dev.go_home()
            elif b == "recents":
                dev.show_recents()
            else:
                return ActionResult(ok=True, info={"effect": dev.submit()})
            return ActionResult(ok=True, info={"effect": b})
        if t == "open_app":
            key = dev.find_app(action.app)
            if key is None:
                return ActionResult(ok=False, error=f"no app named {action.app!r} on this device")
            dev.launch(key)
            return ActionResult(ok=True, info={"effect": f"opened {key}"})
        if t == "wait":
            if action.until is not None:
                if find(self.observe(), action.until) is None:
                    return ActionResult(ok=False, error="timed out: no element matches the wait selector")
                return ActionResult(ok=True, info={"effect": "appeared"})
            dev.clock += int(action.seconds // 60)
            return ActionResult(ok=True, info={"effect": f"waited {action.seconds}s"})
        return ActionResult(ok=True, info={"effect": "terminal"})  # answer / done

    def _type(self, action: TypeText, obs: Observation) -> ActionResult:
        dev = self.device
        points, el = [], None
        if action.target is not None:
            p, el = resolve_target(action.target, obs)
            points = [p]
            if el is not None and not el.states.editable:
                return ActionResult(ok=False, error=f"element #{el.id} ({el.role.value} {el.label!r}) is not editable",
                                    points=points, element_id=el.id)
            dev.tap(*self._dp(p))
            focused = dev.focused_field()
            wanted = self._nodes.get(el.id) if el is not None else None
            if wanted is not None and (focused is None or focused[1].key != wanted.key):
                return ActionResult(ok=False, points=points, element_id=el.id,
                                    error=f"element #{el.id} did not take focus (something covers it); nothing typed")
        if dev.focused_field() is None:
            return ActionResult(ok=False, error="no text field has focus; give a target", points=points)
        effect = dev.type_text(action.text, clear=action.clear)
        if action.submit:
            effect += "; " + dev.submit()
        return ActionResult(ok=True, points=points, element_id=el.id if el else None, info={"effect": effect})
