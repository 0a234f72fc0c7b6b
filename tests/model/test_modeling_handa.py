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


def _echo_batch(named_token: int) -> dict[str, torch.Tensor]:
    """Two elements that look alike; element 0's name lexicon entry holds ``named_token`` (0: nothing)."""
    goal = torch.tensor([[5, 6, 7, 8]])
    el_tok = torch.zeros(1, 2, 42, dtype=torch.long)
    el_seg = torch.zeros(1, 2, 42, dtype=torch.long)
    el_tok[0, :, 0], el_seg[0, :, 0] = 9, 1
    named = torch.zeros(1, 2, 6, dtype=torch.long)
    named[0, 0, 0] = named_token
    from model.features import MEMORY_SLOTS, MEMORY_TOKENS, N_BOX, N_TEXTFLAGS
    return {"goal_ids": goal, "el_tok": el_tok, "el_seg": el_seg, "el_role": torch.zeros(1, 2, dtype=torch.long),
            "el_states": torch.zeros(1, 2, N_STATES), "el_box": torch.full((1, 2, N_BOX), 0.5),
            "el_flags": torch.zeros(1, 2, N_TEXTFLAGS), "el_mask": torch.ones(1, 2, dtype=torch.bool),
            "el_named": named, "el_linked": torch.zeros(1, 2, 6, dtype=torch.long),
            "has_image": torch.zeros(1, dtype=torch.bool),
            "mem_verbs": torch.full((1, MEMORY_SLOTS), -1), "mem_ok": torch.zeros(1, MEMORY_SLOTS, dtype=torch.long),
            "mem_text": torch.zeros(1, MEMORY_SLOTS, MEMORY_TOKENS, dtype=torch.long),
            "mem_typed": torch.zeros(1, MEMORY_SLOTS, MEMORY_TOKENS, dtype=torch.long),
            "ctx": torch.zeros(1, 7, dtype=torch.long), "app_match": torch.zeros(1, 1)}


def test_echo_maps_average_over_the_goal_words_that_name_an_element():
    model = HandaModel(HandaConfig(vocab_size=64, d_model=16, n_layer=1, n_head=2, d_ff=32, goal_echo=True))
    batch = _echo_batch(named_token=7)
    batch["el_linked"][0, 1, :2] = torch.tensor([5, 8])
    own = torch.zeros(1, 2, 4, dtype=torch.bool)
    own[0, 1, 1] = True
    mask = torch.ones(1, 4, dtype=torch.bool)
    own_map, named, linked = model.echo_maps(own, batch, batch["goal_ids"], mask, torch.float32)
    assert own_map[0].tolist() == [[0, 0, 0, 0], [0, 1, 0, 0]]
    assert named[0].tolist() == [[0, 0, 1, 0], [0, 0, 0, 0]]  # token 7 is the goal's third
    assert linked[0].tolist() == [[0, 0, 0, 0], [0.5, 0, 0, 0.5]]  # averaged, so two words weigh as one
    batch["goal_ids"][0, 3] = 0  # a padded goal position echoes nothing, nor do padded lexicon slots
    mask[0, 3] = False
    _, named, linked = model.echo_maps(own, batch, batch["goal_ids"], mask, torch.float32)
    assert linked[0, 1].tolist() == [1, 0, 0, 0] and named[0, 1].sum() == 0


def test_the_echo_tells_two_alike_elements_apart_only_when_on():
    """Elements 0 and 1 read the same; only the name lexicon says the goal calls element 0. With the echo,
    element 0's vector hears the goal; without it (older checkpoints) the lexicon rows change nothing."""
    for echo in (True, False):
        torch.manual_seed(0)
        model = HandaModel(HandaConfig(vocab_size=64, d_model=16, n_layer=2, n_head=2, d_ff=32,
                                       goal_echo=echo)).eval()
        with torch.no_grad():
            plain = model.encode(_echo_batch(named_token=0))["elements"][0]
            called = model.encode(_echo_batch(named_token=6))["elements"][0]
        assert torch.allclose(plain[0], plain[1], atol=1e-6)
        if echo:
            assert not torch.allclose(called[0], called[1], atol=1e-3)
            assert not torch.allclose(called[0], plain[0], atol=1e-3)
        else:
            assert torch.equal(called, plain)
    assert HandaConfig(vocab_size=64).goal_echo is False and HandaModel(HandaConfig(vocab_size=64)).echo is None
