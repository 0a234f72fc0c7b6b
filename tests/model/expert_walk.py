"""Expert episodes walked step by step, for tests that check a feature against what the expert does."""
from __future__ import annotations

from typing import Any, Iterator

from controllers.sim.controller import SimController
from tasks.base import make_instance
from tasks.expert import ExpertPolicy


def expert_steps(template: str, seeds: int = 6, steps: int = 40, forms: tuple[str, ...] = ("phone",),
                 wordings: int = 1) -> Iterator[tuple[Any, Any, Any]]:
    """(instance, observation, action) for every step of the expert up to its done or answer, over
    ``seeds`` seeds x the ``forms`` x ``wordings`` goal wordings, in the train and the held-out look."""
    for seed in range(seeds):
        for form in forms:
            for wording in range(wordings):
                for split in ("train", "heldout"):
                    inst = make_instance(template, seed=seed, form=form, split=split,
                                         wording=wording if wordings > 1 else None)
                    controller = SimController(inst.device)
                    expert = ExpertPolicy(inst)
                    expert.reset(inst.goal)
                    for _ in range(steps):
                        obs = controller.observe()
                        action = expert.decide(inst.goal, obs, []).action
                        yield inst, obs, action
                        if action.type in ("done", "answer"):
                            break
                        controller.execute(action)


def expert_clicks(template: str, seeds: int = 6, steps: int = 40) -> Iterator[tuple[Any, Any, Any, str]]:
    """(instance, observation, clicked element, its sim key) for every element action of the expert,
    over ``seeds`` seeds in the train and the held-out look."""
    for inst, obs, action in expert_steps(template, seeds, steps):
        target = getattr(action, "target", None)
        if getattr(target, "kind", None) == "element":
            element = obs.element(target.id)
            yield inst, obs, element, element.attrs.get("sim-key", "")
