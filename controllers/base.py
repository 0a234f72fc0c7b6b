"""The controller protocol every platform implements, and its results and errors."""
from __future__ import annotations

import time
from typing import Any, Optional, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from controllers.coords import PixelPoint
from controllers.elements import Observation, ScreenFrame


class ControllerError(RuntimeError):
    """A platform failure that is not the action's fault."""


class DeviceLost(ControllerError):
    """The device, display or connection went away (after any reconnect attempt)."""


class ActionResult(BaseModel):
    """What happened when an action was executed.

    ``points`` are the resolved physical pixels, in order (one for a click, two
    for a drag or swipe). ``error`` explains a refused or failed action.
    """

    ok: bool
    error: Optional[str] = None
    points: list[PixelPoint] = Field(default_factory=list)
    element_id: Optional[int] = None
    duration_ms: float = 0.0
    info: dict[str, Any] = Field(default_factory=dict)


@runtime_checkable
class Controller(Protocol):
    """A device the agent can see and act on.

    Contracts:
    - ``observe()`` returns the current screen; it never raises for an empty
      tree (screenshot-only), only ``ControllerError`` for a broken device.
    - ``execute(action)`` resolves targets against the last observation, refuses
      what cannot be done (``ok=False`` with an error, nothing executed) and
      never raises for a bad action.
    - ``wait_for_settle(timeout)`` returns once the screen stops changing.
    - ``close()`` is idempotent; controllers are context managers.
    """

    platform: str

    @property
    def screen(self) -> ScreenFrame: ...

    def observe(self) -> Observation: ...

    def execute(self, action: Any) -> ActionResult: ...

    def wait_for_settle(self, timeout: float = 2.0) -> bool: ...

    def close(self) -> None: ...

    def __enter__(self) -> "Controller": ...

    def __exit__(self, *exc: Any) -> None: ...


def type_target(action: Any, obs: Observation) -> tuple[list[PixelPoint], Any, Optional[ActionResult]]:
    """Where a ``type`` action goes: ([pixel], element or None, None); ([], None, None) without a target (the
    focused field); or a refusal when the target is an element that cannot be typed into."""
    from controllers.coords import resolve_target

    if action.target is None:
        return [], None, None
    p, el = resolve_target(action.target, obs)
    if el is not None and not el.states.editable:
        return [p], el, ActionResult(ok=False, error=f"element #{el.id} ({el.role.value} {el.label!r}) is not "
                                                     "editable", points=[p], element_id=el.id)
    return [p], el, None


class BaseController:
    """Shared plumbing: context manager, ``execute`` around a platform's ``_dispatch``, settle-by-polling.

    Subclasses set ``self._last`` (the observation targets resolve against) in ``observe()``, define
    ``_dispatch(action, observation) -> ActionResult`` (every platform has its own; there is no default) and
    ``_check_open()``, and may override
    ``_platform_failure`` to turn their own errors into refusals or ``DeviceLost``.
    """

    platform = "unknown"
    settle_interval = 0.1
    _last = None

    def _check_open(self) -> None:
        pass

    def _platform_failure(self, exc: Exception) -> ActionResult:
        """A failure that is neither the action's fault nor a lost device; by default it propagates."""
        raise exc

    def execute(self, action: Any) -> ActionResult:
        """Re-validate ``action`` (a dict, JSON or an object built without validation), resolve it against the
        last observation and run it; a bad action becomes ``ok=False`` with the reason, never an exception."""
        from pydantic import ValidationError

        from controllers.actions import parse_action
        from controllers.coords import TargetError

        self._check_open()
        start = time.perf_counter()
        try:
            data = action if isinstance(action, (dict, str, bytes)) else action.model_dump(mode="json")
            action = parse_action(data)
            obs = self._last or self.observe()
            result = self._dispatch(action, obs)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err.get("loc", ()))
            result = ActionResult(ok=False, error=f"invalid action at {where or 'action'}: {err['msg']}")
        except TargetError as exc:
            result = ActionResult(ok=False, error=str(exc))
        except DeviceLost:
            raise
        except ControllerError as exc:
            result = self._platform_failure(exc)
        except (AttributeError, TypeError, ValueError) as exc:
            result = ActionResult(ok=False, error=f"not an action: {type(exc).__name__}: {exc}")
        except Exception as exc:
            result = self._platform_failure(exc)
        result.duration_ms = (time.perf_counter() - start) * 1000
        self._last = None
        return result

    def __enter__(self):
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:  # pragma: no cover - overridden
        pass

    def wait_for_settle(self, timeout: float = 2.0) -> bool:
        """Poll until two consecutive observations have the same fingerprint."""
        deadline = time.monotonic() + timeout
        last = self.observe().fingerprint()
        while time.monotonic() < deadline:
            time.sleep(self.settle_interval)
            now = self.observe().fingerprint()
            if now == last:
                return True
            last = now
        return False
