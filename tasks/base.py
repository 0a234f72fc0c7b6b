"""Task templates: goal wordings, initial state, a success check and an expert.

A template is parametric: ``sample`` draws parameters from a seeded RNG,
``setup`` puts the device in the initial state, ``is_successful`` reads the app
state (never the screen), and ``act`` is the expert: a reactive rule that
chooses the next action from the observation alone, so it can label any state
a learner visits.
"""
from __future__ import annotations

import random
import zlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional

from controllers.sim.device import SimDevice
from controllers.sim.style import Split


class TaskTemplate(ABC):
    id: ClassVar[str] = ""
    app: ClassVar[str] = ""
    steps_hint: ClassVar[int] = 1  # typical expert actions from the home screen, not counting done/answer
    goals: ClassVar[list[str]] = []  # wordings with {param} slots
    forms: ClassVar[tuple[str, ...]] = ("phone", "desktop")
    description: ClassVar[str] = ""
    secret_params: ClassVar[tuple[str, ...]] = ()  # params never to be written in clear (passwords)

    def sample(self, rng: random.Random, device: SimDevice) -> dict[str, Any]:
        """Parameters for one instance (may read the device's seeded data)."""
        return {}

    def setup(self, device: SimDevice, params: dict[str, Any]) -> None:
        """Put the apps into the initial state this instance needs."""

    @abstractmethod
    def is_successful(self, device: SimDevice, params: dict[str, Any], answer: Optional[str] = None) -> bool:
        """Whether the app state (and the answer, for questions) shows the task done."""

    @abstractmethod
    def act(self, kit: "Any", params: dict[str, Any]):
        """The expert's next action for the current observation (see ``tasks.expert.Kit``)."""

    @property
    def multi_step(self) -> bool:
        return self.steps_hint >= 3

    def info(self) -> dict[str, Any]:
        return {"id": self.id, "app": self.app, "steps_hint": self.steps_hint, "multi_step": self.multi_step,
                "forms": list(self.forms), "goals": list(self.goals), "description": self.description or self.goals[0]}


def answer_digits(answer: Optional[str], max_digits: int = 18) -> Optional[int]:
    """The ASCII digits of an answer as one integer ("1,234원" -> 1234); None when absent or absurdly long.

    Success checks must stay cheap and total on any text a policy may answer.
    """
    digits = "".join(ch for ch in (answer or "") if "0" <= ch <= "9")
    return int(digits) if 0 < len(digits) <= max_digits else None


REGISTRY: dict[str, TaskTemplate] = {}


def register(cls: type[TaskTemplate]) -> type[TaskTemplate]:
    if not cls.id or cls.id in REGISTRY:
        raise ValueError(f"template id {cls.id!r} is empty or registered twice")
    if not cls.goals:
        raise ValueError(f"template {cls.id} has no goal wordings")
    REGISTRY[cls.id] = cls()
    return cls


@dataclass
class TaskInstance:
    """One concrete task on one device: what ``handa run --task ID --seed N`` plays."""

    template: TaskTemplate
    seed: int
    form: str
    params: dict[str, Any]
    goal: str
    device: SimDevice
    split: Split = Split.all
    extra: dict[str, Any] = field(default_factory=dict)

    def is_successful(self, answer: Optional[str] = None) -> bool:
        return bool(self.template.is_successful(self.device, self.params, answer))

    @property
    def secrets(self) -> dict[str, str]:
        return {name: str(self.params[name]) for name in self.template.secret_params if self.params.get(name)}


def get_template(template_id: str) -> TaskTemplate:
    from tasks import load_all

    load_all()
    try:
        return REGISTRY[template_id]
    except KeyError:
        raise KeyError(f"unknown task {template_id!r}; see `handa tasks list`") from None


def make_instance(template_id: str, seed: int = 0, form: str = "phone", split: Split | str = Split.all,
                  scale: float = 1.0, wording: Optional[int] = None, look_seed: Optional[int] = None) -> TaskInstance:
    """A fresh device in the template's initial state, and the goal text.

    ``look_seed`` puts the same instance (data, params, goal) on another look (see ``SimDevice``).
    """
    template = get_template(template_id)
    if form not in template.forms:
        raise ValueError(f"task {template_id} does not run on a {form}")
    device = SimDevice(form=form, seed=seed, split=split, scale=scale, look_seed=look_seed)
    rng = random.Random(zlib.crc32(f"{template_id}/{seed}".encode()))
    params = template.sample(rng, device)
    template.setup(device, params)
    index = rng.randrange(len(template.goals)) if wording is None else wording % len(template.goals)
    goal = template.goals[index].format(**params)
    return TaskInstance(template, seed, form, params, goal, device, Split(split))
