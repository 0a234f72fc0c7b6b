"""The shipped model as a policy: it solves tasks, survives bad input, and never runs what it cannot parse."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from transformers import AutoConfig, AutoModel

from agent.loop import Agent
from controllers.actions import parse_action
from controllers.elements import Observation, Rect, ScreenFrame, UIElement
from controllers.sim.controller import SimController
from model.modeling_handa import HandaConfig, HandaModel
from model.policy import CHECKPOINT
from tasks.base import make_instance


def test_checkpoint_is_small_and_loads_through_auto_classes():
    size = sum(f.stat().st_size for f in Path(CHECKPOINT).iterdir())
    assert size <= 50 * 2**20
    assert (Path(CHECKPOINT) / "model.safetensors").is_file()
    config = AutoConfig.from_pretrained(str(CHECKPOINT))
    assert isinstance(config, HandaConfig) and config.model_type == "handa"
    model = AutoModel.from_pretrained(str(CHECKPOINT))
    assert isinstance(model, HandaModel)


def test_save_and_load_round_trip(tmp_path, policy):
    from model.features import Memory, collate

    model = policy.runner.model
    model.save_pretrained(str(tmp_path))
    again = HandaModel.from_pretrained(str(tmp_path))
    obs = SimController(form="phone", seed=2, expose_keys=False).observe()
    feats = policy.runner.featurizer("Turn on Wi-Fi", obs, Memory())
    batch = collate([feats.arrays], policy.tokenizer.pad_token_id)
    with torch.inference_mode():
        a, b = model.eval()(**batch), again.eval()(**batch)
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.parametrize("template_id,seed,form", [
    ("contacts.add_contact", 7, "phone"), ("settings.wifi", 3, "phone"), ("notes.create", 5, "desktop"),
    ("messages.new_conversation", 11, "phone"), ("shop.add_quantity", 4, "phone"), ("webform.signup", 2, "desktop"),
])
def test_solves_seen_tasks_through_the_loop(policy, template_id, seed, form):
    inst = make_instance(template_id, seed=seed, form=form, split="train")
    agent = Agent(SimController(inst.device, expose_keys=False), policy, max_steps=40, judge=inst.is_successful)
    result = agent.run(inst.goal)
    assert result.success, (inst.goal, result.reason, result.message)


def test_korean_goal_text_is_copied_exactly(policy):
    inst = make_instance("contacts.add_contact", seed=21, form="phone")
    goal = "새 연락처 추가: 이름 이서연 민준, 전화번호 010-5555-1234"  # a trained wording, a name it never saw
    agent = Agent(SimController(inst.device, expose_keys=False), policy, max_steps=30)
    agent.run(goal)
    names = [c.name for c in inst.device.app("contacts").contacts.values()]
    assert "이서연 민준" in names, names


def _observation(elements, screenshot=None):
    obs = Observation(platform="sim", screen=ScreenFrame(width=400, height=800), elements=elements, app="x")
    if screenshot is not None:
        obs.attach_screenshot(lambda: screenshot)
    return obs


def test_bad_input_gives_valid_actions_or_clear_errors(policy):
    from PIL import Image

    weird = [UIElement(id=i, role="totally-new-role", name="🎉" * 3000 + "가나다", description="\u202e" * 50,
                       bounds=Rect(left=(i * 7) % 390, top=(i * 13) % 790, right=(i * 7) % 390 + 10,
                                   bottom=(i * 13) % 790 + 10), states={"clickable": True})
             for i in range(5000)]
    cases = [_observation([]), _observation([], Image.new("RGB", (400, 800), "white")), _observation(weird),
             _observation(weird[:3], Image.new("RGB", (7, 3000)))]
    for obs in cases:
        for goal in ("", "Turn on Wi-Fi", "가" * 10000, "\x00\x01"):
            policy.reset(goal)
            decision = policy.decide(goal, obs, [])
            if decision.action is None:
                assert decision.error
            else:
                parse_action(decision.action.model_dump(mode="json"))  # a valid contract action
                target = getattr(decision.action, "target", None)
                if target is not None and target.kind == "element":
                    assert obs.element(target.id) is not None


def test_undecodable_output_is_an_error_not_an_action(policy, monkeypatch):
    import model.policy as mp

    def broken(out, feats, apps):
        raise IndexError("element 99 of 3")

    monkeypatch.setattr(mp, "decode", broken)
    policy.reset("x")
    decision = policy.decide("Turn on Wi-Fi", SimController(form="phone", seed=1, expose_keys=False).observe(), [])
    assert decision.action is None and "could not be decoded" in decision.error


def test_memory_cost_does_not_grow(policy):
    inst = make_instance("calculator.compute", seed=3, form="phone")
    controller = SimController(inst.device, expose_keys=False)
    policy.reset(inst.goal)
    obs = controller.observe()
    sizes = []
    for step in range(40):
        policy.decide(inst.goal, obs, [])
        feats = policy.runner.featurizer(inst.goal, obs, policy.memory, with_image=False)
        sizes.append(sum(a.size for k, a in feats.arrays.items() if k.startswith("mem_")))
    assert len(set(sizes)) == 1


def test_model_env_variable_and_missing_checkpoint(tmp_path, monkeypatch):
    from model.policy import InHousePolicy

    with pytest.raises(FileNotFoundError, match="no model checkpoint"):
        InHousePolicy(tmp_path)
    monkeypatch.setenv("HANDA_MODEL", str(tmp_path))
    with pytest.raises(FileNotFoundError):
        InHousePolicy()
    assert os.environ["HANDA_MODEL"] == str(tmp_path)
