"""Play an expert on an instance without the agent loop (for quick checks and data)."""
from __future__ import annotations

from typing import Any

from controllers.policy import HistoryEntry
from controllers.sim.controller import SimController
from tasks.base import TaskInstance
from tasks.expert import ExpertPolicy


def run_expert(instance: TaskInstance, max_steps: int = 40) -> tuple[bool, int, list[Any]]:
    """(success, steps, actions). Stops at the expert's done/answer."""
    ctl = SimController(instance.device)
    policy = ExpertPolicy(instance)
    history: list[HistoryEntry] = []
    actions = []
    for step in range(max_steps):
        obs = ctl.observe()
        decision = policy.decide(instance.goal, obs, history)
        action = decision.action
        actions.append(action)
        if action.type == "answer":
            return instance.is_successful(action.text), step + 1, actions
        if action.type == "done":
            return action.status.value == "success" and instance.is_successful(), step + 1, actions
        result = ctl.execute(action)
        history.append(HistoryEntry(step=step, action=action, ok=result.ok, error=result.error))
    return False, max_steps, actions
