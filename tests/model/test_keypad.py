"""The keypad cue: goal arithmetic -> key presses, and the next key from what the screen shows."""
from __future__ import annotations

import pytest

from model.features import Featurizer, Memory
from model.keypad import expression_lines, goal_keys, key_of, next_keys
from tests.model.expert_walk import expert_clicks


@pytest.mark.parametrize("goal, keys", [
    ("Compute 744 + 35 on the calculator", "7 4 4 add 3 5 eq"),
    ("Calculate 12-7169", "1 2 sub 7 1 6 9 eq"),
    ("Calculate 650 times 87", "6 5 0 mul 8 7 eq"),
    ("Calculate 84 divided by 7", "8 4 div 7 eq"),
    ("Add 25.05 and 3.5 on the calculator", "2 5 dot 0 5 add 3 dot 5 eq"),
    ("Compute −51 × 3 (use the ± key for the minus sign)", "5 1 neg mul 3 eq"),
    ("Calculate negative 4 times 9", "4 neg mul 9 eq"),
    ("계산기로 75 × 10 + 53 을 계산해줘", "7 5 mul 1 0 add 5 3 eq"),
    ("12 나누기 4 계산해줘", "1 2 div 4 eq"),
    ("What is 1000-200-3000?", "1 0 0 0 sub 2 0 0 sub 3 0 0 0 eq"),  # not a phone number: no 0 or + first
])
def test_goal_arithmetic_becomes_key_presses(goal, keys):
    assert goal_keys(goal) == tuple(keys.split())


@pytest.mark.parametrize("goal", ["Turn on Wi-Fi", "Set brightness to 40", "Call 010 and say hi", "",
                                  "New contact Ama Lee (010-7863-4439, hyun5@naver.com)", "Call +82 10-9790-2716",
                                  "새 연락처 추가: 이름 Wei Müller, 전화번호 010-4386-5149"])  # phone numbers
def test_goals_without_arithmetic_have_no_keys(goal):
    assert goal_keys(goal) is None
    assert next_keys(goal, ["0"]) == (None, None)


def test_expression_lines_follow_a_phone_calculator():
    lines = expression_lines(goal_keys("Compute -12.50 * 3"))
    assert lines == ("", "1", "12", "12.", "12.5", "12.50", "-12.50", "-12.5*", "-12.5*3", "-12.5*3=")


def test_next_key_continues_the_longest_shown_prefix():
    goal = "Compute 744 + 35"
    assert next_keys(goal, ["744 + 3", "3"]) == ("5", "7")
    assert next_keys(goal, ["744 +", "744"]) == ("3", "7")
    assert next_keys(goal, ["0"]) == (None, "7")  # a clear display: only the first key
    assert next_keys(goal, ["744 + 35 =", "779"]) == (None, "7")  # evaluated: nothing left to press
    assert [key_of(t) for t in ("7", "×", "x", "–", "÷", "=", "+/-", "AC", "12")] == \
        ["7", "mul", "mul", "sub", "div", "eq", "neg", None, None]
    assert key_of("", "Change sign") == "neg"


@pytest.mark.parametrize("template", ["calculator.compute", "calculator.decimal", "calculator.negative"])
def test_the_flag_marks_every_key_the_expert_presses(tokenizer, template):
    """Along expert episodes (train and held-out looks) the cue names the key the expert presses next."""
    fz = Featurizer(tokenizer)
    checked = 0
    for inst, obs, element, key in expert_clicks(template, steps=30):
        if key.startswith("calculator:key:") and not key.endswith(":clear"):
            feats = fz(inst.goal, obs, Memory(), with_image=False)
            flags = feats.arrays["el_flags"]
            row = [e.id for e in feats.elements].index(element.id)
            cue = flags[:, 12] if flags[:, 12].any() else flags[:, 13]
            assert cue[row] == 1 and cue.sum() == 1, (inst.goal, key)
            checked += 1
    assert checked > 50


def test_context_says_whether_the_goal_holds_arithmetic(tokenizer):
    from controllers.sim.controller import SimController

    fz = Featurizer(tokenizer)
    obs = SimController(form="phone", seed=1).observe()
    for goal, has in (("18 곱하기 92는 얼마야?", 1), ("What is 23 × 90?", 1), ("Turn on Wi-Fi", 0),
                      ("Save 010-1234-5678 as Mina in my contacts", 0)):
        assert fz(goal, obs, Memory(), with_image=False).arrays["ctx"][5] == has, goal
