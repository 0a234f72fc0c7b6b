"""``handa replay``: re-execute a sim recording, exactly or robustly, and report how it went.

Two modes:

- ``exact`` (the default): every recorded action runs as recorded (the same element ids and points) on the
  rebuilt device; every screen and the final state are compared with the recording's.
- ``robust``: every recorded element target is found again on the live screen by its *signature* (role,
  normalized label, platform id, description, hint, its parent's and nearest labelled neighbours' texts, its
  index among equal elements, its place on the screen) instead of its id, the action is rewritten to the live
  element and run, and the screen is let settle. A target that cannot be found (or a screen unlike the
  recorded one, or an action that had no effect where the recorded one had) is a *divergence*: the replay
  stops with a report naming the step, the recorded element and the best live candidates; with ``repair``
  the step is handed to a policy instead, whose action is run and marked ``repaired``, and the replay goes
  on against the new screen. Success is the task's own success check on the final app state.
"""
from __future__ import annotations

import json
import math
import os
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Literal, Optional

from pydantic import BaseModel, Field, ValidationError

from agent.recording import Masker, Recording, RecordingError, StepRecord
from controllers.actions import ElementTarget, Frame, Scroll, describe, parse_action
from controllers.coords import TargetError, pixels_to_point
from controllers.elements import Observation, UIElement
from controllers.policy import HistoryEntry
from controllers.selectors import find
from controllers.sim.controller import SimController
from controllers.sim.device import SimDevice

MODES = ("exact", "robust")
REPAIR_POLICIES = ("inhouse", "expert")
MATCH_MIN = 0.45  # a live element scoring below this is not the recorded one
SCREEN_MIN = 0.4  # a live screen less similar than this to the recorded one is another screen
SEEK_SCROLLS = 4  # how far robust replay scrolls (each way) to bring a recorded target into view
MAX_REPAIRS = 12  # policy actions per replay before giving up


class ReplaySetupError(ValueError):
    """A replay asked for something impossible: an unknown mode or repair policy, repair without robust mode."""


# ---------------------------------------------------------------- the report


class Candidate(BaseModel):
    """A live element considered for a recorded one."""

    id: int
    role: str
    label: str = ""
    resource_id: str = ""
    score: float


class TargetMatch(BaseModel):
    """How one target of a recorded action was found again (robust mode)."""

    slot: str = "target"  # target | start | end
    kind: str  # element | point | selector
    recorded: str = ""  # "button 'Add' (com.app:id/add)"; for a point, the element under it
    found: bool
    score: Optional[float] = None
    live_id: Optional[int] = None
    live: str = ""
    candidates: list[Candidate] = Field(default_factory=list)
    note: str = ""


class StepMatch(BaseModel):
    index: int
    screen_matches: bool  # the live screen is the recorded one, exactly (same tree and geometry)
    ok: bool
    error: Optional[str] = None
    status: str = ""  # exact: same | differs | terminal; robust: matched | repaired | diverged | terminal | skipped
    action: str = ""  # what ran (secrets masked)
    screen_similarity: Optional[float] = None  # robust: 0..1, how alike the live and recorded screens are
    targets: list[TargetMatch] = Field(default_factory=list)
    seek_scrolls: int = 0  # robust: scrolls made to bring the target into view
    repaired: bool = False
    note: str = ""


class Divergence(BaseModel):
    """Where and why a robust replay could not follow the recording."""

    step: int  # the recorded step's index (0-based; reports print it 1-based)
    reason: Literal["target_not_found", "screen_differs", "no_effect", "action_failed", "no_tree"]
    message: str
    recorded: str = ""
    candidates: list[Candidate] = Field(default_factory=list)


class ReplayReport(BaseModel):
    recording: str
    mode: str = "exact"
    executed: int
    steps: list[StepMatch] = Field(default_factory=list)
    diverged_at: Optional[int] = None
    final_state_matches: bool
    success: Optional[bool] = None
    recorded_success: Optional[bool] = None
    message: str = ""
    ok: bool = False  # what the exit status says: exact, the final state matches; robust, the task succeeded
    divergence: Optional[Divergence] = None
    repaired: int = 0
    repair_policy: Optional[str] = None
    seed: Optional[int] = None
    look_seed: Optional[int] = None
    split: Optional[str] = None
    warnings: list[str] = Field(default_factory=list)


# ---------------------------------------------------------------- shared


def _secret(rec: Recording, name: str, params: dict[str, Any]) -> str:
    env = os.environ.get(f"HANDA_SECRET_{name.upper()}")
    if env is not None:
        return env
    if name in params:
        return str(params[name])
    raise RecordingError(f"step types the masked secret {name!r}; set HANDA_SECRET_{name.upper()} to replay it")


def _recorded_action(rec: Recording, step: StepRecord, params: dict[str, Any]) -> Any:
    data = dict(step.action)
    if step.secret_ref:
        data["text"] = _secret(rec, step.secret_ref, params)
    try:
        return parse_action(data)
    except ValidationError as exc:
        raise RecordingError(f"step {step.index}: recorded action is invalid ({exc.errors()[0]['msg']})") from exc


def _rebuild(rec: Recording, seed: Optional[int], split: Optional[str], look_seed: Optional[int]):
    """(instance or None, device, params, warnings) for the recording's task, with the overrides applied."""
    m = rec.manifest
    if m.platform != "sim" or m.task is None:
        raise RecordingError("only sim recordings can be replayed with `handa replay` (no device description found)")
    seed = m.task.seed if seed is None else seed
    split = m.task.split if split is None else split
    warnings: list[str] = []
    if not m.task.id:
        return None, SimDevice(form=m.task.form, seed=seed, split=split, scale=m.task.scale,
                               look_seed=look_seed), {}, warnings
    from tasks.base import make_instance

    try:
        instance = make_instance(m.task.id, seed, m.task.form, split, m.task.scale, look_seed=look_seed)
    except (KeyError, ValueError) as exc:
        raise RecordingError(f"cannot rebuild the recorded task: {exc.args[0] if exc.args else exc}") from exc
    if m.task.params:
        hidden = set(instance.template.secret_params)
        rebuilt = json.loads(json.dumps(instance.params, default=str))  # as the manifest holds them
        differ = sorted(k for k in set(m.task.params) | set(rebuilt)
                        if k not in hidden and m.task.params.get(k) != rebuilt.get(k))
        if differ:
            warnings.append(f"the rebuilt task's parameters differ from the recording's ({', '.join(differ)}): "
                            "the recorded actions may not fit this instance")
    return instance, instance.device, instance.params, warnings


def replay(rec: Recording, mode: str = "exact", *, seed: Optional[int] = None, split: Optional[str] = None,
           look_seed: Optional[int] = None, repair: bool = False, policy: Any = "inhouse",
           max_repairs: int = MAX_REPAIRS) -> ReplayReport:
    """Rebuild the sim device the recording ran on and play its actions again.

    ``seed``/``split`` rebuild the task from another seed or split (a new seed also draws new task data);
    ``look_seed`` keeps the instance and changes only its looks (theme, labels, layout, screen size).
    ``repair`` (robust mode) hands diverging steps to ``policy``: ``inhouse``, ``expert`` or a policy object.
    """
    if mode not in MODES:
        raise ReplaySetupError(f"unknown replay mode {mode!r}: use {' or '.join(MODES)}")
    if repair and mode != "robust":
        raise ReplaySetupError("--repair needs --mode robust")
    instance, device, params, warnings = _rebuild(rec, seed, split, look_seed)
    overrides = {"seed": seed, "look_seed": look_seed, "split": split}
    if mode == "exact":
        report = _replay_exact(rec, instance, device, params)
    else:
        m = rec.manifest.task
        relooked = (device.look_seed, device.split.value) != (m.seed, m.split)
        report = _Robust(rec, instance, device, params, repair, policy, max_repairs, relooked).run()
    report.warnings = warnings + report.warnings
    for k, v in overrides.items():
        setattr(report, k, v)
    if instance is not None and instance.secrets:  # whatever a policy typed, no task secret leaves in clear
        report = ReplayReport.model_validate(Masker(instance.secrets)(report.model_dump()))
    return report


# ---------------------------------------------------------------- exact


def _screen_difference(step: StepRecord, obs: Observation) -> str:
    o = step.observation
    parts = []
    if o.width and o.height and (o.width, o.height) != (obs.screen.width, obs.screen.height):
        parts.append(f"screen {o.width}x{o.height} recorded, {obs.screen.width}x{obs.screen.height} now")
    if o.app and o.app != obs.app:
        parts.append(f"app {o.app} recorded, {obs.app} now")
    elif o.window != obs.window:
        parts.append(f"window {o.window!r} recorded, {obs.window!r} now")
    if o.elements and o.elements != len(obs.elements):
        parts.append(f"{o.elements} elements recorded, {len(obs.elements)} now")
    return "; ".join(parts) or "the elements' text, state or geometry differ"


def _replay_exact(rec: Recording, instance: Any, device: SimDevice, params: dict[str, Any]) -> ReplayReport:
    m = rec.manifest
    ctl = SimController(device)
    report_steps: list[StepMatch] = []
    diverged = None
    detail = ""
    executed = 0
    answer = None
    last_after = None
    for step in rec.steps:
        obs = ctl.observe()
        same = obs.fingerprint() == step.observation.fingerprint
        if not same and diverged is None:
            diverged = step.index
            detail = _screen_difference(step, obs)
        if step.validation_error or not step.action:
            continue
        action = _recorded_action(rec, step, params)
        if action.type in ("done", "answer"):
            answer = action.text if action.type == "answer" else None
            report_steps.append(StepMatch(index=step.index, screen_matches=same, ok=True, status="terminal",
                                          action=describe(action)))
            break
        result = ctl.execute(action)
        executed += 1
        last_after = step.after_fingerprint
        report_steps.append(StepMatch(index=step.index, screen_matches=same, ok=result.ok, error=result.error,
                                      status="same" if same else "differs", action=describe(action)))
    final = ctl.observe().fingerprint()
    recorded_final = last_after or (rec.steps[-1].observation.fingerprint if rec.steps else None)
    try:
        success = instance.is_successful(answer) if instance is not None else None
    except Exception as exc:
        raise RecordingError(f"the task's success check failed on the recorded answer: {exc}") from exc
    recorded = m.outcome.success if m.outcome else None
    recorded_state = m.outcome.final_state if m.outcome else None
    state_same = recorded_state is None or recorded_state == ctl.state_digest()
    matches = (diverged is None and final == recorded_final and state_same
               and (instance is None or success == recorded))
    if matches:
        msg = "every screen and the final state match the recording"
    elif diverged is not None:
        msg = f"diverged at step {diverged + 1}: the screen differs from the recording ({detail})"
    elif not state_same:
        msg = "the screens match but the final app state differs from the recording"
    else:
        msg = "the final state differs from the recording"
    return ReplayReport(recording=str(rec.path), mode="exact", executed=executed, steps=report_steps,
                        diverged_at=diverged, final_state_matches=matches, success=success,
                        recorded_success=recorded, message=msg, ok=matches)


# ---------------------------------------------------------------- signatures


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text or "").casefold().split())


def _words(text: str) -> set[str]:
    return {w for w in "".join(c if c.isalnum() else " " for c in text).split() if w}


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def _brief(e: UIElement) -> str:
    label = e.name or e.description or e.hint
    rid = e.attrs.get("resource-id", "")
    return f"{e.role.value} {label!r}" + (f" ({rid})" if rid else "")


@dataclass
class Signature:
    """What identifies an element across looks, layouts and screen sizes (never its id or sim-only keys)."""

    role: str
    name: str
    description: str
    hint: str
    rid: str
    app: str
    parent: str
    neighbours: frozenset
    index: int
    center: tuple[float, float]  # normalized to the screen

    @property
    def key(self) -> tuple[str, str]:
        """What equal elements share: the role and the platform id, else the role and the name."""
        return (self.role, self.rid or "\0" + self.name)


@dataclass
class Screen:
    """One observation's elements (recorded or live) with lazily computed signatures."""

    elements: list[UIElement]
    width: int
    height: int
    app: str = ""
    _index: dict[int, UIElement] = field(default_factory=dict)
    _sigs: dict[int, Signature] = field(default_factory=dict)
    _equal: dict[tuple, list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._index = {e.id: e for e in self.elements}
        self.width, self.height = max(1, self.width), max(1, self.height)

    @classmethod
    def live(cls, obs: Observation) -> "Screen":
        return cls(list(obs.elements), obs.screen.width, obs.screen.height, obs.app)

    def get(self, eid: int) -> Optional[UIElement]:
        return self._index.get(eid)

    def label(self, e: UIElement) -> str:
        return _norm(e.name or e.description or e.hint)

    def keys(self) -> dict[tuple, int]:
        """A multiset of what the screen shows: platform ids where there are, else role and label."""
        out: dict[tuple, int] = {}
        for e in self.elements:
            rid = e.attrs.get("resource-id", "")
            k = ("id", rid) if rid else (("label", e.role.value, self.label(e)) if self.label(e) else None)
            if k is not None:
                out[k] = out.get(k, 0) + 1
        return out

    def _ancestors(self, e: UIElement):
        seen, parent = 0, e.parent
        while parent is not None and seen < 64:
            p = self._index.get(parent)
            if p is None:
                return
            yield p
            parent, seen = p.parent, seen + 1

    def _center(self, e: UIElement) -> tuple[float, float]:
        cx, cy = e.bounds.center
        return (cx / self.width, cy / self.height)

    def _neighbours(self, e: UIElement) -> frozenset:
        """Labels of the nearest labelled siblings and children, then of the nearest labelled elements."""
        own = self.label(e)
        cx, cy = self._center(e)
        close = [c for c in self.elements if c.id != e.id and (c.parent == e.parent or c.parent == e.id)
                 and self.label(c) and self.label(c) != own]

        def dist(c: UIElement) -> float:
            x, y = self._center(c)
            return math.hypot(x - cx, y - cy)

        picked = sorted(close, key=dist)[:4]
        if len(picked) < 2:
            skip = {a.id for a in self._ancestors(e)} | {c.id for c in picked} | {e.id}
            rest = [c for c in self.elements if c.id not in skip and self.label(c) and self.label(c) != own
                    and c.app == e.app]
            picked += sorted(rest, key=dist)[:4 - len(picked)]
        return frozenset(self.label(c) for c in picked)

    def signature(self, e: UIElement) -> Signature:
        sig = self._sigs.get(e.id)
        if sig is not None:
            return sig
        parent = ""
        for a in self._ancestors(e):
            parent = a.attrs.get("resource-id", "") or self.label(a)
            if parent:
                break
        rid = e.attrs.get("resource-id", "")

        def key(x: UIElement) -> tuple[str, str]:
            return (x.role.value, x.attrs.get("resource-id", "") or "\0" + _norm(x.name))

        if not self._equal:
            groups: dict[tuple, list[UIElement]] = {}
            for x in self.elements:
                groups.setdefault(key(x), []).append(x)
            self._equal = {k: [x.id for x in sorted(v, key=lambda x: (x.bounds.top, x.bounds.left, x.id))]
                           for k, v in groups.items()}
        sig = Signature(role=e.role.value, name=_norm(e.name), description=_norm(e.description), hint=_norm(e.hint),
                        rid=rid, app=e.app, parent=parent, neighbours=self._neighbours(e),
                        index=self._equal.get(key(e), [e.id]).index(e.id), center=self._center(e))
        self._sigs[e.id] = sig
        return sig

    def element_at(self, x: float, y: float) -> Optional[UIElement]:
        """The element a recorded pixel landed on: the smallest interactive one holding it, else the smallest."""
        holding = [e for e in self.elements if e.bounds.contains(x, y)]
        if not holding:
            return None
        active = [e for e in holding if e.states.clickable or e.states.editable or e.states.scrollable]
        return min(active or holding, key=lambda e: (e.bounds.area, -e.id))


def _multiset_jaccard(a: dict, b: dict) -> float:
    inter = sum(min(n, b.get(k, 0)) for k, n in a.items())
    union = sum(a.values()) + sum(b.values()) - inter
    return inter / union if union else 1.0


def similarity(recorded: Screen, live: Screen) -> float:
    """0..1: how alike two screens are: what they show (platform ids, else role and label) counts 0.6, the
    roles of their elements 0.2 and being the same app 0.2."""
    shown = _multiset_jaccard(recorded.keys(), live.keys())
    roles: list[dict] = []
    for screen in (recorded, live):
        counts: dict[str, int] = {}
        for e in screen.elements:
            counts[e.role.value] = counts.get(e.role.value, 0) + 1
        roles.append(counts)
    same_app = 1.0 if (recorded.app or "") == (live.app or "") else 0.0
    return round(0.6 * shown + 0.2 * _multiset_jaccard(*roles) + 0.2 * same_app, 3)


def score(r: Signature, live: Signature) -> float:
    """0..1: how well a live element's signature fits a recorded one."""
    total, most = 0.0, 0.0
    if r.rid:
        most += 6
        total += 6 if live.rid == r.rid else 0
    if r.name:
        most += 3
        if live.name == r.name:
            total += 3
        elif live.name:
            total += 2 * _jaccard(_words(r.name), _words(live.name))
    for mine, theirs in ((r.description, live.description), (r.hint, live.hint)):
        if mine:
            most += 1
            total += 1 if mine == theirs else 0
    if r.neighbours:
        most += 2
        total += 2 * _jaccard(set(r.neighbours), set(live.neighbours))
    if r.parent:
        most += 1
        total += 1 if live.parent == r.parent else 0
    most += 1
    total += 1 if live.app == r.app else 0
    most += 0.5
    total += 0.5 if live.key == r.key and live.index == r.index else 0
    most += 1
    total += max(0.0, 1 - math.hypot(live.center[0] - r.center[0], live.center[1] - r.center[1]) / 0.5)
    s = total / most
    if live.role != r.role:
        s *= 0.5
    if r.rid and live.rid and live.rid != r.rid:
        s *= 0.6
    return round(s, 3)


def rank(recorded: Screen, element: UIElement, live: Screen, top: int = 3) -> list[Candidate]:
    """The live elements most like a recorded one, best first."""
    sig = recorded.signature(element)
    scored = [(score(sig, live.signature(e)), e) for e in live.elements]
    scored.sort(key=lambda t: (-t[0], t[1].id))
    return [Candidate(id=e.id, role=e.role.value, label=e.name or e.description or e.hint,
                      resource_id=e.attrs.get("resource-id", ""), score=s) for s, e in scored[:top]]


# ---------------------------------------------------------------- robust


class _Diverged(Exception):
    def __init__(self, divergence: Divergence, targets: list[TargetMatch]):
        super().__init__(divergence.message)
        self.divergence, self.targets = divergence, targets
        self.step_match: Optional[StepMatch] = None


class _SeekFailed(Exception):
    def __init__(self, scrolls: int):
        super().__init__(f"not found after {scrolls} scrolls")
        self.scrolls = scrolls


def _slots(action: Any) -> list[str]:
    t = action.type
    if t in ("click", "long_press"):
        return ["target"]
    if t in ("drag", "swipe"):
        return ["start", "end"]
    if t in ("scroll", "type") and action.target is not None:
        return ["target"]
    return []


class _Robust:
    """One robust replay: re-find each recorded target by its signature, act, settle; repair or stop."""

    def __init__(self, rec: Recording, instance: Any, device: SimDevice, params: dict[str, Any], repair: bool,
                 policy: Any, max_repairs: int, relooked: bool = False):
        self.rec, self.instance, self.params, self.relooked = rec, instance, params, relooked
        self.repair, self.max_repairs = repair, max_repairs
        self.policy_name: Optional[str] = None
        self.policy = None
        if repair:
            self.policy_name = policy if isinstance(policy, str) else getattr(policy, "name", type(policy).__name__)
            if isinstance(policy, str):
                if policy not in REPAIR_POLICIES:
                    raise ReplaySetupError(f"unknown repair policy {policy!r}: use {' or '.join(REPAIR_POLICIES)}")
                from agent.policies import make_policy

                if policy == "expert" and instance is None:
                    raise ReplaySetupError("the expert repairs only recordings of a sim task (this one has none)")
                try:
                    self.policy = make_policy(policy, instance=instance)
                except (ValueError, OSError) as exc:
                    raise ReplaySetupError(f"cannot build the repair policy {policy!r}: {exc}") from exc
            else:
                self.policy = policy
        # only the sim's experts may read the sim-only keys; matching never uses them
        expert = self.policy is not None and str(self.policy_name).startswith("expert")
        self.ctl = SimController(device, expose_keys=expert)
        self.history: list[HistoryEntry] = []
        self.steps: list[StepMatch] = []
        self.executed = 0
        self.repairs = 0
        self.warnings: list[str] = []
        self._trees: dict[int, Screen] = {}

    # ------------------------------------------------------------ helpers
    def observe(self) -> Observation:
        """The live screen once it holds still (two equal observations in a row, bounded)."""
        self.ctl.wait_for_settle()
        obs = self.ctl.observe()
        for _ in range(3):
            again = self.ctl.observe()
            if again.fingerprint() == obs.fingerprint():
                return again
            obs = again
        return obs

    def recorded_screen(self, step: StepRecord) -> Optional[Screen]:
        if step.index not in self._trees:
            tree = self.rec.tree(step)
            o = step.observation
            self._trees[step.index] = Screen(tree, o.width, o.height, o.app) if tree else None
        return self._trees[step.index]

    def run_action(self, action: Any) -> Any:
        result = self.ctl.execute(action)
        self.executed += 1
        self.history.append(HistoryEntry(step=len(self.history), action=action, ok=result.ok, error=result.error))
        return result

    # ------------------------------------------------------------ matching
    def _find(self, recorded: Screen, element: UIElement, live: Screen) -> tuple[Optional[UIElement], list[Candidate]]:
        cands = rank(recorded, element, live)
        if cands and cands[0].score >= MATCH_MIN:
            return live.get(cands[0].id), cands
        return None, cands

    def _map_target(self, slot: str, target: Any, point_index: int, step: StepRecord, recorded: Screen,
                    obs: Observation, live: Screen) -> tuple[Optional[Any], TargetMatch]:
        if target.kind == "selector":
            e = find(obs, target.selector)
            return (target if e is not None else None), TargetMatch(
                slot=slot, kind="selector", found=e is not None, live_id=e.id if e else None,
                live=_brief(e) if e else "", note="selectors are matched as recorded")
        if target.kind == "element":
            el = recorded.get(target.id)
            if el is None:
                return None, TargetMatch(slot=slot, kind="element", recorded=f"#{target.id}", found=False,
                                         note="the recorded tree has no such element")
            hit, cands = self._find(recorded, el, live)
            tm = TargetMatch(slot=slot, kind="element", recorded=_brief(el), found=hit is not None,
                             score=cands[0].score if cands else None, live_id=hit.id if hit else None,
                             live=_brief(hit) if hit else "", candidates=cands, note=_ambiguity(cands))
            return (ElementTarget(id=hit.id) if hit else None), tm
        # a point: through the element under the recorded pixel, when there was one
        pts = step.result.points if step.result else []
        if point_index < len(pts):
            px, py = pts[point_index].x, pts[point_index].y
        else:
            px, py = target.x * max(1, recorded.width - 1), target.y * max(1, recorded.height - 1)
        el = recorded.element_at(px, py)
        if el is None:
            return target, TargetMatch(slot=slot, kind="point", found=True, note="no element under the point: "
                                       "kept the normalized point")
        hit, cands = self._find(recorded, el, live)
        tm = TargetMatch(slot=slot, kind="point", recorded=_brief(el), found=hit is not None,
                         score=cands[0].score if cands else None, live_id=hit.id if hit else None,
                         live=_brief(hit) if hit else "", candidates=cands,
                         note=_ambiguity(cands) or "mapped through the element under the recorded point")
        if hit is None:
            return None, tm
        b, lb = el.bounds, hit.bounds
        fx = (px - b.left) / max(1, b.width)
        fy = (py - b.top) / max(1, b.height)
        x = min(lb.right - 1, max(lb.left, lb.left + fx * lb.width))
        y = min(lb.bottom - 1, max(lb.top, lb.top + fy * lb.height))
        frame = target.frame if (target.frame == Frame.screen or obs.window_bounds is not None) else Frame.screen
        try:
            return pixels_to_point(x, y, obs, frame), tm
        except TargetError:
            return pixels_to_point(x, y, obs, Frame.screen), tm

    def remap(self, action: Any, step: StepRecord, recorded: Optional[Screen], obs: Observation,
              live: Screen) -> tuple[Any, list[TargetMatch]]:
        """The recorded action with its targets rewritten to live ones; raises ``_Diverged``."""
        slots = _slots(action)
        if not slots:
            return action, []
        if recorded is None:
            raise _Diverged(Divergence(step=step.index, reason="no_tree", message=(
                f"step {step.index + 1}: the recording holds no element tree to find its target by")), [])
        data = action.model_dump(mode="json")
        matches: list[TargetMatch] = []
        missing: Optional[TargetMatch] = None
        for i, slot in enumerate(slots):
            new, tm = self._map_target(slot, getattr(action, slot), i, step, recorded, obs, live)
            matches.append(tm)
            if new is None:
                missing = missing or tm
            else:
                data[slot] = new.model_dump(mode="json")
        if missing is not None:
            raise _Diverged(Divergence(
                step=step.index, reason="target_not_found", recorded=missing.recorded,
                candidates=missing.candidates,
                message=(f"step {step.index + 1}: the recorded {missing.kind} target {missing.recorded or '?'} "
                         f"is not on the live screen (best: {_candidates_text(missing.candidates)})")), matches)
        return parse_action(data), matches

    def seek(self, action: Any, step: StepRecord, recorded: Screen,
             obs: Observation) -> tuple[Any, list[TargetMatch], int, Observation]:
        """Scroll to bring a recorded target that lay in scrolling content into view (down, then up; another
        screen size shows another part of a list); raises ``_SeekFailed`` with the content scrolled back."""
        el = next((recorded.get(getattr(action, slot).id) for slot in _slots(action)
                   if getattr(action, slot).kind == "element"), None)
        # the nearest of the element's recorded containers that scrolls on the live screen (content that fit
        # the recorded screen may overflow a smaller one)
        container, live = None, Screen.live(obs)
        for outer in (recorded._ancestors(el) if el is not None else ()):
            hit, _ = self._find(recorded, outer, live)
            if hit is not None and hit.states.scrollable:
                container = hit
                break
        if container is None:
            raise _SeekFailed(0)
        rid, bounds = container.attrs.get("resource-id", ""), container.bounds

        def scroller(o: Observation) -> Optional[UIElement]:
            return next((e for e in o.elements if e.states.scrollable
                         and ((rid and e.attrs.get("resource-id") == rid) or (not rid and e.bounds == bounds))), None)

        moves: list[str] = []
        before_count = self.executed
        for direction, limit in (("down", SEEK_SCROLLS), ("up", 2 * SEEK_SCROLLS)):
            for _ in range(limit):
                target = scroller(obs)
                if target is None:
                    break
                before = obs.fingerprint()
                self.run_action(Scroll(direction=direction, amount=0.5, target=ElementTarget(id=target.id)))
                obs = self.observe()
                if obs.fingerprint() == before:
                    break  # that end of the content
                moves.append(direction)
                try:
                    mapped, matches = self.remap(action, step, recorded, obs, Screen.live(obs))
                except _Diverged:
                    continue
                return mapped, matches, self.executed - before_count, obs
        scrolls = self.executed - before_count
        for direction in reversed(moves):  # put the content back where it was
            target = scroller(obs)
            if target is None:
                break
            self.run_action(Scroll(direction="up" if direction == "down" else "down", amount=0.5,
                                   target=ElementTarget(id=target.id)))
            obs = self.observe()
        raise _SeekFailed(scrolls)

    # ------------------------------------------------------------ the replay
    def attempt(self, step: StepRecord, action: Any) -> StepMatch:
        """Find the step's targets on the live screen, act and settle; raises ``_Diverged``."""
        obs = self.observe()
        recorded = self.recorded_screen(step)
        live = Screen.live(obs)
        sim = similarity(recorded, live) if recorded is not None else None
        same = obs.fingerprint() == step.observation.fingerprint
        seeks = 0
        matches: list[TargetMatch] = []
        try:
            if sim is not None and sim < SCREEN_MIN:
                raise _Diverged(Divergence(step=step.index, reason="screen_differs", message=(
                    f"step {step.index + 1}: the live screen is unlike the recorded one (similarity {sim:.2f}; "
                    f"{_screen_difference(step, obs)})")), [])
            if action.type in ("done", "answer"):
                return StepMatch(index=step.index, screen_matches=same, ok=True, status="terminal",
                                 action=describe(action), screen_similarity=sim)
            try:
                mapped, matches = self.remap(action, step, recorded, obs, live)
            except _Diverged as first:
                if first.divergence.reason != "target_not_found":
                    raise
                try:
                    mapped, matches, seeks, obs = self.seek(action, step, recorded, obs)
                except _SeekFailed as failed:
                    seeks = failed.scrolls
                    raise first from None
            result = self.run_action(mapped)
            after = self.observe()
            if not result.ok:
                raise _Diverged(Divergence(step=step.index, reason="action_failed", message=(
                    f"step {step.index + 1}: {describe(mapped)} failed on the live screen: {result.error}")), matches)
            recorded_changed = step.after_fingerprint not in (None, step.observation.fingerprint)
            if recorded_changed and action.type != "scroll" and after.fingerprint() == obs.fingerprint():
                raise _Diverged(Divergence(step=step.index, reason="no_effect", message=(
                    f"step {step.index + 1}: {describe(mapped)} changed nothing on the live screen, unlike the "
                    "recording (something may cover the target)")), matches)
        except _Diverged as d:
            d.step_match = StepMatch(index=step.index, screen_matches=same, ok=False, error=d.divergence.message,
                                     status="diverged", action=describe(action), screen_similarity=sim,
                                     targets=d.targets, seek_scrolls=seeks)
            raise
        return StepMatch(index=step.index, screen_matches=same, ok=True, status="matched", action=describe(mapped),
                         screen_similarity=sim, targets=matches, seek_scrolls=seeks)

    def run(self) -> ReplayReport:
        goal = self.rec.manifest.goal
        todo = [(s, _recorded_action(self.rec, s, self.params)) for s in self.rec.steps
                if not s.validation_error and s.action]
        i = 0
        answer: Optional[str] = None
        finished = False  # a terminal action (recorded or the repair policy's) ended the episode
        divergence: Optional[Divergence] = None
        after_repair = False
        while i < len(todo):
            step, action = todo[i]
            try:
                match = self.attempt(step, action)
            except _Diverged as d:
                if after_repair and i + 1 < len(todo):
                    # the repair may have done this step's job another way: does the next step fit the screen?
                    try:
                        match = self.attempt(*todo[i + 1])
                    except _Diverged:
                        pass
                    else:
                        self.steps.append(StepMatch(index=step.index, screen_matches=False, ok=True,
                                                    status="skipped", action=describe(action),
                                                    note="done by the repair (the next step fits the screen)"))
                        i += 1
                        step, action = todo[i]
                        d = None
                if d is not None:
                    self.steps.append(d.step_match)
                    if not self.repair or self.repairs >= self.max_repairs:
                        divergence = d.divergence
                        if self.repair:
                            divergence.message += f"; gave up after {self.repairs} repairs"
                        break
                    done_here, answer, same_job = self.repair_step(goal, step, d)
                    if done_here:
                        finished = True
                        break
                    # when the repair acted like the step on the element its target resembled most, it did the
                    # step's job: go on with the next; else try this step again against the new screen
                    i += 1 if same_job else 0
                    after_repair = not same_job
                    continue
            self.steps.append(match)
            after_repair = False
            i += 1
            if match.status == "terminal":
                answer = action.text if action.type == "answer" else None
                finished = True
                break
        return self.finish(answer, finished, divergence)

    def repair_step(self, goal: str, step: StepRecord, d: _Diverged) -> tuple[bool, Optional[str], bool]:
        """Let the policy act once for a diverging step: (episode ended, answer, the step's job was done)."""
        from agent.validate import validate

        if self.repairs == 0 and hasattr(self.policy, "reset"):
            self.policy.reset(goal)
        self.repairs += 1
        obs = self.observe()
        try:
            decision = self.policy.decide(goal, obs, list(self.history))
            action, error = (None, decision.error or "the policy produced no action")
            if decision.action is not None and decision.error is None:
                action, error = validate(decision.action, obs)
        except Exception as exc:  # a policy bug must not lose the report
            action, error = None, f"policy raised {type(exc).__name__}: {exc}"
        if error is not None:
            self.history.append(HistoryEntry(step=len(self.history), action=None, ok=False, error=error))
            self.steps.append(StepMatch(index=step.index, screen_matches=False, ok=False, status="repaired",
                                        repaired=True, error=f"repair refused: {error}"))
            return False, None, False
        if action.type in ("done", "answer"):
            self.steps.append(StepMatch(index=step.index, screen_matches=False, ok=True, status="repaired",
                                        repaired=True, action=describe(action)))
            return True, (action.text if action.type == "answer" else None), False
        result = self.run_action(action)
        self.steps.append(StepMatch(index=step.index, screen_matches=False, ok=result.ok, error=result.error,
                                    status="repaired", repaired=True, action=describe(action)))
        recorded = dict(step.action or {})
        targets = [t for t in d.targets if t.candidates]
        acted_on = getattr(result, "element_id", None)
        same_job = (result.ok and recorded.get("type") == action.type and targets
                    and acted_on is not None and acted_on == targets[0].candidates[0].id)
        return False, None, bool(same_job)

    def finish(self, answer: Optional[str], finished: bool, divergence: Optional[Divergence]) -> ReplayReport:
        m = self.rec.manifest
        try:
            success = self.instance.is_successful(answer) if self.instance is not None else None
        except Exception as exc:
            raise RecordingError(f"the task's success check failed on the replayed answer: {exc}") from exc
        recorded_state = m.outcome.final_state if m.outcome else None
        state_same = recorded_state is not None and recorded_state == self.ctl.state_digest()
        matched = sum(1 for s in self.steps if s.status == "matched")
        repaired = sum(1 for s in self.steps if s.repaired)
        if divergence is not None:
            ok = False
            msg = f"diverged at {divergence.message}" if not self.repair else f"repair failed: {divergence.message}"
        else:
            ok = bool(success) if self.instance is not None else finished
            what = ("the task succeeded" if success else "the task did NOT succeed") if success is not None else \
                ("the replay reached the recording's end" if finished else "the replay ran out of steps")
            state = "the final app state matches the recording's" if state_same else \
                "the final app state differs from the recording's" + (
                    " (expected on another look: apps keep scroll offsets and some labels in their state)"
                    if self.relooked else "")
            msg = f"{matched} steps matched" + (f", {repaired} repaired" if repaired else "") + f"; {what}; {state}"
        diverged_at = divergence.step if divergence is not None else next(
            (s.index for s in self.steps if s.status == "diverged"), None)
        return ReplayReport(recording=str(self.rec.path), mode="robust", executed=self.executed, steps=self.steps,
                            diverged_at=diverged_at, final_state_matches=state_same, success=success,
                            recorded_success=m.outcome.success if m.outcome else None, message=msg, ok=ok,
                            divergence=divergence, repaired=repaired, repair_policy=self.policy_name,
                            warnings=self.warnings)


def _ambiguity(cands: list[Candidate]) -> str:
    if len(cands) > 1 and cands[0].score >= MATCH_MIN and cands[0].score - cands[1].score < 0.02:
        return f"ambiguous: #{cands[1].id} scores almost as well ({cands[1].score:.2f})"
    return ""


def _candidates_text(cands: list[Candidate]) -> str:
    if not cands:
        return "no candidates"
    return ", ".join(f"#{c.id} {c.role} {c.label!r} {c.score:.2f}" for c in cands)
