"""HandaEnsemble: members decide together (averaged log-probabilities), save and load as one checkpoint."""
from __future__ import annotations

import torch
from transformers import AutoModel

from controllers.actions import Click, ElementTarget
from controllers.sim.controller import SimController
from model.features import Featurizer, Memory, collate
from model.modeling_handa import EL_VERBS, GLOBAL_VERBS, HandaEnsemble, HandaEnsembleConfig, HandaModel


def _ensemble(tokenizer, members: int = 2) -> HandaEnsemble:
    torch.manual_seed(0)
    cfg = HandaEnsembleConfig(members=members, vocab_size=len(tokenizer), d_model=32, n_layer=1, n_head=2,
                              d_ff=64, pad_token_id=tokenizer.pad_token_id)
    ensemble = HandaEnsemble(cfg).eval()
    with torch.no_grad():  # members with opinions of their own, far apart
        for i, member in enumerate(ensemble.members):
            for p in member.parameters():
                p.add_(torch.randn_like(p) * (0.5 + i))
    return ensemble


def _batch(tokenizer, goal: str = "Turn on Wi-Fi") -> dict:
    obs = SimController(form="phone", seed=1, expose_keys=False).observe()
    feats = Featurizer(tokenizer)(goal, obs, Memory(), with_image=True)
    return collate([feats.arrays], tokenizer.pad_token_id)


def test_the_ensemble_picks_the_action_of_the_mean_log_probabilities(tokenizer):
    ensemble = _ensemble(tokenizer)
    batch = _batch(tokenizer)
    with torch.no_grad():
        out = ensemble(**batch)
        tables = [m.action_table(m.encode(batch)).log_softmax(-1) for m in ensemble.members]
    mean = torch.stack(tables).mean(0)[0]
    n, e = batch["el_tok"].shape[1], len(EL_VERBS)
    best = int(mean.argmax())
    if best < n * e:
        assert (int(out["element_choice"][0]), int(out["verb_choice"][0])) == (best // e, EL_VERBS[best % e])
    else:
        assert int(out["verb_choice"][0]) == GLOBAL_VERBS[best - n * e]
    # confidence: the renormalized geometric mean of the members' probabilities
    assert abs(float(out["confidence"][0]) - float(mean.softmax(-1).max())) < 1e-5


def test_one_member_decides_as_the_plain_model(tokenizer):
    ensemble = _ensemble(tokenizer, members=1)
    single = HandaModel(ensemble.config).eval()
    single.load_state_dict(ensemble.members[0].state_dict())
    batch = _batch(tokenizer, "Set the brightness to 40%")
    with torch.no_grad():
        a, b = ensemble(**batch), single(**batch)
    for key in ("verb_choice", "element_choice"):
        assert torch.equal(a[key], b[key])
    for key in ("span_start", "xbin", "app", "key", "cell"):
        assert torch.allclose(a[key], b[key], atol=1e-5), key


def test_avoided_cells_are_never_chosen(tokenizer):
    ensemble = _ensemble(tokenizer)
    batch = _batch(tokenizer)
    with torch.no_grad():
        first = ensemble(**batch)
    n, e = batch["el_tok"].shape[1], len(EL_VERBS)
    verb, element = int(first["verb_choice"][0]), int(first["element_choice"][0])
    cell = element * e + EL_VERBS.index(verb) if verb in EL_VERBS else n * e + GLOBAL_VERBS.index(verb)
    with torch.no_grad():
        again = ensemble(**batch, avoid=torch.tensor([[cell]]))
    assert (int(again["verb_choice"][0]), int(again["element_choice"][0])) != (verb, element) or verb not in EL_VERBS


def test_saved_ensemble_loads_through_auto_model(tokenizer, tmp_path):
    ensemble = _ensemble(tokenizer)
    ensemble.save_pretrained(str(tmp_path))
    loaded = AutoModel.from_pretrained(str(tmp_path)).eval()
    assert isinstance(loaded, HandaEnsemble) and len(loaded.members) == 2
    batch = _batch(tokenizer)
    with torch.no_grad():
        a, b = ensemble(**batch), loaded(**batch)
    assert torch.equal(a["verb_choice"], b["verb_choice"]) and torch.equal(a["element_choice"], b["element_choice"])
    assert torch.equal(loaded.app_lexicon, loaded.members[0].app_lexicon)


def test_training_the_ensemble_averages_its_members_losses(tokenizer):
    from model.codec import encode
    from model.train import _labels

    ensemble = _ensemble(tokenizer)
    obs = SimController(form="phone", seed=1, expose_keys=False).observe()
    feats = Featurizer(tokenizer)("Turn on Wi-Fi", obs, Memory(), with_image=False)
    target = encode(Click(target=ElementTarget(id=feats.elements[0].id)), obs, feats)
    batch, labels = collate([feats.arrays], tokenizer.pad_token_id), _labels([target.as_dict()])
    with torch.no_grad():
        out = ensemble(labels=labels, **batch)
        each = [float(m(labels=labels, **batch)["loss"]) for m in ensemble.members]
    assert abs(float(out["loss"]) - sum(each) / 2) < 1e-4
