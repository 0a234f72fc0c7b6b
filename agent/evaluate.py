"""Evaluate a policy on full sim episodes through the real agent loop.

Each episode: a template of the chosen split, a fresh seed, the sim's look of
that split (held-out themes and label synonyms for ``heldout``). The model
sees observations without the sim-only keys; at every step the expert is asked
what it would do in the same state, which gives the step accuracy.
"""
from __future__ import annotations

import statistics
import time
from typing import Any, Callable, Optional

from controllers.elements import Observation
from controllers.policy import Decision, HistoryEntry
from model.codec import verb_of
from model.splits import heldout_templates, seen_templates

EVAL_SEED_BASE = 2**30  # training draws its seeds below 2**30: evaluation seeds are never trained on


def same_action(a: Any, b: Any, obs: Observation) -> bool:
    """Whether two actions do the same thing on ``obs`` (the step-accuracy criterion)."""
    if a is None or b is None or verb_of(a) != verb_of(b):
        return False
    ta, tb = getattr(a, "target", None), getattr(b, "target", None)
    if (ta is None) != (tb is None):
        return a.type == "scroll"  # a scroll of the page vs of its body: same effect
    if ta is not None:
        if ta.kind == "element" and tb.kind == "element":
            if ta.id != tb.id:
                return False
        else:
            pa, pb = _point(ta, obs), _point(tb, obs)
            if pa is None or pb is None or abs(pa[0] - pb[0]) > 0.02 * obs.screen.width or \
                    abs(pa[1] - pb[1]) > 0.03 * obs.screen.height:
                return False
    if a.type in ("type", "answer"):
        return a.text.strip() == b.text.strip()
    if a.type == "scroll":
        return a.direction == b.direction
    if a.type == "key":
        return a.keys == b.keys
    if a.type == "open_app":
        return a.app == b.app
    return True


def _point(target: Any, obs: Observation) -> Optional[tuple[float, float]]:
    if target.kind == "point":
        return target.x * (obs.screen.width - 1), target.y * (obs.screen.height - 1)
    if target.kind == "element":
        e = obs.element(target.id)
        return e.bounds.center if e is not None else None
    return None


class Scored:
    """Wraps a policy: hides the sim keys from it and scores each step against the expert."""

    def __init__(self, policy: Any, expert: Any, screenshot_only: bool = False):
        self.policy, self.expert = policy, expert
        self.name = getattr(policy, "name", "policy")
        self.screenshot_only = screenshot_only
        self.steps = 0
        self.matches = 0
        self.decide_ms: list[float] = []

    def reset(self, goal: str) -> None:
        self.policy.reset(goal)
        self.expert.reset(goal)

    def decide(self, goal: str, observation: Observation, history: list[HistoryEntry]) -> Decision:
        label = self.expert.decide(goal, observation, history).action
        for e in observation.elements:
            e.attrs.pop("sim-key", None)
        seen = observation.model_copy(update={"elements": []}) if self.screenshot_only else observation
        t0 = time.perf_counter()
        decision = self.policy.decide(goal, seen, history)
        self.decide_ms.append((time.perf_counter() - t0) * 1000)
        self.steps += 1
        self.matches += int(same_action(decision.action, label, observation))
        return decision


def evaluate(make_policy: Callable[[], Any], split: str = "heldout", episodes: int = 100,
             screenshot_only: bool = False, seed: int = 0,
             on_episode: Optional[Callable[[dict], None]] = None) -> dict:
    """Run ``episodes`` episodes (templates round-robin) and return the summary."""
    from agent.loop import Agent
    from controllers.sim.controller import SimController
    from controllers.sim.style import Split
    from tasks import load_all
    from tasks.base import make_instance
    from tasks.expert import ExpertPolicy

    if split not in ("heldout", "seen"):
        raise ValueError("split must be 'heldout' or 'seen'")
    registry = load_all()
    templates = heldout_templates() if split == "heldout" else seen_templates()
    sim_split = Split.heldout if split == "heldout" else Split.train
    policy = make_policy()
    per: dict[str, dict[str, Any]] = {t: {"episodes": 0, "successes": 0, "steps": 0, "matches": 0} for t in templates}
    all_ms: list[float] = []
    total_steps = total_matches = successes = 0
    for i in range(episodes):
        template_id = templates[i % len(templates)]
        template = registry[template_id]
        ep_seed = EVAL_SEED_BASE + seed * 100_000 + i
        form = template.forms[(i // len(templates)) % len(template.forms)]
        inst = make_instance(template_id, seed=ep_seed, form=form, split=sim_split)
        scored = Scored(policy, ExpertPolicy(inst), screenshot_only=screenshot_only)
        agent = Agent(SimController(inst.device), scored, max_steps=template.steps_hint * 3 + 6,
                      judge=inst.is_successful)
        result = agent.run(inst.goal)
        row = per[template_id]
        row["episodes"] += 1
        row["successes"] += int(result.success)
        row["steps"] += scored.steps
        row["matches"] += scored.matches
        successes += int(result.success)
        total_steps += scored.steps
        total_matches += scored.matches
        all_ms.extend(scored.decide_ms)
        if on_episode is not None:
            on_episode({"index": i, "template": template_id, "seed": ep_seed, "form": form,
                        "success": result.success, "steps": result.steps, "reason": result.reason.value})
    table = {t: {"episodes": r["episodes"], "success_rate": round(r["successes"] / r["episodes"], 4) if r["episodes"] else None,
                 "step_accuracy": round(r["matches"] / r["steps"], 4) if r["steps"] else None}
             for t, r in per.items() if r["episodes"]}
    return {
        "split": split, "screenshot_only": screenshot_only, "episodes": episodes,
        "success_rate": round(successes / max(episodes, 1), 4),
        "step_accuracy": round(total_matches / max(total_steps, 1), 4),
        "steps": total_steps,
        "decide_ms_p50": round(statistics.median(all_ms), 2) if all_ms else None,
        "templates": table,
    }
