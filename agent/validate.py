"""Check a decided action against the observation before anything is executed."""
from __future__ import annotations

from typing import Any, Optional

from pydantic import ValidationError

from controllers.actions import parse_action
from controllers.coords import TargetError, resolve_target
from controllers.elements import Observation


def _targets(action: Any) -> list[Any]:
    t = action.type
    if t in ("click", "long_press"):
        return [action.target]
    if t in ("drag", "swipe"):
        return [action.start, action.end]
    if t in ("scroll", "type"):
        return [action.target] if action.target is not None else []
    return []


def validate(action: Any, obs: Observation) -> tuple[Optional[Any], Optional[str]]:
    """(the re-validated action, None) or (None, why it must not run).

    The action is re-parsed from its dump so an object built without validation
    (``model_construct``) or a raw dict cannot slip past the schema; then every
    target must name an element of this observation, match a selector, or be a
    point on the screen.
    """
    try:
        data = action if isinstance(action, (dict, str)) else action.model_dump(mode="json")
        checked = parse_action(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ()))
        return None, f"schema violation at {where or 'action'}: {err['msg']}"
    except (AttributeError, TypeError, ValueError) as exc:
        return None, f"not an action: {exc}"
    for target in _targets(checked):
        try:
            resolve_target(target, obs)
        except TargetError as exc:
            return None, str(exc)
    return checked, None
