"""Atomic-instruction episodes: what may be named, the wordings, and the expert that labels them."""
from __future__ import annotations

import random

import pytest

from controllers.actions import Click, Done, ElementTarget, LongPress, TypeText
from controllers.policy import HistoryEntry
from model.atomic import (AtomicExpert, Part, candidates, heldout_only_keys, id_referent, instruction,
                          normalized_key, referent)


def _screen_with(key: str, template: str = "settings.wifi", seed: int = 1, form: str = "phone"):
    """A sim controller whose screen shows ``key`` (or a key it begins), reached by the template's expert."""
    from controllers.sim.controller import SimController
    from tasks.base import make_instance
    from tasks.expert import ExpertPolicy

    inst = make_instance(template, seed=seed, form=form, split="train")
    controller, expert = SimController(inst.device), ExpertPolicy(inst)
    expert.reset(inst.goal)
    for _ in range(12):
        obs = controller.observe()
        if any(e.attrs.get("sim-key", "").startswith(key) for e in obs.elements):
            return controller
        controller.execute(expert.decide(inst.goal, obs, []).action)
    raise AssertionError(f"{key} never appeared")


def _key(obs, e_id):
    return obs.element(e_id).attrs["sim-key"]


def _run(controller, expert, goal="g", limit=8):
    """Play ``expert`` on ``controller`` until done; the actions it chose."""
    history, actions = [], []
    for step in range(limit):
        obs = controller.observe()
        action = expert.decide(goal, obs, history).action
        actions.append((action, obs))
        if isinstance(action, Done):
            return actions
        result = controller.execute(action)
        history.append(HistoryEntry(step=step, action=action, ok=result.ok, error=result.error))
    raise AssertionError("the expert never said done")


def test_controls_only_held_out_tasks_use_are_never_named():
    excluded = heldout_only_keys()
    # the Bluetooth and Location switches are held-out tasks' controls; Wi-Fi is a seen task's
    assert {"settings:bluetooth", "settings:location"} <= excluded
    assert "settings:wifi" not in excluded and "settings:airplane" not in excluded
    controller = _screen_with("settings:bluetooth")
    obs = controller.observe()
    named = {e.attrs["sim-key"] for e, _ in candidates(obs, excluded)}
    assert "settings:wifi" in named and "settings:bluetooth" not in named and "settings:location" not in named
    rng = random.Random(0)
    for _ in range(200):
        _, parts = instruction(obs, rng, excluded)
        assert not {normalized_key(p.key) for p in parts} & excluded


def test_numbers_in_keys_fold_and_referents_drop_symbols_and_counts():
    assert normalized_key("contacts:item:c12") == "contacts:item:c#"
    assert normalized_key("files:ctx:f64:favorite") == "files:ctx:f#:favorite"
    from controllers.elements import Rect, Role, UIElement

    def el(**kw):
        return UIElement(id=1, role=Role.button, bounds=Rect(left=0, top=0, right=10, bottom=10), **kw)

    assert referent(el(name="★ Favorite")) == "Favorite"
    assert referent(el(name="장바구니 (2)")) == "장바구니"
    assert referent(el(name="☆", description="Pin to top")) == "Pin to top"
    assert referent(el(name="", hint="검색…")) == "검색"
    assert referent(el(name="7")) == ""
    assert id_referent(el(name="Phone name", attrs={"resource-id": "com.handa.settings:id/device_name"})) == "device name"
    assert id_referent(el(name="Kim", attrs={"resource-id": "com.handa.contacts:id/c4"})) == ""
    assert id_referent(el(name="Kim")) == ""


def test_ambiguous_referents_are_not_named():
    controller = _screen_with("settings:wifi")
    obs = controller.observe()
    found = candidates(obs, frozenset())
    refs = [r.casefold() for _, r in found]
    assert len(refs) == len(set(refs)) and len(found) >= 4
    # every candidate is an enabled control of the foreground app or the phone's own buttons
    for e, _ in found:
        assert e.states.enabled and e.attrs["sim-key"].startswith(("settings:", "sys:"))


def test_instructions_name_their_controls_in_english_and_korean():
    controller = _screen_with("settings:wifi")
    obs = controller.observe()
    rng = random.Random(3)
    goals = [instruction(obs, rng, frozenset()) for _ in range(300)]
    assert all(g is not None for g in goals)
    texts = [g for g, _ in goals]
    assert any(t.endswith(("줘", "줘.")) for t in texts) and any(t.startswith(("Tap", "Turn", "Click")) for t in texts)
    multi = [(g, parts) for g, parts in goals if len(parts) > 1]
    by_id = [p for _, parts in goals for p in parts if p.by_id]
    assert by_id and all("_" not in p.referent and p.referent.casefold() not in
                         {r.casefold() for _, r in candidates(obs, frozenset())} for p in by_id)
    assert multi, "some goals name several controls"
    for g, parts in goals:
        for p in parts:
            assert p.referent.casefold() in g.casefold()
            if p.kind == "type":
                assert p.text in g
        if len(parts) > 1:  # a click may leave the page: several parts only among controls that stay
            assert all(p.kind in ("set", "pick", "type") for p in parts)
            assert sum(p.kind == "pick" for p in parts) <= 1


def test_the_expert_sets_each_switch_then_says_done():
    controller = _screen_with("settings:wifi")
    obs = controller.observe()
    wifi = next(e for e in obs.elements if e.attrs.get("sim-key") == "settings:wifi")
    plane = next(e for e in obs.elements if e.attrs.get("sim-key") == "settings:airplane")
    parts = [Part("set", "settings:wifi", "Wi-Fi", wish=not wifi.states.checked),
             Part("set", "settings:airplane", "Airplane mode", wish=not plane.states.checked)]
    actions = _run(controller, AtomicExpert(parts))
    clicked = [_key(o, a.target.id) for a, o in actions if isinstance(a, Click)]
    assert clicked == ["settings:wifi", "settings:airplane"]
    after = controller.observe()
    assert bool(next(e for e in after.elements if e.attrs.get("sim-key") == "settings:wifi").states.checked) \
        == (not wifi.states.checked)
    # already as wished: nothing to do
    again = _run(controller, AtomicExpert([Part("set", "settings:wifi", "Wi-Fi", wish=not wifi.states.checked)]))
    assert len(again) == 1 and isinstance(again[0][0], Done)


def test_the_expert_types_korean_into_a_field_and_clicks_once():
    controller = _screen_with("settings:rename_field", template="settings.rename_device")
    text = "내 폰 '알파'"
    actions = _run(controller, AtomicExpert([Part("type", "settings:rename_field", "Device name", text=text)]))
    assert [type(a) for a, _ in actions] == [TypeText, Done]
    assert actions[0][0].text == text and actions[0][0].clear
    field = next(e for e in controller.observe().elements if e.attrs.get("sim-key") == "settings:rename_field")
    assert field.value == text
    # a click is done once clicked, even though nothing on the element shows it
    controller = _screen_with("settings:wifi")
    actions = _run(controller, AtomicExpert([Part("click", "settings:display", "Display")]))
    assert [type(a) for a, _ in actions] == [Click, Done]
    controller = _screen_with("contacts:item:", template="contacts.favorite")
    row = next(e for e in controller.observe().elements if e.attrs.get("sim-key", "").startswith("contacts:item:"))
    actions = _run(controller, AtomicExpert([Part("long_press", row.attrs["sim-key"], row.name)]))
    assert [type(a) for a, _ in actions] == [LongPress, Done]


def test_a_learner_s_own_click_on_the_named_control_counts_and_a_vanished_one_ends():
    controller = _screen_with("settings:wifi")
    expert = AtomicExpert([Part("click", "settings:display", "Display")])
    obs = controller.observe()
    expert.decide("g", obs, [])
    display = next(e for e in obs.elements if e.attrs.get("sim-key") == "settings:display")
    learner = Click(target=ElementTarget(id=display.id))
    result = controller.execute(learner)
    history = [HistoryEntry(step=0, action=learner, ok=result.ok)]
    assert isinstance(expert.decide("g", controller.observe(), history).action, Done)
    # the learner left the page before the named switch was set: no label, the episode ends
    expert = AtomicExpert([Part("set", "settings:wifi", "Wi-Fi", wish=True)])
    obs = _screen_with("contacts:add", template="contacts.add_contact").observe()
    with pytest.raises(LookupError):
        expert.decide("g", obs, [])


def test_atomic_episodes_label_every_step_and_end_with_done():
    from model.codec import VERBS
    from model.features import Featurizer
    from model.policy import CHECKPOINT
    from model.splits import seen_templates
    from model.train import Collector, TrainConfig
    from tasks.expert import PACKAGES
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast.from_pretrained(str(CHECKPOINT))
    apps = sorted(PACKAGES.values())
    featurizer = Featurizer(tokenizer, apps=apps)
    # no random perturbations: one that leaves the page ends the episode without a done (by design)
    collector = Collector(featurizer, apps, TrainConfig(atomic=1.0, perturb=0.0), random.Random(4), seen_templates())
    episodes = [collector.episode(None, 0.0) for _ in range(60)]
    assert sum(map(len, episodes)) > 100 and collector.misses == 0 and collector.expert_errors == 0
    done = VERBS.index("done")
    ended = [e for e in episodes if e]
    assert all(e[-1][1]["verb"] == done for e in ended)
    assert sum(len(e) > 2 for e in ended) > 5  # several parts, or a nag first
