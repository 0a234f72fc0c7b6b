"""The agent loop: observe -> decide -> validate -> execute -> settle -> record."""
from __future__ import annotations

import time
from enum import Enum
from typing import Any, Callable, Optional

from pydantic import BaseModel

from agent.recording import Masker, Outcome, Recorder
from agent.validate import validate
from controllers.actions import describe
from controllers.base import ControllerError, DeviceLost
from controllers.policy import Decision, HistoryEntry


class StopReason(str, Enum):
    done = "done"
    answer = "answer"
    max_steps = "max_steps"
    timeout = "timeout"
    no_progress = "no_progress"
    interrupted = "interrupted"
    error_limit = "error_limit"
    device_error = "device_error"
    crashed = "crashed"  # an unexpected exception; the recording is still finalized


class EpisodeResult(BaseModel):
    success: bool
    reason: StopReason
    steps: int
    answer: Optional[str] = None
    status: Optional[str] = None  # the policy's own done status
    message: str = ""
    recording: Optional[str] = None
    duration_s: float = 0.0


class StepEvent(BaseModel):
    """What the loop reports after each step (for live logs)."""

    index: int
    description: str
    ok: bool
    error: Optional[str] = None
    ms: float = 0.0


class Agent:
    """Runs one policy on one controller until the episode stops.

    ``judge(answer) -> bool`` decides success when given (the sim task check);
    otherwise success is the policy's own ``done success`` or an answer.
    """

    def __init__(self, controller: Any, policy: Any, recorder: Optional[Recorder] = None, *, max_steps: int = 30,
                 timeout_s: float = 300.0, max_errors: int = 3, no_progress_limit: int = 5,
                 settle_timeout_s: float = 2.0, judge: Optional[Callable[[Optional[str]], bool]] = None,
                 on_step: Optional[Callable[[StepEvent], None]] = None, masker: Optional[Masker] = None):
        self.controller, self.policy, self.recorder = controller, policy, recorder
        self.max_steps, self.timeout_s, self.max_errors = max_steps, timeout_s, max_errors
        self.no_progress_limit, self.settle_timeout_s = no_progress_limit, settle_timeout_s
        self.judge, self.on_step = judge, on_step
        # typed secrets are registered here as they happen, so logs printed later can mask them
        self.masker = masker if masker is not None else (recorder.mask if recorder is not None else Masker())
        if recorder is not None:
            recorder.mask = self.masker

    def _decide(self, goal: str, obs: Any, history: list[HistoryEntry]) -> Decision:
        try:
            decision = self.policy.decide(goal, obs, history)
        except Exception as exc:  # a policy bug must not lose the recording
            return Decision(action=None, error=f"policy raised {type(exc).__name__}: {exc}")
        if not isinstance(decision, Decision):
            return Decision(action=None, raw=repr(decision)[:2000], error="policy returned something that is not a Decision")
        return decision

    def run(self, goal: str) -> EpisodeResult:
        start = time.monotonic()
        deadline = start + self.timeout_s
        history: list[HistoryEntry] = []
        errors = 0
        unchanged = 0
        steps = 0
        answer: Optional[str] = None
        status: Optional[str] = None
        pending = None  # the post-settle observation doubles as the next step's
        pending_ms = 0.0
        reason = StopReason.max_steps
        message = ""
        if hasattr(self.policy, "reset"):
            self.policy.reset(goal)
        try:
            for index in range(self.max_steps):
                if time.monotonic() >= deadline:
                    reason, message = StopReason.timeout, f"wall-clock limit of {self.timeout_s:g}s reached"
                    break
                t0 = time.perf_counter()
                obs = pending if pending is not None else self.controller.observe()
                t1 = time.perf_counter()
                observe_ms = pending_ms if pending is not None else (t1 - t0) * 1000
                pending = None
                decision = self._decide(goal, obs, history)
                t2 = time.perf_counter()
                timings = {"observe": observe_ms, "decide": (t2 - t1) * 1000}
                steps = index + 1
                action, error = (None, decision.error or "the policy produced no action")
                if decision.action is not None and decision.error is None:
                    action, error = validate(decision.action, obs)
                if error is not None:
                    errors += 1
                    self._record(index, obs, decision.action if action is None else action, decision, error, None,
                                 None, timings)
                    history.append(HistoryEntry(step=index, action=None, ok=False, error=error))
                    self._emit(index, f"refused: {error}", False, error, t0)
                    if errors > self.max_errors:
                        reason, message = StopReason.error_limit, f"{errors} invalid decisions in a row; last: {error}"
                        break
                    continue
                errors = 0
                if action.type in ("done", "answer"):
                    self._record(index, obs, action, decision, None, None, None, timings)
                    self._emit(index, describe(action), True, None, t0)
                    if action.type == "answer":
                        reason, answer = StopReason.answer, action.text
                    else:
                        reason, status, message = StopReason.done, action.status.value, action.summary
                    break
                if action.type == "type" and action.secret:
                    self.masker.add(f"typed_{index}", action.text)
                result = self.controller.execute(action)
                t3 = time.perf_counter()
                self.controller.wait_for_settle(self.settle_timeout_s)
                t4 = time.perf_counter()
                timings.update(execute=(t3 - t2) * 1000, settle=(t4 - t3) * 1000)
                pending = self.controller.observe()
                pending_ms = (time.perf_counter() - t4) * 1000
                after = pending.fingerprint()
                self._record(index, obs, action, decision, None, result, after, timings)
                history.append(HistoryEntry(step=index, action=action, ok=result.ok, error=result.error))
                self._emit(index, describe(action), result.ok, result.error, t0)
                if self.no_progress_limit > 0 and after == obs.fingerprint():
                    unchanged += 1
                    if unchanged >= self.no_progress_limit:
                        reason = StopReason.no_progress
                        message = f"the screen did not change after {unchanged} actions in a row"
                        break
                else:
                    unchanged = 0
            else:
                reason, message = StopReason.max_steps, f"stopped after {self.max_steps} steps"
        except KeyboardInterrupt:
            reason, message = StopReason.interrupted, "interrupted by the user"
        except (DeviceLost, ControllerError) as exc:
            reason, message = StopReason.device_error, f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # never leave a recording unfinished, whatever broke
            reason, message = StopReason.crashed, f"{type(exc).__name__}: {exc}"
        try:
            success = self._success(reason, status, answer)
        except Exception as exc:  # a broken success check must not leave the recording unfinished
            success = False
            message = (message + "; " if message else "") + f"success check raised {type(exc).__name__}: {exc}"
        result = EpisodeResult(success=success, reason=reason, steps=steps, answer=answer, status=status,
                               message=message, duration_s=time.monotonic() - start,
                               recording=str(self.recorder.path) if self.recorder and self.recorder.path else None)
        if self.recorder is not None:
            self.recorder.finish(Outcome(success=success, reason=reason.value, steps=steps, answer=answer,
                                         message=message, final_state=self._state_digest()))
        return result

    def _state_digest(self) -> Optional[str]:
        digest = getattr(self.controller, "state_digest", None)
        if digest is None:
            return None
        try:
            return digest()
        except Exception:  # a closed or lost device has no state to report
            return None

    def _success(self, reason: StopReason, status: Optional[str], answer: Optional[str]) -> bool:
        if self.judge is not None:
            if reason in (StopReason.done, StopReason.answer):
                return bool(self.judge(answer)) and status in (None, "success")
            return False
        return (reason == StopReason.done and status == "success") or reason == StopReason.answer

    def _record(self, index, obs, action, decision, error, result, after, timings) -> None:
        if self.recorder is not None:
            self.recorder.step(index, obs, action=action, decision=decision, validation_error=error, result=result,
                               after_fingerprint=after, timings_ms=timings)

    def _emit(self, index: int, description: str, ok: bool, error: Optional[str], t0: float) -> None:
        if self.on_step is not None:
            self.on_step(StepEvent(index=index, description=description, ok=ok, error=error,
                                   ms=(time.perf_counter() - t0) * 1000))
