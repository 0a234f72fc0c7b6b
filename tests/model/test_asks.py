"""Whether the goal asks for an answer, read off its wording, and the context token that carries it."""
from __future__ import annotations

import pytest

from controllers.sim.controller import SimController
from model.asks import asks
from model.features import Featurizer, Memory
from tasks import load_all
from tests.model.expert_walk import expert_steps


@pytest.mark.parametrize("goal, want", [
    ("What is 18 × 92?", True),
    ("18 곱하기 92는 얼마야?", True),
    ("Tell me the product of 23 and 90", True),
    ("What's the balance on account mina? (password x1)", True),  # a parenthesis after the question mark
    ("정예준 전화번호 알려줘", True),
    ("Show me the contact details of Lucas Tanaka", False),
    ("What's on March 3? Open that day", False),  # asks for a change on screen
    ("What does 5 × 3 come to? Work it out on the calculator and leave the result showing", False),
    ("Turn on Wi-Fi", False),
    ("Can you turn on Wi-Fi?", False),  # a polite request
    ("Send 'Tell me when you land' to Mei", False),  # the quoted message asks, the goal does not
    ("What is 18 × 92? please", True),  # filler after the question mark
    ("Quick one: what is 5 × 3?, thanks", True),
    ("Text Mina and Mei Singh: ¿Nos vemos mañana?", False),  # sends a question, asks none
    ("Use the calculator: how much is 12.5 times 3?", True),
    ("", False),
])
def test_asking_is_read_off_the_wording(goal, want):
    assert asks(goal) is want


def test_no_template_that_ends_in_done_is_read_as_asking():
    """Every wording of every template read as asking is one whose expert ends with an answer."""
    registry = load_all()
    for template in sorted(registry):
        t = registry[template]
        for inst, _, action in expert_steps(template, seeds=1, steps=60, forms=t.forms[:1], wordings=len(t.goals)):
            if action.type in ("done", "answer") and inst.split.value == "train" and asks(inst.goal):
                assert action.type == "answer", (template, inst.goal)


def test_context_says_whether_the_goal_asks(tokenizer):
    fz = Featurizer(tokenizer)
    obs = SimController(form="phone", seed=1).observe()
    assert fz("기기 이름이 뭐야?", obs, Memory(), with_image=False).arrays["ctx"][6] == 1
    assert fz("Rename this device to Mina", obs, Memory(), with_image=False).arrays["ctx"][6] == 0


def test_asking_biases_the_verbs_directly(tokenizer):
    """The ask context adds a learned bias to every verb: set it to forbid done when the goal asks, and an
    untrained model can no longer end an asking goal with done (nor answer one that does not ask)."""
    import torch

    from model.codec import V
    from model.features import collate
    from model.modeling_handa import GLOBAL_VERBS, HandaConfig, HandaModel

    torch.manual_seed(0)
    model = HandaModel(HandaConfig(vocab_size=len(tokenizer), d_model=32, n_layer=1, n_head=2, d_ff=64,
                                   pad_token_id=tokenizer.pad_token_id)).eval()
    done, answer = GLOBAL_VERBS.index(V["done"]), GLOBAL_VERBS.index(V["answer"])
    with torch.no_grad():
        model.act_global.weight.zero_()
        model.act_global.bias.zero_()
        model.act_global.bias[done] = model.act_global.bias[answer] = 50.0  # both would win the table
        model.ask_global.weight.zero_()
        model.ask_global.weight[1, done] = model.ask_global.weight[0, answer] = -100.0
    fz = Featurizer(tokenizer)
    obs = SimController(form="phone", seed=1).observe()
    for goal, verb in (("기기 이름이 뭐야?", "answer"), ("Rename this device to Mina", "done")):
        with torch.no_grad():
            out = model(**collate([fz(goal, obs, Memory(), with_image=False).arrays], tokenizer.pad_token_id))
        assert int(out["verb_choice"]) == V[verb], goal
