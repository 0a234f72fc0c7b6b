"""Expert episodes walked step by step, for tests that check a feature against what the expert does."""
from __future__ import annotations

from typing import Any, Iterator

from controllers.sim.controller import SimController
from tasks.base import make_instance
from tasks.expert import ExpertPolicy


def expert_clicks(template: str, seeds: int = 6, steps: int = 40) -> Iterator[tuple[Any, Any, Any, str]]:
    """(instance, observation, clicked element, its sim key) for every element action of the expert,
    over ``seeds`` seeds in the train and the held-out look."""
    for seed in range(seeds):
        for split in ("train", "heldout"):
            inst = make_instance(template, seed=seed, split=split)
            controller = SimController(inst.device)
            expert = ExpertPolicy(inst)
            expert.reset(inst.goal)
            for _ in range(steps):
                obs = controller.observe()
                action = expert.decide(inst.goal, obs, []).action
                if action.type in ("done", "answer"):
                    break
                target = getattr(action, "target", None)
                if getattr(target, "kind", None) == "element":
                    element = obs.element(target.id)
                    yield inst, obs, element, element.attrs.get("sim-key", "")
                controller.execute(action)
