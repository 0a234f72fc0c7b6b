"""Codec: every expert action is expressible by the heads, and decoding gives it back."""
from __future__ import annotations

import pytest

from controllers.sim.controller import SimController
from model.codec import CodecError, Target, decode, encode
from agent.evaluate import same_action
from model.features import Featurizer, Memory
from tasks import load_all
from tasks.base import make_instance
from tasks.expert import ExpertPolicy

TEMPLATES = sorted(load_all())


def _as_output(t: Target) -> dict:
    out = t.as_dict()
    for k, v in list(out.items()):
        if v == -100:
            out[k] = 0
    return out


@pytest.mark.parametrize("template_id", TEMPLATES)
def test_expert_actions_round_trip(template_id, tokenizer, policy):
    fz = Featurizer(tokenizer)
    apps = policy.runner.apps
    template = load_all()[template_id]
    for seed in (0, 1):
        form = template.forms[seed % len(template.forms)]
        inst = make_instance(template_id, seed=seed, form=form)
        controller = SimController(inst.device)
        expert = ExpertPolicy(inst)
        expert.reset(inst.goal)
        for _ in range(template.steps_hint * 3 + 5):
            obs = controller.observe()
            action = expert.decide(inst.goal, obs, []).action
            feats = fz(inst.goal, obs, Memory(), with_image=False)
            back = decode(_as_output(encode(action, obs, feats, apps=apps)), feats, apps)
            assert same_action(back, action, obs), (action, back)
            if action.type in ("done", "answer"):
                break
            controller.execute(action)


def test_unexpressible_actions_are_refused(tokenizer):
    from controllers.actions import Key, TypeText

    fz = Featurizer(tokenizer)
    obs = SimController(form="phone", seed=1).observe()
    feats = fz("Turn on Wi-Fi", obs, Memory(), with_image=False)
    with pytest.raises(CodecError):
        encode(TypeText(text="not in the goal"), obs, feats, apps=[])
    with pytest.raises(CodecError):
        encode(Key(keys=["ctrl", "alt", "delete"]), obs, feats, apps=[])


def test_word_bounds_keep_words_whole(tokenizer):
    from model.codec import word_bounds

    def ends(goal):
        enc = tokenizer.backend_tokenizer.encode(goal, add_special_tokens=False)
        return [(b, ok) for (_, b), ok in zip(enc.offsets, word_bounds(goal, enc.offsets)[1])]

    goal = "password: Seoul#cloud324"  # "cloud324" spans characters 16..24
    assert (len(goal), True) in ends(goal)
    assert all(not ok for b, ok in ends(goal) if 16 < b < len(goal))  # nothing may end inside "cloud324"
    # Korean particles attach to the noun: the name alone is a whole word
    assert all(ok for b, ok in ends('강시우에게 "지금 출발해요"라고 보내줘') if b == 3)


def test_answers_copied_from_the_screen_are_whole_runs_between_spaces(tokenizer):
    from controllers.elements import Observation, Rect, ScreenFrame, UIElement
    from model.codec import VERBS, TEXT_SOURCES
    from model.features import SEG_OFFSETS, SEGMENTS

    value = [i for i, (name, _) in enumerate(SEGMENTS) if name == "value"][0]
    obs = Observation(platform="sim", screen=ScreenFrame(width=400, height=800), elements=[
        UIElement(id=1, role="text", name="Mobile", value="+82 10-9790-2716 (work)",
                  bounds=Rect(left=0, top=0, right=400, bottom=40))])
    feats = Featurizer(tokenizer)("Tell me the number", obs, Memory(), with_image=False)
    tokens = [o for o in feats.element_offsets[0] if o[0] == value]
    cut = next(k for k, (_, a, b) in enumerate(tokens) if obs.elements[0].value[a:b] == "79")  # inside the number
    out = {k: 0 for k in Target.__dataclass_fields__}
    out.update(verb=VERBS.index("answer"), source=TEXT_SOURCES.index("element"), element=0,
               span_start=SEG_OFFSETS[value], span_end=SEG_OFFSETS[value] + cut)
    assert decode(out, feats, []).text == "+82 10-9790-2716"
