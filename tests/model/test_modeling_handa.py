"""The network's parts that training alone does not pin down: the identity bound of the target scores, dropout."""
from __future__ import annotations

import torch

from model.features import N_STATES
from model.modeling_handa import EL_VERBS, ElementEncoder, HandaConfig, HandaModel


def _table_inputs(n: int = 5, d: int = 16) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {"elements": torch.randn(1, n, d, generator=g) * 50, "cls": torch.randn(1, d, generator=g),
            "el_mask": torch.ones(1, n, dtype=torch.bool), "match": torch.zeros(1, n, ElementEncoder.N_MATCH),
            "asks": torch.zeros(1, dtype=torch.long), "el_role": torch.zeros(1, n, dtype=torch.long),
            "el_states": torch.zeros(1, n, N_STATES)}


def _model(bound: float) -> HandaModel:
    torch.manual_seed(0)
    model = HandaModel(HandaConfig(vocab_size=64, d_model=16, n_layer=1, n_head=2, d_ff=32, identity_bound=bound))
    with torch.no_grad():  # an element vector with strong opinions: scores far outside the bound
        model.act_el[1].weight.mul_(100.0)
        model.act_match.weight.zero_()
        model.act_match.bias.zero_()
        model.act_match.weight[:, 0] = 8.0  # the first match cue (the name occurs in the goal) adds 8
        if model.act_lex is not None:  # the identity-free scorer: silent here (tested on its own below)
            model.act_lex[2].weight.zero_()
            model.act_lex[2].bias.zero_()
    return model.eval()


def test_identity_bound_caps_what_an_element_vector_adds():
    enc = _table_inputs()
    n, e = enc["elements"].shape[1], len(EL_VERBS)
    free = _model(0.0).action_table(enc)[0, :n * e]
    assert free.abs().max() > 10  # without the bound the vector alone moves scores far
    model = _model(2.0)
    with torch.no_grad():
        per_el = model.action_table(enc)[0, :n * e] - model.ask_el(enc["asks"]).repeat(1, n)[0]
    assert per_el.abs().max() <= 2.0 + 1e-5


def test_a_match_cue_overrules_an_element_vector_only_when_bounded():
    enc = _table_inputs()
    n, e = enc["elements"].shape[1], len(EL_VERBS)
    click = EL_VERBS.index(0)  # verb 0 is click
    with torch.no_grad():
        raw = _model(0.0).action_table(enc)[0, :n * e].view(n, e)[:, click]
    unloved = int(raw.argmin())  # the element its vector ranks last as a click target
    enc["match"][0, unloved, 0] = 1.0  # ...is the one the goal names
    with torch.no_grad():
        free = _model(0.0).action_table(enc)[0, :n * e].view(n, e)[:, click]
        bounded = _model(2.0).action_table(enc)[0, :n * e].view(n, e)[:, click]
    assert int(free.argmax()) != unloved
    assert int(bounded.argmax()) == unloved
    # the pointer head is bounded the same way
    verb = torch.zeros(1, dtype=torch.long)
    with torch.no_grad():
        model = _model(2.0)
        model.ptr_match.weight.zero_()
        model.ptr_match.bias.zero_()
        model.ptr_match.weight[:, 0] = 8.0
        model.ptr_q.weight.mul_(100.0)
        assert int(model.pointer(enc, verb).argmax()) == unloved


def test_checkpoints_without_the_bound_load_unbounded():
    cfg = HandaConfig(vocab_size=64, d_model=16, n_layer=1, n_head=2, d_ff=32)
    assert cfg.identity_bound == 0.0
    score = torch.tensor([-50.0, 0.5, 50.0])
    assert torch.equal(HandaModel(cfg).bounded(score), score)


def test_the_lexical_scorer_cannot_tell_elements_apart_by_their_vectors():
    """Bounded models add an unbounded scorer of match cues, role and states only: two elements alike in
    those get the same share from it however different their learned vectors are."""
    torch.manual_seed(0)
    model = HandaModel(HandaConfig(vocab_size=64, d_model=16, n_layer=1, n_head=2, d_ff=32, identity_bound=2.0))
    assert HandaModel(HandaConfig(vocab_size=64, d_model=16, n_layer=1, n_head=2, d_ff=32)).act_lex is None
    enc = _table_inputs(n=3)
    enc["match"][0, :2, 0] = 1.0  # elements 0 and 1: the goal names both; 2: not named
    enc["el_states"][0, :, 4] = 1.0
    n, e = 3, len(EL_VERBS)
    with torch.no_grad():
        model.act_lex[0].weight.mul_(100.0)
        model.act_lex[2].weight.mul_(100.0)
        full = model.action_table(enc)[0, :n * e].view(n, e)
        model.act_lex[2].weight.zero_()
        model.act_lex[2].bias.zero_()
        rest = model.action_table(enc)[0, :n * e].view(n, e)
    lexical = full - rest
    assert torch.allclose(lexical[0], lexical[1])
    assert not torch.allclose(lexical[0], lexical[2])
    assert lexical.abs().max() > 10  # and it is not squashed


def test_dropout_acts_only_while_training():
    from model.modeling_handa import Block

    torch.manual_seed(0)
    block = Block(16, 2, 32, dropout=0.5)
    x, mask = torch.randn(1, 6, 16), torch.zeros(1, 1, 1, 6)
    block.train()
    assert not torch.allclose(block(x, mask), block(x, mask))  # a fresh mask each pass
    block.eval()
    assert torch.equal(block(x, mask), block(x, mask))
    assert HandaConfig(vocab_size=64).dropout == 0.0  # checkpoints from before it load without dropout
    model = HandaModel(HandaConfig(vocab_size=64, d_model=16, n_layer=2, n_head=2, d_ff=32, dropout=0.1))
    assert all(b.drop.p == 0.1 for b in model.blocks)
