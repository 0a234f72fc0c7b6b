"""Every template: sane metadata, a check that fails before acting, and an expert that solves it."""
import statistics
from collections import Counter

import pytest

from agent.loop import Agent
from agent.recording import Recorder, TaskRef, load_recording
from controllers.sim import SimController
from controllers.sim.apps import APP_CLASSES
from tasks import load_all
from tasks.base import make_instance
from tasks.expert import ExpertPolicy

TEMPLATES = load_all()
SEEDS = range(20)


def test_at_least_sixty_templates_a_third_multi_step_across_all_apps():
    assert len(TEMPLATES) >= 60
    multi = [t for t in TEMPLATES.values() if t.multi_step]
    assert len(multi) * 3 >= len(TEMPLATES)
    apps = Counter(t.app for t in TEMPLATES.values())
    assert set(apps) == {cls.key for cls in APP_CLASSES}
    assert len(APP_CLASSES) >= 10


@pytest.mark.parametrize("tid", sorted(TEMPLATES))
def test_template_metadata_and_wordings(tid):
    t = TEMPLATES[tid]
    assert tid.startswith(t.app + ".")
    assert len(t.goals) >= 3, "several wordings per template"
    a, b = make_instance(tid, 7), make_instance(tid, 7)
    assert (a.goal, a.params) == (b.goal, b.params), "instances are deterministic for a seed"
    goals = {make_instance(tid, s).goal for s in range(12)}
    assert len(goals) >= 2, "goals vary with the seed"


@pytest.mark.parametrize("tid", sorted(TEMPLATES))
def test_success_check_fails_before_acting(tid):
    for seed in range(5):
        inst = make_instance(tid, seed)
        assert not inst.is_successful(None), f"{tid} seed {seed} is already solved at the start"


@pytest.mark.parametrize("tid", sorted(TEMPLATES))
def test_expert_solves_twenty_seeds_through_the_loop_with_recording(tid, tmp_path):
    template = TEMPLATES[tid]
    failures, actions = [], []
    for seed in SEEDS:
        form = template.forms[seed % len(template.forms)]
        inst = make_instance(tid, seed, form)
        rec = Recorder(tmp_path, screenshots=seed % 4 == 0, secrets=inst.secrets)
        rec.start(goal=inst.goal, policy="expert", platform="sim", task=TaskRef(id=tid, seed=seed, form=form))
        result = Agent(SimController(inst.device), ExpertPolicy(inst), rec, max_steps=40,
                       judge=inst.is_successful).run(inst.goal)
        if not result.success:
            failures.append((seed, form, result.reason.value, result.message))
        actions.append(result.steps - (result.reason.value in ("done", "answer")))
        if seed == 0:
            assert load_recording(rec.path).complete
    assert len(failures) <= len(SEEDS) // 100, f"{tid}: expert failed {failures}"
    typical = statistics.median(actions)
    assert abs(typical - template.steps_hint) <= 2, f"{tid}: steps_hint {template.steps_hint}, median {typical}"
    if template.multi_step:
        # typically 3-15; a goal in another language scrolls a long list instead of typing a filter
        assert 3 <= typical <= 15 and max(actions) <= 20, f"{tid}: multi-step means 3-15 actions, took {actions}"


@pytest.mark.parametrize("split, scale", [("heldout", 1.5), ("train", 0.75), ("heldout", 2.0)])
def test_experts_solve_held_out_looks_and_odd_scales(split, scale):
    """Held-out themes and words, and fractional pixel scales, must not break any expert."""
    failures = []
    for i, tid in enumerate(sorted(TEMPLATES)):
        template = TEMPLATES[tid]
        seed = 1000 + i
        inst = make_instance(tid, seed, template.forms[i % len(template.forms)], split=split, scale=scale)
        result = Agent(SimController(inst.device), ExpertPolicy(inst), max_steps=40,
                       judge=inst.is_successful).run(inst.goal)
        if not result.success:
            failures.append((tid, seed, result.reason.value))
    assert len(failures) <= 1, failures
