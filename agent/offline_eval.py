"""Offline evaluation: feed recorded observations to a policy and score its actions against the recorded ones.

Teacher-forced, as AndroidControl and Android-in-the-Wild step metrics are: at every step the policy sees the
observation that was recorded (the stored element tree, the stored screenshot loaded only when the policy asks for
it) and the recorded history (``HistoryEntry`` per earlier step, as the loop builds it), never its own earlier
guesses. Steps whose decision was refused or invalid are not scored (counted as skipped).

Scoring of one step (recorded action R, predicted action P, both with secrets masked):

- **action type**: ``P.type == R.type`` (``click`` and ``long_press`` differ, so do ``done`` and ``answer``).
- **target**, when R has one: P names the same element, or P's pixel (a point, or the centre of the element it
  names) falls inside R's element box; R a point: P's pixel within ``TAP_DISTANCE`` (0.14) of it in
  screen-normalized coordinates (Android-in-the-Wild's tap threshold). Drags and swipes: both ends. A ``type``
  without a target means the focused field; a scroll with and without a target count as the same (the page vs
  its body). A point in the ``window`` frame resolves against the foreground window's box in the stored tree.
- **text**, when R is ``type`` or ``answer``: equality after normalization (NFC, casefold, whitespace collapsed),
  and a token F1 (SQuAD-style, over the normalized whitespace tokens).
- **fields**, when the types match: click button and count, scroll direction, key chord (order-insensitive),
  system button, ``open_app`` app (case-insensitive; a package matches its last dotted part), done status.
  Amounts, durations, ``clear``/``submit`` and wait times are not compared.
- **step success**: type, target (if any), text (if any) and fields all match, and P passes validation on the
  observation (a refused action does nothing).

Secrets: typed secrets are masked in recordings, so predictions are masked the same way before anything is
compared or reported (a ``type`` with ``secret: true``, and every known secret value: the task's own and any
``HANDA_SECRET_<NAME>``); secret text is never part of a result.
"""
from __future__ import annotations

import math
import os
import statistics
import time
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

from pydantic import BaseModel, Field, ValidationError

from agent.policies import POLICY_NAMES, make_policy
from agent.recording import Masker, Recording, RecordingError, StepRecord, load_recording
from agent.validate import validate
from controllers.actions import SECRET_MASK, ElementTarget, describe, describe_target, parse_action
from controllers.coords import TargetError, element_center, point_to_pixels, resolve_element
from controllers.elements import Observation, Platform, Rect, Role, ScreenFrame, UIElement
from controllers.policy import Decision, HistoryEntry

TAP_DISTANCE = 0.14  # Android-in-the-Wild's _TAP_DISTANCE_THRESHOLD: a fraction of the (normalized) screen
SIM_KEY = "sim-key"


class EvalError(ValueError):
    """A usage error: no such path, an unknown policy, a policy that cannot be built."""


# ---------------------------------------------------------------- text


def normalize_text(text: str) -> str:
    """NFC, casefolded, whitespace collapsed to single spaces and trimmed."""
    return " ".join(unicodedata.normalize("NFC", text or "").casefold().split())


def token_f1(predicted: str, reference: str) -> float:
    """SQuAD-style token F1 over normalized whitespace tokens (1.0 when both are empty)."""
    p, r = normalize_text(predicted).split(), normalize_text(reference).split()
    if not p and not r:
        return 1.0
    common = sum((Counter(p) & Counter(r)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(r)
    return 2 * precision * recall / (precision + recall)


def mask_action(action: Any, masker: Optional[Masker] = None) -> Any:
    """The action as a recording would store it: secret text masked, known secret values masked anywhere."""
    if action is None:
        return None
    updates: dict[str, Any] = {}
    text = getattr(action, "text", None)
    if isinstance(text, str):
        if action.type == "type" and action.secret:
            updates["text"] = SECRET_MASK
        elif masker is not None:
            updates["text"] = masker.text(text)
    if action.type == "done" and masker is not None:
        updates["summary"] = masker.text(action.summary)
    if action.type == "open_app" and masker is not None:
        updates["app"] = masker.text(action.app)
    return action.model_copy(update=updates) if updates else action


# ---------------------------------------------------------------- targets


def _targets(action: Any) -> list[Any]:
    t = action.type
    if t in ("click", "long_press"):
        return [action.target]
    if t in ("drag", "swipe"):
        return [action.start, action.end]
    if t in ("scroll", "type"):
        return [action.target]
    return []


def _focused(obs: Observation) -> Optional[UIElement]:
    focused = [e for e in obs.elements if e.states.focused]
    editable = [e for e in focused if e.states.editable]
    return (editable or focused or [None])[-1]


def _locate(target: Any, obs: Observation) -> tuple[Optional[UIElement], Optional[tuple[int, int]], Optional[str]]:
    """(element or None, pixel, None) for a target, or (None, None, why it names nothing)."""
    try:
        if target.kind == "point":
            p = point_to_pixels(target, obs)
            return None, (p.x, p.y), None
        e = resolve_element(target, obs)
        p = element_center(e, obs)
        return e, (p.x, p.y), None
    except TargetError as exc:
        return None, None, str(exc)


def target_matches(recorded: Any, predicted: Any, obs: Observation) -> tuple[bool, str]:
    """Whether ``predicted`` (a target) hits ``recorded`` on ``obs``; the reason when it does not."""
    r_el, r_px, r_err = _locate(recorded, obs)
    if r_err is not None:
        return False, f"the recorded target {describe_target(recorded)} does not resolve on the stored tree ({r_err})"
    p_el, p_px, p_err = _locate(predicted, obs)
    if p_err is not None:
        return False, f"predicted target {describe_target(predicted)}: {p_err}"
    if r_el is not None:
        if p_el is not None and p_el.id == r_el.id:
            return True, ""
        if r_el.bounds.contains(*p_px):
            return True, ""
        b = r_el.bounds
        what = f"#{p_el.id}'s centre" if p_el is not None else "point"
        return False, (f"predicted {what} ({p_px[0]}, {p_px[1]}) lies outside recorded #{r_el.id}'s box "
                       f"[{b.left},{b.top},{b.right},{b.bottom}]")
    w, h = obs.screen.width, obs.screen.height
    d = math.hypot((p_px[0] - r_px[0]) / w, (p_px[1] - r_px[1]) / h)
    if d <= TAP_DISTANCE:
        return True, ""
    return False, f"predicted pixel ({p_px[0]}, {p_px[1]}) is {d:.2f} of the screen from the recorded " \
                  f"({r_px[0]}, {r_px[1]}); at most {TAP_DISTANCE} counts"


def _score_targets(rec: Any, pred: Optional[Any], obs: Observation) -> tuple[Optional[bool], list[str]]:
    rec_targets = _targets(rec)
    if not rec_targets or all(t is None for t in rec_targets):
        return None, []  # nothing to point at: not scored
    if pred is None:
        return False, ["target: no predicted action"]
    pred_targets = _targets(pred)
    if not pred_targets:
        return False, [f"target: a predicted {pred.type} has no target"]
    if len(pred_targets) != len(rec_targets):
        return False, [f"target: a predicted {pred.type} has {len(pred_targets)} target(s), the recorded "
                       f"{rec.type} {len(rec_targets)}"]
    reasons = []
    for n, (r, p) in enumerate(zip(rec_targets, pred_targets)):
        end = f" ({('start', 'end')[n]})" if len(rec_targets) == 2 else ""
        if p is None:
            if pred.type == "scroll" and rec.type == "scroll":
                continue  # a scroll of the page vs of its body: the same effect
            focused = _focused(obs) if pred.type == "type" else None
            if focused is None:
                reasons.append(f"target{end}: the predicted {pred.type} names no target"
                               + (" and no field is focused" if pred.type == "type" else ""))
                continue
            p = ElementTarget(id=focused.id)
        ok, why = target_matches(r, p, obs)
        if not ok:
            reasons.append(f"target{end}: {why}")
    return not reasons, reasons


# ---------------------------------------------------------------- fields


def same_app(a: str, b: str) -> bool:
    """Case-insensitive; a package (``com.handa.settings``) matches its last dotted part (``settings``)."""
    a, b = a.strip().casefold(), b.strip().casefold()
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def _field_reasons(rec: Any, pred: Any) -> list[str]:
    t = rec.type
    out = []

    def differ(name: str, p: Any, r: Any) -> None:
        out.append(f"{name}: predicted {p}, recorded {r}")

    if t == "click":
        if pred.button != rec.button:
            differ("button", pred.button.value, rec.button.value)
        if pred.count != rec.count:
            differ("count", pred.count, rec.count)
    elif t == "scroll" and pred.direction != rec.direction:
        differ("direction", pred.direction.value, rec.direction.value)
    elif t == "key" and sorted(pred.keys) != sorted(rec.keys):
        differ("keys", "+".join(pred.keys), "+".join(rec.keys))
    elif t == "system" and pred.button != rec.button:
        differ("button", pred.button.value, rec.button.value)
    elif t == "open_app" and not same_app(pred.app, rec.app):
        differ("app", repr(pred.app), repr(rec.app))
    elif t == "done" and pred.status != rec.status:
        differ("status", pred.status.value, rec.status.value)
    return out


# ---------------------------------------------------------------- one step


class StepScore(BaseModel):
    """How one predicted action compares with the recorded one. ``None``: the field does not apply."""

    index: int
    recorded: str
    predicted: Optional[str] = None
    action_type: bool = False
    target: Optional[bool] = None
    text: Optional[bool] = None
    text_f1: Optional[float] = None
    fields: bool = False
    valid: bool = False
    step: bool = False
    reasons: list[str] = Field(default_factory=list)
    latency_ms: Optional[float] = None


def score_step(recorded: Any, predicted: Optional[Any], obs: Observation, *, masker: Optional[Masker] = None,
               index: int = 0, error: Optional[str] = None) -> StepScore:
    """Compare a predicted action (or None, with ``error``) with the recorded one on the observation it saw.

    Both are masked first (secret text, known secret values), so secrets compare masked to masked and no
    secret reaches the result.
    """
    masker = masker or Masker()
    rec = mask_action(recorded, masker)
    pred = mask_action(predicted, masker)
    score = StepScore(index=index, recorded=masker.text(describe(rec)),
                      predicted=masker.text(describe(pred)) if pred is not None else None)
    reasons = score.reasons
    if pred is None:
        reasons.append(f"no action: {masker.text(error or 'the policy produced no action')}")
    else:
        score.action_type = pred.type == rec.type
        if not score.action_type:
            reasons.append(f"type: predicted {pred.type}, recorded {rec.type}")
        checked, refusal = validate(pred, obs)
        score.valid = refusal is None
        if refusal is not None:
            reasons.append(f"refused: {masker.text(refusal)}")
    score.target, why = _score_targets(rec, pred, obs)
    reasons.extend(why)
    if rec.type in ("type", "answer"):
        ptext = getattr(pred, "text", None) if pred is not None and pred.type in ("type", "answer") else None
        if ptext is None:
            score.text, score.text_f1 = False, 0.0
            if pred is not None:
                reasons.append(f"text: a predicted {pred.type} has no text")
        else:
            score.text = normalize_text(ptext) == normalize_text(rec.text)
            score.text_f1 = round(token_f1(ptext, rec.text), 4)
            if not score.text:
                reasons.append(f"text: predicted {ptext!r}, recorded {rec.text!r} (token F1 {score.text_f1:.2f})")
    if pred is not None and score.action_type:
        field_reasons = _field_reasons(rec, pred)
        score.fields = not field_reasons
        reasons.extend(field_reasons)
    score.step = (score.action_type and score.valid and score.fields and score.target is not False
                  and score.text is not False)
    return score


# ---------------------------------------------------------------- results


def _rate(num: int, den: int) -> Optional[float]:
    return round(num / den, 4) if den else None


class Totals(BaseModel):
    steps: int = 0
    skipped: int = 0
    action_type_accuracy: Optional[float] = None
    target_accuracy: Optional[float] = None
    text_match: Optional[float] = None
    text_f1: Optional[float] = None
    step_success: Optional[float] = None
    counts: dict[str, int] = Field(default_factory=dict)
    mean_latency_ms: Optional[float] = None
    median_latency_ms: Optional[float] = None

    @classmethod
    def of(cls, scores: list[StepScore], skipped: int) -> "Totals":
        targets = [s.target for s in scores if s.target is not None]
        texts = [s for s in scores if s.text is not None]
        latencies = [s.latency_ms for s in scores if s.latency_ms is not None]
        counts = {"action_type": sum(s.action_type for s in scores), "target": sum(targets),
                  "target_scored": len(targets), "text": sum(bool(s.text) for s in texts),
                  "text_scored": len(texts), "step": sum(s.step for s in scores)}
        return cls(steps=len(scores), skipped=skipped, counts=counts,
                   action_type_accuracy=_rate(counts["action_type"], len(scores)),
                   target_accuracy=_rate(counts["target"], len(targets)),
                   text_match=_rate(counts["text"], len(texts)),
                   text_f1=round(statistics.fmean(s.text_f1 or 0.0 for s in texts), 4) if texts else None,
                   step_success=_rate(counts["step"], len(scores)),
                   mean_latency_ms=round(statistics.fmean(latencies), 3) if latencies else None,
                   median_latency_ms=round(statistics.median(latencies), 3) if latencies else None)


class SkippedStep(BaseModel):
    index: int
    reason: str


class RecordingResult(Totals):
    recording: str
    session: str = ""
    task: Optional[str] = None
    goal: str = ""
    recorded_policy: str = ""
    warnings: list[str] = Field(default_factory=list)
    skipped_steps: list[SkippedStep] = Field(default_factory=list)
    details: list[StepScore] = Field(default_factory=list)


class SkippedRecording(BaseModel):
    recording: str
    reason: str


class EvalReport(Totals):
    policy: str
    episodes: int = 0
    recordings: list[RecordingResult] = Field(default_factory=list)
    skipped_recordings: list[SkippedRecording] = Field(default_factory=list)


# ---------------------------------------------------------------- finding recordings


def find_recordings(paths: Iterable[Path | str]) -> list[Path]:
    """Recording folders: each path that is one, else every folder below it holding a manifest or steps.jsonl.

    Raises ``EvalError`` for a path that does not exist. A folder with nothing below it is returned as is, so
    loading it reports why it is not a recording. Symbolic links to folders are not followed.
    """
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise EvalError(f"{path}: no such file or folder")
        if path.is_file() and path.name in ("manifest.json", "steps.jsonl"):
            path = path.parent
        if not path.is_dir() or _is_recording(path):
            found.append(path)
            continue
        below = []
        for root, dirs, files in os.walk(path):
            if "manifest.json" in files or "steps.jsonl" in files:
                below.append(Path(root))
                dirs[:] = []  # a recording holds no recordings
            else:
                dirs.sort()
        found.extend(sorted(below) or [path])
    out, seen = [], set()
    for p in found:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def _is_recording(path: Path) -> bool:
    return (path / "manifest.json").exists() or (path / "steps.jsonl").exists()


# ---------------------------------------------------------------- observations


def _screen(rec: Recording, step: StepRecord) -> ScreenFrame:
    m = rec.manifest
    ref = step.observation
    if m.screen is not None and (ref.width in (0, m.screen.width)) and (ref.height in (0, m.screen.height)):
        return m.screen
    if ref.width <= 0 or ref.height <= 0:
        raise RecordingError(f"step {step.index}: no screen size recorded")
    scale = m.screen.scale_factor if m.screen is not None else (m.task.scale if m.task is not None else 1.0)
    return ScreenFrame(width=ref.width, height=ref.height, scale_factor=scale,
                       orientation="portrait" if ref.height >= ref.width else "landscape")


def _window_bounds(elements: list[UIElement], app: str, window: str) -> Optional[Rect]:
    """The foreground window's box as the stored tree shows it (window bounds are not recorded)."""
    for e in reversed(elements):
        if e.role == Role.window and window and window in (e.name, e.window):
            return e.bounds
    for e in elements:
        if e.parent is None and app and e.app == app:
            return e.bounds
    return None


def _device_name(rec: Recording) -> str:
    m = rec.manifest
    if m.platform == "sim" and m.task is not None:
        return f"sim-{m.task.form}-{m.task.seed}"  # what the sim controller calls its device
    return m.device


def _image_loader(path: Path) -> Callable[[], Any]:
    def load() -> Any:
        from PIL import Image

        try:
            with Image.open(path) as image:
                return image.convert("RGB")
        except (OSError, ValueError, Image.DecompressionBombError):
            return None

    return load


def rebuild_observation(rec: Recording, step: StepRecord, *, keep_sim_keys: bool = True) -> Observation:
    """The observation of ``step`` as the policy saw it: the stored tree, the stored screenshot (lazily)."""
    try:
        platform = Platform(rec.manifest.platform)
    except ValueError:
        raise RecordingError(f"unknown platform {rec.manifest.platform!r}") from None
    elements = rec.tree(step)
    if not keep_sim_keys:
        for e in elements:
            e.attrs.pop(SIM_KEY, None)
    ref = step.observation
    obs = Observation(platform=platform, screen=_screen(rec, step), elements=elements, app=ref.app, window=ref.window,
                      window_bounds=_window_bounds(elements, ref.app, ref.window), timestamp=step.time,
                      device=_device_name(rec))
    shot = rec.file(ref.screenshot)
    if shot is not None and shot.is_file():
        obs.attach_screenshot(_image_loader(shot))
    return obs


# ---------------------------------------------------------------- the evaluator


def _evaluable(step: StepRecord) -> Optional[str]:
    """Why a step is not scored, or None when it is."""
    if step.validation_error:
        return f"refused: {step.validation_error}"
    if not step.action:
        return "no recorded action"
    if "invalid" in step.action:
        return "invalid recorded action"
    return None


def _teacher_force(policy: Any, taken: Any, obs: Observation) -> None:
    """Make a policy with episode memory remember the recorded action rather than its own guess.

    A policy with memory of its own actions (the in-house one) offers ``teacher_force(action, observation)``.
    """
    hook = getattr(policy, "teacher_force", None)
    if callable(hook):
        hook(taken, obs)


class OfflineEvaluator:
    """Evaluates one policy (by name) on recordings. Raises ``EvalError`` when the policy cannot be built."""

    def __init__(self, policy: str, *, script: Optional[Path] = None, model: Optional[Path] = None):
        if policy not in POLICY_NAMES:
            raise EvalError(f"unknown policy {policy!r}; choose one of {', '.join(POLICY_NAMES)}")
        self.policy_name = policy
        self.shared = None
        if policy != "expert":  # the expert is built per recording, from its task
            try:
                self.shared = make_policy(policy, script=script, model=model)
            except (ValueError, OSError) as exc:
                raise EvalError(str(exc)) from exc

    # ------------------------------------------------------------ setup per recording
    def _instance(self, rec: Recording) -> tuple[Optional[Any], Optional[str]]:
        """The sim task instance the recording ran (rebuilt from its manifest), or (None, why not)."""
        m = rec.manifest
        task = m.task
        if task is None or not task.id:
            return None, "the recording names no sim task"
        if m.platform not in ("sim", "android") or task.id.startswith("web."):
            return None, f"task {task.id!r} on {m.platform} is not a sim task"
        from tasks.base import make_instance

        try:
            form = task.form if m.platform == "sim" else "phone"
            return make_instance(task.id, task.seed, form, task.split, task.scale), None
        except Exception as exc:  # an unknown or changed template: the recording says why it cannot be rebuilt
            return None, f"cannot rebuild task {task.id!r}: {exc.args[0] if exc.args else type(exc).__name__}"

    @staticmethod
    def _secret(name: str, instance: Optional[Any]) -> Optional[str]:
        env = os.environ.get(f"HANDA_SECRET_{name.upper()}")
        if env:
            return env
        if instance is not None and instance.params.get(name) not in (None, ""):
            return str(instance.params[name])
        return None

    def evaluate_recording(self, rec: Recording, on_step: Optional[Callable[[StepScore], None]] = None
                           ) -> RecordingResult:
        """Score every evaluable step of one recording. Raises ``RecordingError`` when it cannot be evaluated."""
        m = rec.manifest
        result = RecordingResult(recording=str(rec.path), session=m.session, task=m.task.id if m.task else None,
                                 goal=m.goal, recorded_policy=m.policy, warnings=list(rec.warnings))
        instance, why_not = self._instance(rec)
        masker = Masker(dict(instance.secrets) if instance is not None else {})
        for name in set(m.secret_names) | {s.secret_ref for s in rec.steps if s.secret_ref}:
            value = self._secret(name, instance)
            if value:
                masker.add(name, value)
        goal = m.goal
        if instance is not None:
            if masker.text(instance.goal) == m.goal:
                goal = instance.goal  # the goal the live run had, secrets included
            if m.task.params and _plain(masker(instance.params)) != _plain(m.task.params):
                result.warnings.append("the task rebuilt from the manifest has other parameters than recorded "
                                       "(the template changed since)")
        expert = self.policy_name == "expert"
        if expert:
            if instance is None:
                raise RecordingError(f"the expert needs the recording's sim task: {why_not}")
            policy = make_policy("expert", instance=instance)
        else:
            policy = self.shared
        if hasattr(policy, "reset"):
            policy.reset(goal)
        history: list[HistoryEntry] = []
        checked_keys = False
        fingerprint_misses = 0
        scores: list[StepScore] = []
        for step in rec.steps:
            skip = _evaluable(step)
            action = None
            if skip is None:
                try:
                    action = parse_action(step.action)
                except ValidationError as exc:
                    skip = f"unparseable recorded action ({exc.errors()[0]['msg']})"
            taken = action
            if action is not None and step.secret_ref and action.type == "type":
                value = self._secret(step.secret_ref, instance)
                if value is not None:
                    taken = action.model_copy(update={"text": value})
            if skip is None:
                try:
                    obs = rebuild_observation(rec, step, keep_sim_keys=expert)
                except RecordingError as exc:
                    skip = f"unreadable observation: {exc}"
            if skip is not None:
                result.skipped_steps.append(SkippedStep(index=step.index, reason=masker.text(skip)))
                history.append(_history_entry(step, taken))
                continue
            if expert and not checked_keys and obs.elements:
                checked_keys = True
                if not any(SIM_KEY in e.attrs for e in obs.elements):
                    raise RecordingError(
                        f"the stored trees carry no sim keys (recorded with policy {m.policy!r}, which sees "
                        "observations without them); the expert can only be evaluated on recordings of expert runs")
            if step.observation.fingerprint and obs.fingerprint() != step.observation.fingerprint:
                fingerprint_misses += 1
            t0 = time.perf_counter()
            try:
                decision = policy.decide(goal, obs, list(history))
                if not isinstance(decision, Decision):
                    decision = Decision(action=None, error="the policy returned something that is not a Decision")
            except Exception as exc:  # a policy bug is a failed step, not a failed evaluation
                decision = Decision(action=None, error=f"policy raised {type(exc).__name__}: {exc}")
            latency = (time.perf_counter() - t0) * 1000
            predicted = decision.action if decision.error is None else None
            score = score_step(action, predicted, obs, masker=masker, index=step.index,
                               error=decision.error)
            score.latency_ms = round(latency, 3)
            scores.append(score)
            if on_step is not None:
                on_step(score)
            _teacher_force(policy, taken, obs)
            history.append(_history_entry(step, taken))
        if fingerprint_misses:
            result.warnings.append(f"{fingerprint_misses} of {len(scores)} stored trees do not reproduce the recorded "
                                   "screen fingerprint (masked secrets or a lossy tree)")
        totals = Totals.of(scores, len(result.skipped_steps))
        return result.model_copy(update={**dict(totals), "details": scores})

    # ------------------------------------------------------------ many
    def run(self, paths: Iterable[Path | str], *,
            on_recording: Optional[Callable[[Optional[RecordingResult], Optional[SkippedRecording]], None]] = None
            ) -> EvalReport:
        """Evaluate every recording found under ``paths``; unreadable ones are reported, never fatal."""
        results: list[RecordingResult] = []
        skipped: list[SkippedRecording] = []
        for path in find_recordings(paths):
            res, bad = None, None
            try:
                res = self.evaluate_recording(load_recording(path))
            except RecordingError as exc:
                bad = SkippedRecording(recording=str(path), reason=str(exc))
            except Exception as exc:  # one broken recording must not end the evaluation of the others
                bad = SkippedRecording(recording=str(path), reason=f"cannot be evaluated: {type(exc).__name__}: {exc}")
            if res is not None:
                results.append(res)
            else:
                skipped.append(bad)
            if on_recording is not None:
                on_recording(res, bad)
        details = [s for r in results for s in r.details]
        totals = Totals.of(details, sum(r.skipped for r in results))
        return EvalReport(policy=self.policy_name, episodes=len(results), recordings=results,
                          skipped_recordings=skipped, **dict(totals))


def _history_entry(step: StepRecord, action: Optional[Any]) -> HistoryEntry:
    if action is None or step.validation_error:
        return HistoryEntry(step=step.index, action=None, ok=False,
                            error=step.validation_error or "the policy produced no action")
    ok = step.result.ok if step.result is not None else True
    return HistoryEntry(step=step.index, action=action, ok=ok, error=step.result.error if step.result else None)


def _plain(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


def evaluate(paths: Iterable[Path | str], policy: str, *, script: Optional[Path] = None,
             model: Optional[Path] = None) -> EvalReport:
    """Evaluate ``policy`` on the recordings under ``paths`` (see ``OfflineEvaluator``)."""
    return OfflineEvaluator(policy, script=script, model=model).run(paths)
