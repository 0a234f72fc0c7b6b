"""``handa replay``: re-execute a sim recording and check the final state matches."""
from __future__ import annotations

import os
from typing import Any, Optional

from pydantic import BaseModel, Field, ValidationError

from agent.recording import Recording, RecordingError
from controllers.actions import parse_action
from controllers.sim.controller import SimController
from controllers.sim.device import SimDevice


class StepMatch(BaseModel):
    index: int
    screen_matches: bool
    ok: bool
    error: Optional[str] = None


class ReplayReport(BaseModel):
    recording: str
    executed: int
    steps: list[StepMatch] = Field(default_factory=list)
    diverged_at: Optional[int] = None
    final_state_matches: bool
    success: Optional[bool] = None
    recorded_success: Optional[bool] = None
    message: str = ""


def _secret(rec: Recording, name: str, params: dict[str, Any]) -> str:
    env = os.environ.get(f"HANDA_SECRET_{name.upper()}")
    if env is not None:
        return env
    if name in params:
        return str(params[name])
    raise RecordingError(f"step types the masked secret {name!r}; set HANDA_SECRET_{name.upper()} to replay it")


def replay(rec: Recording) -> ReplayReport:
    """Rebuild the sim device the recording ran on and play its actions again."""
    m = rec.manifest
    if m.platform != "sim" or m.task is None:
        raise RecordingError("only sim recordings can be replayed with `handa replay` (no device description found)")
    instance = None
    if m.task.id:
        from tasks.base import make_instance

        try:
            instance = make_instance(m.task.id, m.task.seed, m.task.form, m.task.split, m.task.scale)
        except (KeyError, ValueError) as exc:
            raise RecordingError(f"cannot rebuild the recorded task: {exc.args[0] if exc.args else exc}") from exc
        device = instance.device
        params = instance.params
    else:
        device = SimDevice(form=m.task.form, seed=m.task.seed, split=m.task.split, scale=m.task.scale)
        params = {}
    ctl = SimController(device)
    report_steps: list[StepMatch] = []
    diverged = None
    executed = 0
    answer = None
    last_after = None
    for step in rec.steps:
        obs = ctl.observe()
        same = obs.fingerprint() == step.observation.fingerprint
        if not same and diverged is None:
            diverged = step.index
        if step.validation_error or not step.action:
            continue
        data = dict(step.action)
        if step.secret_ref:
            data["text"] = _secret(rec, step.secret_ref, params)
        try:
            action = parse_action(data)
        except ValidationError as exc:
            raise RecordingError(f"step {step.index}: recorded action is invalid ({exc.errors()[0]['msg']})") from exc
        if action.type in ("done", "answer"):
            answer = action.text if action.type == "answer" else None
            report_steps.append(StepMatch(index=step.index, screen_matches=same, ok=True))
            break
        result = ctl.execute(action)
        executed += 1
        last_after = step.after_fingerprint
        report_steps.append(StepMatch(index=step.index, screen_matches=same, ok=result.ok, error=result.error))
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
        msg = f"diverged at step {diverged + 1}: the screen differs from the recording"
    elif not state_same:
        msg = "the screens match but the final app state differs from the recording"
    else:
        msg = "the final state differs from the recording"
    return ReplayReport(recording=str(rec.path), executed=executed, steps=report_steps, diverged_at=diverged,
                        final_state_matches=matches, success=success, recorded_success=recorded, message=msg)
