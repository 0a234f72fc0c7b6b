"""Stacked members (model/stacked.py): one pass of K-row operations decides exactly as K separate passes."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from controllers.sim.controller import SimController
from model.features import Featurizer, Memory, collate
from model.modeling_handa import HandaEnsemble, HandaEnsembleConfig
from model.stacked import StackedConv2d, StackedEmbedding, StackedLayerNorm, StackedLinear, stack


def _ensemble(tokenizer, members: int) -> HandaEnsemble:
    torch.manual_seed(1)
    cfg = HandaEnsembleConfig(members=members, vocab_size=len(tokenizer), d_model=32, n_layer=2, n_head=2,
                              d_ff=64, pad_token_id=tokenizer.pad_token_id, apps=["com.a", "com.b"])
    ensemble = HandaEnsemble(cfg).eval()
    with torch.no_grad():  # members far apart, scalars and free parameters included
        for i, member in enumerate(ensemble.members):
            for p in member.parameters():
                p.add_(torch.randn_like(p) * 0.05 * (1 + i))
    return ensemble


def _batch(tokenizer, goal: str, elements: bool = True, image: bool = True) -> dict:
    obs = SimController(form="phone", seed=2, expose_keys=False).observe()
    if not elements:
        obs = obs.model_copy(update={"elements": []})
    feats = Featurizer(tokenizer, apps=["com.a", "com.b"])(goal, obs, Memory(), with_image=image)
    return collate([feats.arrays], tokenizer.pad_token_id)


@pytest.mark.parametrize("members", [2, 3])
@pytest.mark.parametrize("elements,image", [(True, True), (True, False), (False, True)])
def test_stacked_members_decide_as_separate_passes(tokenizer, members, elements, image):
    ensemble = _ensemble(tokenizer, members)
    batch = _batch(tokenizer, "Set the brightness to 40% and open 설정", elements, image)
    if elements:
        batch["avoid"] = torch.tensor([[0, 5]])
        batch["avoid_apps"] = torch.tensor([[True, False]])
    with torch.inference_mode():
        fast, slow = ensemble(stacked=True, **batch), ensemble(stacked=False, **batch)
        default = ensemble(**batch)  # one observation at inference: stacked
    assert fast.keys() == slow.keys()
    for key in fast:
        assert fast[key].shape == slow[key].shape, key
        assert torch.allclose(fast[key].float(), slow[key].float(), rtol=1e-4, atol=1e-4), key
        assert torch.equal(default[key], fast[key]), key
    for key in ("verb_choice", "element_choice"):
        assert torch.equal(fast[key], slow[key])


def test_stacked_copy_follows_the_members_after_training(tokenizer):
    ensemble = _ensemble(tokenizer, 2)
    batch = _batch(tokenizer, "Turn on Wi-Fi")
    with torch.inference_mode():
        before = ensemble(**batch)["verb"]
    ensemble.train()
    with torch.no_grad():
        for p in ensemble.members[1].parameters():
            p.mul_(-1.0)
    ensemble.eval()
    with torch.inference_mode():
        after, slow = ensemble(**batch)["verb"], ensemble(stacked=False, **batch)["verb"]
    assert not torch.allclose(before, after) and torch.allclose(after, slow, atol=1e-4)


def test_stacked_ensemble_refuses_a_batch_of_several_observations(tokenizer):
    ensemble = _ensemble(tokenizer, 2)
    one = _batch(tokenizer, "Turn on Wi-Fi")
    two = {k: torch.cat([v, v]) for k, v in one.items()}
    with torch.inference_mode():
        out = ensemble(**two)  # more than one observation: the members run one after the other
        assert out["verb"].shape[0] == 2
        with pytest.raises(ValueError, match="one observation"):
            ensemble(stacked=True, **two)


def test_stacked_layers_apply_member_k_to_row_k():
    torch.manual_seed(0)
    lins = [nn.Linear(4, 3) for _ in range(2)]
    embs = [nn.Embedding(7, 3) for _ in range(2)]
    norms = [nn.LayerNorm(3) for _ in range(2)]
    convs = [nn.Conv2d(3, 5, kernel_size=2, stride=2) for _ in range(2)]
    for n in norms:
        nn.init.normal_(n.weight), nn.init.normal_(n.bias)
    x, ids, img = torch.randn(2, 6, 4), torch.randint(0, 7, (2, 5)), torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(StackedLinear(lins)(x), torch.stack([lins[k](x[k]) for k in range(2)]), atol=1e-6)
        assert torch.equal(StackedEmbedding(embs)(ids), torch.stack([embs[k](ids[k]) for k in range(2)]))
        y = torch.randn(2, 6, 3)
        assert torch.allclose(StackedLayerNorm(norms)(y), torch.stack([norms[k](y[k]) for k in range(2)]), atol=1e-6)
        want = torch.cat([convs[k](img[k:k + 1]) for k in range(2)])
        assert torch.allclose(StackedConv2d(convs)(img), want, atol=1e-5)
        with pytest.raises(ValueError, match="one row per member"):
            StackedEmbedding(embs)(torch.tensor([1, 2, 3]))


def test_members_with_different_buffers_cannot_be_stacked():
    a, b = nn.BatchNorm1d(3), nn.BatchNorm1d(3)
    b.running_mean.add_(1.0)
    with pytest.raises(ValueError, match="differs between members"):
        stack([a, b])
