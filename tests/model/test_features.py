"""Features: the pruning policy, robustness to odd input, and no peeking at sim keys."""
from __future__ import annotations

import numpy as np

from controllers.elements import Observation, Rect, ScreenFrame, UIElement
from controllers.sim.controller import SimController
from model.features import Featurizer, Memory, prune


def _el(i, **kw):
    kw.setdefault("bounds", Rect(left=0, top=i % 700, right=100, bottom=i % 700 + 10))
    return UIElement(id=i, **kw)


def test_prune_keeps_interactive_first_and_tree_order():
    els = [_el(i, name=f"text {i}") for i in range(600)]
    els += [_el(1000 + i, name=f"button {i}", states={"clickable": True}) for i in range(100)]
    els += [_el(2000, name="hidden", states={"visible": False}),
            _el(2001, name="off", bounds=Rect(left=0, top=5000, right=10, bottom=5010)),
            _el(2002, name="flat", bounds=Rect(left=0, top=0, right=0, bottom=10)),
            _el(2003, role="container")]
    kept = prune(els, 400, 800, limit=512)
    assert len(kept) == 512
    ids = [e.id for e in kept]
    assert 2003 not in [e.id for e in prune(els[-4:], 400, 800, limit=512)]  # bare layout never counts
    assert all(1000 + i in ids for i in range(100))  # every interactive element survives
    assert not {2000, 2001, 2002, 2003} & set(ids)
    assert ids == sorted(ids)  # presented in tree order
    assert ids[:412] == list(range(412))  # the text elements kept are the first ones


def test_sim_keys_do_not_change_features(tokenizer):
    fz = Featurizer(tokenizer)
    with_keys = SimController(form="phone", seed=4).observe()
    without = SimController(form="phone", seed=4, expose_keys=False).observe()
    assert any("sim-key" in e.attrs for e in with_keys.elements)
    a = fz("Turn on Wi-Fi", with_keys, Memory(), with_image=False).arrays
    b = fz("Turn on Wi-Fi", without, Memory(), with_image=False).arrays
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), k


def test_odd_inputs_make_well_formed_arrays(tokenizer):
    fz = Featurizer(tokenizer, max_elements=512)
    screen = ScreenFrame(width=400, height=800)
    huge = [_el(i, role="SomethingNew", name="가" * 5000 + "🎉", value="\x00\ud7a3" * 10,
                states={"clickable": i % 2 == 0}) for i in range(5000)]
    for elements in ([], huge):
        obs = Observation(platform="sim", screen=screen, elements=elements)
        f = fz("", obs, Memory())
        n = f.arrays["el_tok"].shape[0]
        assert n == min(len(elements), 512)
        assert "image" not in f.arrays  # no screenshot: none invented
        assert f.arrays["goal_ids"].shape[0] >= 1
        assert (f.arrays["el_tok"] < len(tokenizer)).all()


def test_memory_is_fixed_size():
    m = Memory()
    for i in range(200):
        m.push(i % 14, list(range(50)), list(range(50)), ok=i % 3 == 0, changed=True)
    assert len(m.verbs) == len(m.texts) == len(m.typed) == len(m.ok) == 4
    assert all(len(t) <= 8 for t in m.texts + m.typed)
    assert m.steps == 200


def test_platform_ids_are_read_as_words_and_matched_loosely(tokenizer):
    from model.features import SEG_OFFSETS, SEGMENTS, element_fields, id_words, loose

    assert id_words("com.handa.shop:id/add_to_cart") == "add to cart"
    assert id_words("") == ""
    assert loose("Wi-Fi") == loose("wifi") == "wifi"
    switch = _el(0, role="switch", name="블루투스", states={"clickable": True},
                 attrs={"resource-id": "com.handa.settings:id/bluetooth"})
    other = _el(1, role="switch", name="Vibration", states={"clickable": True})
    assert element_fields(switch)[4] == "bluetooth"
    obs = Observation(platform="sim", screen=ScreenFrame(width=400, height=800), elements=[switch, other])
    f = Featurizer(tokenizer)("Turn on Bluetooth and set Vibrate", obs, Memory(), with_image=False).arrays
    rid = len(SEGMENTS) - 1
    lo = SEG_OFFSETS[rid]
    assert (f["el_seg"][0, lo:lo + SEGMENTS[rid][1]] == rid + 1).any()  # the id's tokens are in its segment
    assert not (f["el_seg"][1] == rid + 1).any()  # no id, no id tokens
    flags = f["el_flags"]
    assert flags[0, 9] == 1.0 and flags[0, 8] == 0.0  # the id matches the goal, the Korean label does not
    assert flags[1, 10] == 1.0  # "Vibration" is alike "Vibrate"
    assert flags[1, 9] == 0.0


def test_app_match_marks_apps_the_goal_names(tokenizer):
    apps = ["com.handa.contacts", "com.handa.messages", "com.handa.notes"]
    fz = Featurizer(tokenizer, apps=apps)
    obs = Observation(platform="sim", screen=ScreenFrame(width=400, height=800), elements=[])
    assert fz("Find Kim in Contacts and open it", obs, Memory()).arrays["app_match"].tolist() == [1, 0, 0]
    assert fz("Send a message to Kim", obs, Memory()).arrays["app_match"].tolist() == [0, 1, 0]
    assert fz("김하은 연락처 열어줘", obs, Memory()).arrays["app_match"].tolist() == [0, 0, 0]


def test_goal_coverage_marks_what_was_clicked_or_typed(tokenizer):
    from model.features import TOUCHED_IDS

    fz = Featurizer(tokenizer)
    obs = Observation(platform="sim", screen=ScreenFrame(width=400, height=800), elements=[])
    goal = "Send 'On my way' to 김하은"
    memory = Memory()
    assert not fz(goal, obs, memory).arrays["goal_touched"].any()
    name_ids = fz.text.encode("김하은")[0]
    memory.push(0, name_ids, [], ok=False, changed=True)  # a failed click touches nothing
    assert not fz(goal, obs, memory).arrays["goal_touched"].any()
    memory.push(0, name_ids, fz.text.encode("On my way")[0], ok=True, changed=True)
    arrays = fz(goal, obs, memory).arrays
    ids, offsets = fz.text.encode(goal)
    touched = {goal[a:b] for (a, b), t in zip(offsets, arrays["goal_touched"]) if t}
    assert "Send" not in touched and {"my", "way"} <= touched  # ("'On" after a quote is spelled apart)
    assert any("김" in t or "하은" in t for t in touched)
    for i in range(1000):
        memory.push(0, [i % 4000], [], ok=True, changed=True)
    assert len(memory.touched) <= TOUCHED_IDS
    assert memory.copy().touched == memory.touched and memory.copy().touched is not memory.touched


def test_echo_rows_hold_the_goal_words_an_element_is_called_by_or_leads_to(tokenizer):
    """The goal echo's inputs: per element, the goal's tokens its name / link lexicon entries hold with weight
    at least ECHO_MIN_WEIGHT (a token every launcher icon leads to, such as "to", echoes nowhere)."""
    from model.features import ECHO_MIN_WEIGHT, ECHO_TOKENS, element_key

    obs = SimController(form="phone", seed=4).observe()
    kept = prune(obs.elements, obs.screen.width, obs.screen.height, 512)
    keys = [element_key(e) for e in kept]
    first, second = [e for e, k in zip(kept, keys) if k and keys.count(k) == 1][:2]
    words = lambda s: tokenizer(s, add_special_tokens=False)["input_ids"]  # noqa: E731
    goal = "Open the zebra quartz thing"
    zebra, quartz, the = words(" zebra")[0], words(" quartz")[0], words(" the")[0]
    links = {element_key(first): {str(zebra): 1.0, str(the): ECHO_MIN_WEIGHT / 2}}
    names = {element_key(second): {str(quartz): 1.0}}
    fz = Featurizer(tokenizer, links=links, names=names)
    arrays = fz(goal, obs, Memory(), with_image=False).arrays
    kept = [e.id for e in kept]
    i, j = kept.index(first.id), kept.index(second.id)
    assert arrays["el_linked"].shape == arrays["el_named"].shape == (len(kept), ECHO_TOKENS)
    pad = tokenizer.pad_token_id
    assert arrays["el_linked"][i].tolist() == [zebra] + [pad] * (ECHO_TOKENS - 1)  # "the": too common
    assert arrays["el_named"][j].tolist() == [quartz] + [pad] * (ECHO_TOKENS - 1)
    others = [k for k in range(len(kept)) if k not in (i, j)]
    assert (arrays["el_linked"][others] == pad).all() and (arrays["el_named"][others] == pad).all()
    assert (arrays["el_named"][i] == pad).all()
