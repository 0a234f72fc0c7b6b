"""The shape of answer a goal asks for, the shapes of texts on screen, and the element flags that join them."""
from __future__ import annotations

import pytest

from controllers.sim.controller import SimController
from model.answers import DATE, EMAIL, MONEY, PERCENT, PHONE, TIME, asked_kinds, shapes
from model.features import Featurizer, Memory, element_fields
from model.keypad import goal_value, shows_value
from tasks import load_all
from tests.model.expert_walk import expert_steps


@pytest.mark.parametrize("goal, kinds", [
    ("What time is the dentist on May 3?", {TIME}),
    ("When is my flight?", {TIME, DATE}),
    ("Which day is Mina's party?", {DATE}),
    ("내일 회의 몇 시야?", {TIME}),
    ("What's Lee's phone number?", {PHONE}),
    ("Tell me the number of Mina Park", {PHONE}),
    ("이서준 전화번호 알려줘", {PHONE}),
    ("How much does the lamp cost?", {MONEY}),
    ("잔액 알려줘", {MONEY}),
    ("What is Mina's email address?", {EMAIL}),
    ("What's the battery level?", {PERCENT}),
    # asks, but for no shape
    ("Tell me the number of events on Monday", set()),
    ("메모에 적어 둔 현관 비밀번호 알려줘", set()),  # 비밀번호 is a password, not a phone number
    ("Find out what the phone is called", set()),  # the phone, not its number
    ("What is 7 times 8?", set()),  # "times" of arithmetic, not a time of day
    ("18 곱하기 92는 얼마야?", set()),  # arithmetic asks for a number, not for money
    # does not ask at all
    ("Add Mina with phone number 010-1234-5678", set()),
    ("Set the alarm time to 7:30", set()),
    ("", set()),
])
def test_the_asked_kinds_are_read_off_the_wording(goal, kinds):
    assert asked_kinds(goal) == kinds


@pytest.mark.parametrize("text, kinds", [
    ("15:00", {TIME}), ("3 pm", {TIME}), ("오후 3시", {TIME}),
    ("2026-02-24", {DATE}), ("2월 24일", {DATE}), ("Feb 24", {DATE}), ("24 February", {DATE}),
    ("010-1682-7345", {PHONE}), ("+82 10-9790-2716", {PHONE}),
    ("₩12,000", {MONEY}), ("$1,234.50", {MONEY}), ("12,000원", {MONEY}),
    ("mina@mail.com", {EMAIL}), ("60%", {PERCENT}),
    ("Team meeting", set()), ("1656", set()), ("", set()),
])
def test_texts_are_read_for_their_shapes(text, kinds):
    assert shapes(text) == kinds


def test_goal_value_follows_the_keypad_parse():
    assert goal_value("What is 91 × 85?") == 7735
    assert goal_value("Compute 3 + 4 × 2") == 11  # times before plus, as the calculator does
    assert goal_value("Calculate negative 54 times 16") == -864
    assert goal_value("What is 8 / 0?") is None  # no value, no crash
    assert goal_value("Call 010-1682-7345.") is None  # a phone number is no arithmetic
    assert shows_value("= 7,735", 7735) and shows_value("–864", -864)
    assert shows_value("0.3333333333", goal_value("What is 1 / 3?"))
    assert not shows_value("7736", 7735) and not shows_value("7735 items", 7735) and not shows_value("", 7735)


def _answer_steps():
    registry = load_all()
    for template in sorted(registry):
        t = registry[template]
        for inst, obs, action in expert_steps(template, seeds=2, steps=60, forms=t.forms, wordings=len(t.goals)):
            if action.type == "answer":
                yield inst, obs, action


def test_every_expert_answer_has_the_shape_its_goal_asks_for(tokenizer):
    """Over every wording of every template, both looks: the text the expert answers with is shown by an
    element the flags point at -- the asked shape (22) and, for arithmetic, the value (23)."""
    fz = Featurizer(tokenizer)
    asked = valued = 0
    for inst, obs, action in _answer_steps():
        kinds = asked_kinds(inst.goal)
        value = goal_value(inst.goal)
        if not kinds and value is None:
            continue
        feats = fz(inst.goal, obs, Memory(), with_image=False)
        flags = feats.arrays["el_flags"]
        showing = [i for i, e in enumerate(feats.elements)
                   if any(action.text in f for f in element_fields(e)[:4] if f)]
        assert showing, (inst.goal, action.text)
        if kinds:
            asked += 1
            assert kinds & shapes(action.text), (inst.goal, action.text)
            assert any(flags[i, 22] for i in showing), (inst.goal, action.text)
        if value is not None:
            valued += 1
            assert shows_value(action.text, value), (inst.goal, action.text)
            assert any(flags[i, 23] for i in showing), (inst.goal, action.text)
    assert asked >= 40 and valued >= 20  # read_time, read_phone, read_balance, read_price; two calculator tasks


def test_answer_flags_stay_off_when_the_goal_asks_for_nothing(tokenizer):
    fz = Featurizer(tokenizer)
    for template in ("calendar.reschedule", "contacts.add_contact", "shop.checkout_cart"):
        for inst, obs, action in expert_steps(template, seeds=1, steps=30):
            feats = fz(inst.goal, obs, Memory(), with_image=False)
            assert not feats.arrays["el_flags"][:, 22].any(), inst.goal


def test_keys_never_count_as_the_result(tokenizer):
    """A keypad key "7" is not the result 7; the display showing 7 is."""
    fz = Featurizer(tokenizer)
    from controllers.actions import OpenApp

    controller = SimController(form="phone", seed=3)
    controller.execute(OpenApp(app="com.handa.calculator"))
    for key in ("3", "+", "4", "="):
        obs = controller.observe()
        button = next(e for e in obs.elements if e.name == key and e.states.clickable)
        from controllers.actions import Click, ElementTarget

        controller.execute(Click(target=ElementTarget(id=button.id)))
    feats = fz("What is 3 + 4?", controller.observe(), Memory(), with_image=False)
    flagged = [e for i, e in enumerate(feats.elements) if feats.arrays["el_flags"][i, 23]]
    assert flagged and all(not e.states.clickable or e.name != "7" for e in flagged)
    assert any("7" in (e.name + e.value + e.description) for e in flagged)
