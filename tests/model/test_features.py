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
            _el(2002, name="flat", bounds=Rect(left=0, top=0, right=0, bottom=10))]
    kept = prune(els, 400, 800, limit=512)
    assert len(kept) == 512
    ids = [e.id for e in kept]
    assert all(1000 + i in ids for i in range(100))  # every interactive element survives
    assert not {2000, 2001, 2002} & set(ids)
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
