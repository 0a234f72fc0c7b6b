"""A recording (``handa run``) as a suite: every executed action becomes a step, elements become selectors."""
from __future__ import annotations

import re
from typing import Any, Optional

import yaml

from agent.recording import Recording
from controllers.actions import Selector
from controllers.elements import Observation, ScreenFrame, UIElement
from controllers.selectors import find_all


def _observation(rec: Recording, step: Any) -> Optional[Observation]:
    try:
        elements = rec.tree(step)
    except Exception:  # an unreadable tree: fall back to the action's pixels
        return None
    if not elements:
        return None
    screen = rec.manifest.screen or ScreenFrame(width=max(1, step.observation.width or 1),
                                                height=max(1, step.observation.height or 1))
    return Observation(platform=rec.manifest.platform if rec.manifest.platform in ("sim", "desktop", "android")
                       else "sim", screen=screen, elements=elements, app=step.observation.app)


def _nth(obs: Observation, sel: Selector, el: UIElement) -> Optional[int]:
    matches = find_all(obs, sel)
    ids = [m.id for m in matches]
    return ids.index(el.id) if el.id in ids else None


def selector_for(obs: Observation, el: UIElement) -> Any:
    """The shortest selector that finds ``el`` again: a short id, a text, a description, a role — with nth when
    several elements match. A plain string means text."""
    rid = el.attrs.get("resource-id", "")
    if rid:
        short = rid.split(":id/", 1)[1] if ":id/" in rid else rid
        same_short = {e.attrs.get("resource-id") for e in obs.elements
                      if (e.attrs.get("resource-id") or "").endswith(f":id/{short}") or e.attrs.get("resource-id") == short}
        key = short if len(same_short) == 1 else rid
        n = _nth(obs, Selector(id=rid), el)
        if n == 0:
            return {"id": key}
        if n is not None and el.name.strip() == "":
            return {"id": key, "nth": n}
    for field, value in (("text", el.name.strip()), ("text", el.value.strip()),
                         ("description", el.description.strip())):
        if not value:
            continue
        n = _nth(obs, Selector(**{field: value}), el)
        if n is None:
            continue
        if n == 0:
            return value if field == "text" else {field: value}
        return {field: value, "nth": n}
    n = _nth(obs, Selector(role=el.role), el)
    return {"role": el.role.value, "nth": n or 0}


def _pct(x: float, y: float, screen: ScreenFrame) -> str:
    return f"{100 * x / screen.width:.1f}%, {100 * y / screen.height:.1f}%"


def _target(rec: Recording, step: Any, target: Optional[dict], point_index: int = 0) -> Any:
    """A selector (dict or text) for an action target, or a point {"point": ...}; None when unresolvable."""
    if target is None:
        return None
    kind = target.get("kind")
    if kind == "selector":
        sel = dict(target.get("selector") or {})
        if "text_regex" in sel:
            sel["regex"] = sel.pop("text_regex")
        if "index" in sel:
            sel["nth"] = sel.pop("index")
        if not sel.get("nth"):
            sel.pop("nth", None)
        return sel
    if kind == "element":
        obs = _observation(rec, step)
        el = obs.element(int(target["id"])) if obs is not None else None
        if el is not None:
            return selector_for(obs, el)
    if kind == "point":
        return {"point": f"{100 * target['x']:.1f}%, {100 * target['y']:.1f}%"}
    points = step.result.points if step.result is not None else []
    screen = rec.manifest.screen
    if len(points) > point_index and screen is not None:
        p = points[point_index]
        return {"point": _pct(p.x, p.y, screen)}
    return None


def _as_tap(sel: Any, **extra: Any) -> Any:
    if isinstance(sel, str) and not extra:
        return sel
    data = {"text": sel} if isinstance(sel, str) else dict(sel)
    data.update(extra)
    return data


def _into(sel: Any) -> Any:
    return sel if not (isinstance(sel, dict) and "point" in sel) else None


def _same_element(before: UIElement, after: Observation) -> Optional[UIElement]:
    """The element of the next screen that is ``before`` again: same platform id (unique), else role and name."""
    rid = before.attrs.get("resource-id")
    if rid:
        hits = [e for e in after.elements if e.attrs.get("resource-id") == rid]
        if len(hits) == 1:
            return hits[0]
    hits = [e for e in after.elements if e.role == before.role and e.name == before.name and before.name]
    return hits[0] if len(hits) == 1 else None


def _checks_after(rec: Recording, step: Any, after_step: Any, a: dict) -> list[Any]:
    """Asserts that the recording itself proves: what the next recorded screen shows of the element acted on.

    A switch or box the step flipped is asserted checked/unchecked; a field typed into (not a secret) is
    asserted to hold the typed text. Nothing is asserted that the recording does not show.
    """
    target = a.get("target") or {}
    if target.get("kind") != "element" or after_step is None:
        return []
    before_obs, after_obs = _observation(rec, step), _observation(rec, after_step)
    if before_obs is None or after_obs is None:
        return []
    before = before_obs.element(int(target["id"]))
    after = _same_element(before, after_obs) if before is not None else None
    if after is None:
        return []
    if a.get("type") in ("click", "long_press") and before.states.checked is not None \
            and after.states.checked is not None and after.states.checked != before.states.checked:
        return [{"assert": {"checked" if after.states.checked else "unchecked": selector_for(after_obs, after)}}]
    if a.get("type") == "type" and not a.get("secret") and not after.states.password:
        text = a.get("text", "").strip()
        if text and after.value.strip() == text:
            return [{"assert": {"text_equals": {"of": selector_for(after_obs, after), "text": text}}}]
    return []


def recording_to_suite(rec: Recording, name: Optional[str] = None) -> tuple[dict, list[str]]:
    """(suite data, notes about steps that could not be carried over)."""
    m = rec.manifest
    notes: list[str] = []
    steps: list[Any] = []
    secrets: list[str] = []
    task_secret_names = set(m.secret_names) if m.task and m.task.id else set()
    later = {id(s): (rec.steps[i + 1] if i + 1 < len(rec.steps) else None) for i, s in enumerate(rec.steps)}
    for step in rec.steps:
        a = step.action
        if not a or step.validation_error or step.result is None:
            continue
        if not step.result.ok:
            notes.append(f"step {step.index + 1}: {a.get('type')} failed when recorded ({step.result.error}); left out")
            continue
        t = a.get("type")
        if t == "open_app":
            steps.append({"launch": a["app"]})
        elif t in ("click", "long_press"):
            sel = _target(rec, step, a.get("target"))
            if sel is None:
                notes.append(f"step {step.index + 1}: no element or point to {t}; left out")
                continue
            if t == "click" and a.get("button", "left") != "left":
                notes.append(f"step {step.index + 1}: a {a['button']} click has no step; left out")
                continue
            count = a.get("count", 1)
            steps.append({"tap": _as_tap(sel, count=count) if count > 1 else _as_tap(sel)} if t == "click"
                         else {"long_press": _as_tap(sel)})
        elif t == "type":
            spec: dict[str, Any] = {}
            if a.get("secret"):
                ref = step.secret_ref or ""
                if ref in task_secret_names:
                    spec["secret"] = f"${{task.{ref}}}"
                else:
                    var = f"SECRET_{len(secrets) + 1}"
                    secrets.append(var)
                    spec["secret"] = f"${{{var}}}"
            else:
                spec["text"] = a.get("text", "")
            into = _into(_target(rec, step, a.get("target")))
            if into is not None:
                spec["into"] = into
            for flag in ("clear", "submit"):
                if a.get(flag):
                    spec[flag] = True
            steps.append({"type": spec["text"] if list(spec) == ["text"] else spec})
        elif t == "scroll":
            spec = {"direction": a.get("direction", "down")}
            if a.get("amount", 0.5) != 0.5:
                spec["amount"] = a["amount"]
            on = _into(_target(rec, step, a.get("target")))
            if on is not None:
                spec["on"] = on
            steps.append({"scroll": spec["direction"] if list(spec) == ["direction"] else spec})
        elif t in ("swipe", "drag"):
            points = step.result.points
            screen = m.screen
            if len(points) < 2 or screen is None:
                notes.append(f"step {step.index + 1}: a {t} without resolved points; left out")
                continue
            steps.append({"swipe": {"start": _pct(points[0].x, points[0].y, screen),
                                    "end": _pct(points[1].x, points[1].y, screen)}})
        elif t == "key":
            keys = a.get("keys", [])
            steps.append({"key": keys[0] if len(keys) == 1 else keys})
        elif t == "system":
            button = a.get("button")
            steps.append(button if button in ("back", "home", "recents") else {"key": "enter"})
        elif t == "wait":
            if a.get("until"):
                sel = _target(rec, step, {"kind": "selector", "selector": a["until"]})
                steps.append({"wait_until": {"visible": sel, "timeout": a.get("timeout", 10.0)}})
            else:
                steps.append({"wait": a.get("seconds", 1)})
        if t in ("click", "long_press", "type"):
            steps.extend(_checks_after(rec, step, later[id(step)], a))
    final = _observation(rec, rec.steps[-1]) if rec.steps else None
    if final is not None and final.app and m.platform in ("sim", "android") and steps:
        steps.append({"assert": {"app": final.app}})  # where the recording ended
    header: dict[str, Any] = {"name": name or f"Recorded: {m.goal}"[:200],
                              "description": f"from recording {m.session} ({m.policy})",
                              "platform": m.platform if m.platform in ("sim", "desktop", "android") else "sim"}
    if m.task is not None:
        if m.task.id and not m.task.id.startswith("web."):
            header["task"] = m.task.id
        header["seed"] = m.task.seed
        header["form"] = m.task.form
        if m.task.split != "all":
            header["split"] = m.task.split
    if secrets:
        header["secrets"] = secrets
    header["tags"] = ["recorded"]
    header["steps"] = steps or ["home"]
    return header, notes


def recording_to_yaml(rec: Recording, name: Optional[str] = None) -> str:
    data, notes = recording_to_suite(rec, name)
    head = ["# A suite made by `handa suite from-recording`; its asserts are what the recording showed after a step."]
    if data.get("secrets"):
        head.append("# Secrets typed in the recording are masked there: set " + ", ".join(data["secrets"])
                    + " in the environment or with --env NAME=VALUE.")
    head.extend(f"# note: {n}" for n in notes)
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=None, width=110)
    # `- {launch: x}` reads better as `- launch: x` (same YAML) when the value is one plain scalar
    body = re.sub(r"^- \{(\w+): ([^{}\[\],]+)\}$", r"- \1: \2", body, flags=re.MULTILINE)
    return "\n".join(head) + "\n" + body
