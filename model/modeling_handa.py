"""HandaModel: one forward pass from (goal, UI elements, screenshot, memory) to a whole action.

Layout, top-down:

* ``HandaConfig``   -- sizes and the output vocabularies (verbs, keys, apps).
* ``HandaModel``    -- a ``PreTrainedModel``: encoders, a small transformer over
  one joint sequence ``[ctx, memory, goal tokens, screen grid, elements]``,
  then structured heads (verb, element pointer, point, copy spans, flags...).
* ``ElementEncoder`` / ``ScreenEncoder`` / ``Block`` -- the parts.

Why it is fast: every element is a single token (its text is pooled, not
spelled out), the output is read off in one pass instead of generated token
by token, and the episode so far is a fixed number of memory tokens.
Why it is exact: targets are pointers (to an element, to goal tokens, to an
element's tokens) rather than generated strings, so a typed name is copied
verbatim, whatever script it is written in.
"""
from __future__ import annotations

import math
from typing import Any, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers import AutoConfig, AutoModel, PretrainedConfig, PreTrainedModel

from model.codec import (AMOUNTS, DIRECTIONS, ELEMENT_VERBS, GRID, IGNORE, KEYS, MAX_COUNT, SHOWN_SEGMENTS,
                         TEXT_SOURCES, TRANSFORMS, VERBS, X_BINS)

# the action table: every element x each element verb, plus the verbs that need no element
EL_VERBS = sorted(ELEMENT_VERBS)
GLOBAL_VERBS = [v for v in range(len(VERBS)) if v not in ELEMENT_VERBS]
# a verb's column in its part of the table (-1: not in that part)
_EL_POS = torch.full((len(VERBS),), -1, dtype=torch.long)
_EL_POS[EL_VERBS] = torch.arange(len(EL_VERBS))
_GL_POS = torch.full((len(VERBS),), -1, dtype=torch.long)
_GL_POS[GLOBAL_VERBS] = torch.arange(len(GLOBAL_VERBS))
from model.features import (ELEMENT_TOKENS, MEMORY_SLOTS, N_BOX, N_STATES, N_TEXTFLAGS, ROLES, SEG_OFFSETS,
                            SEGMENTS)
from model.stacked import StackedEmbedding, stack

_VALUE = [name for name, _ in SEGMENTS].index("value")
_RID = [name for name, _ in SEGMENTS].index("rid")


class HandaConfig(PretrainedConfig):
    model_type = "handa"

    def __init__(self, vocab_size: int = 4096, d_model: int = 128, n_layer: int = 3, n_head: int = 4,
                 d_ff: int = 256, max_goal_tokens: int = 64, max_elements: int = 512, apps: Optional[list] = None,
                 pad_token_id: int = 0, lowercase: bool = False, links: Optional[dict] = None,
                 names: Optional[dict] = None, named_goal: bool = False, identity_bound: float = 0.0,
                 dropout: float = 0.0, goal_echo: bool = False, **kwargs):
        self.vocab_size = vocab_size
        self.d_model = d_model
        self.n_layer = n_layer
        self.n_head = n_head
        self.d_ff = d_ff
        self.max_goal_tokens = max_goal_tokens
        self.max_elements = max_elements
        self.apps = list(apps or [])
        self.lowercase = lowercase  # the featurizer reads texts lower-cased (see model.features.TextCache)
        self.links = dict(links or {})  # where elements lead (model/lexicon.py), read by the featurizer
        self.names = dict(names or {})  # what elements were called across seeds (model/lexicon.py), the same
        self.named_goal = named_goal  # reads which goal words the screen names through the lexicons (goal_named)
        # > 0: what an element's learned vector says for or against it as a target is squashed into
        # (-identity_bound, identity_bound) (see HandaModel.bounded) and an identity-free scorer of the match
        # cues, role and states (act_lex, unbounded) joins the action table. 0: off, as in older checkpoints
        self.identity_bound = identity_bound
        # residual dropout in the transformer blocks while training (0: none, as in older checkpoints)
        self.dropout = dropout
        # before every block each element adds what the goal says around the goal words it matches: its own
        # words, the names it wore elsewhere, the words it leads to (see HandaModel.echo_maps). False: off,
        # as in older checkpoints
        self.goal_echo = goal_echo
        self.verbs = list(VERBS)
        self.keys = list(KEYS)
        super().__init__(pad_token_id=pad_token_id, **kwargs)


# ---------------------------------------------------------------------- parts
class Block(nn.Module):
    """Pre-norm transformer block (attention + MLP)."""

    def __init__(self, d: int, n_head: int, d_ff: int, dropout: float = 0.0):
        super().__init__()
        self.n_head = n_head
        self.drop = nn.Dropout(dropout)  # an identity when the model is not training
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, d_ff), nn.GELU(), nn.Linear(d_ff, d))

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor) -> torch.Tensor:
        b, s, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, s, 3, self.n_head, d // self.n_head).permute(2, 0, 3, 1, 4)
        # explicit attention: for short sequences on a CPU it beats the fused kernel with a mask
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1])) + attn_mask
        y = att.softmax(-1) @ v
        x = x + self.drop(self.proj(y.transpose(1, 2).reshape(b, s, d)))
        return x + self.drop(self.mlp(self.ln2(x)))


def masked_pool(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean and max over dim -2 of ``x`` where ``mask``; zeros where nothing is kept."""
    m = mask.unsqueeze(-1).to(x.dtype)
    mean = (x * m).sum(-2) / m.sum(-2).clamp(min=1)
    mx = x.masked_fill(~mask.unsqueeze(-1), -1e4).amax(-2)
    mx = torch.where(mask.any(-1, keepdim=True), mx, torch.zeros_like(mx))
    return torch.cat([mean, mx], -1)


class ElementEncoder(nn.Module):
    """One vector per UI element: its text, role, states, box, and how its text matches the goal.

    Text is pooled per field (name, hint, description, value) with embedding
    bags, so no (elements x tokens x width) tensor is ever built. Returns the vectors, the match cues, per goal
    token where the screen shows it, and which goal tokens each element's text holds (for the goal echo).
    """

    N_MATCH = len(SEGMENTS) + 1 + N_TEXTFLAGS

    def __init__(self, d: int):
        super().__init__()
        self.text = nn.Linear(len(SEGMENTS) * d, d)
        self.role = nn.Embedding(len(ROLES), d)
        self.states = nn.Linear(N_STATES, d)
        self.box = nn.Sequential(nn.Linear(N_BOX, d), nn.GELU(), nn.Linear(d, d))
        self.match = nn.Sequential(nn.Linear(self.N_MATCH, d), nn.GELU(), nn.Linear(d, d))
        self.norm = nn.LayerNorm(d)

    def forward(self, tok_emb, el_tok, el_seg, el_role, el_states, el_box, el_flags, goal_ids, goal_mask):
        b, n, length = el_tok.shape
        d = tok_emb.weight.shape[-1]
        tok_mask = el_seg > 0
        fields = []
        for s, (_, budget) in enumerate(SEGMENTS):
            lo = SEG_OFFSETS[s]
            ids = el_tok[..., lo:lo + budget].reshape(b * n, budget)
            m = tok_mask[..., lo:lo + budget].reshape(b * n, budget).to(tok_emb.weight.dtype)
            w = m / m.sum(-1, keepdim=True).clamp(min=1)
            if isinstance(tok_emb, StackedEmbedding):  # members stacked (model/stacked.py): rows read their own
                fields.append(tok_emb.bag(ids, w, n).view(b, n, d))
            else:
                fields.append(F.embedding_bag(ids, tok_emb.weight, mode="sum", per_sample_weights=w).view(b, n, d))
        text = self.text(torch.cat(fields, -1))
        # lexical match with the goal: which of the element's tokens occur in the goal, per field
        hits = (el_tok.unsqueeze(-1) == goal_ids[:, None, None, :]) & goal_mask[:, None, None, :]
        hits = hits & tok_mask.unsqueeze(-1)  # (B, N, L, T)
        # per goal token: does the screen show it in a label (name, hint, description), a value, an id
        lo_value, lo_id = SEG_OFFSETS[_VALUE], SEG_OFFSETS[_RID]
        on_screen = (hits[:, :, :lo_value].flatten(1, 2).any(1).long()
                     + 2 * hits[:, :, lo_value:lo_id].flatten(1, 2).any(1).long()
                     + 4 * hits[:, :, lo_id:].flatten(1, 2).any(1).long())  # (B, T) codes 0..7
        exact = hits.any(-1).to(text.dtype)  # (B, N, L)
        seg_onehot = F.one_hot(el_seg, len(SEGMENTS) + 1)[..., 1:].to(text.dtype)  # (B, N, L, S)
        per_seg = torch.einsum("bnl,bnls->bns", exact, seg_onehot) / seg_onehot.sum(2).clamp(min=1)
        any_exact = exact.amax(-1, keepdim=True)
        match = torch.cat([per_seg, any_exact, el_flags], -1)
        x = text + self.role(el_role) + self.states(el_states) + self.box(el_box) + self.match(match)
        return self.norm(x), match, on_screen, hits.any(2)


class ScreenEncoder(nn.Module):
    """A small conv net over a 64x64 thumbnail.

    Gives an 8x8 map of cell features (for pointing at a screen position when
    there is no tree), 4x4 pooled tokens that join the transformer's sequence,
    and each element's share of the map (pooled by box overlap).
    """

    TOKENS = (GRID // 2) ** 2

    def __init__(self, d: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 32, kernel_size=4, stride=4), nn.GELU(),
            nn.Conv2d(32, 64, kernel_size=3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(64, d, kernel_size=1))
        self.pos = nn.Parameter(torch.zeros(self.TOKENS, d))
        self.cell_pos = nn.Parameter(torch.zeros(GRID * GRID, d))
        self.missing = nn.Parameter(torch.zeros(d))
        self.roi = nn.Linear(d, d)

    def forward(self, image: Optional[torch.Tensor], has_image: torch.Tensor, el_box: torch.Tensor):
        b = has_image.shape[0]
        d = self.pos.shape[-1]
        if image is None:
            cells = self.missing.view(-1, 1, d).expand(b, GRID * GRID, d)
        else:
            feat = self.net(image.float() / 255.0 - 0.5)  # (B, d, 8, 8)
            cells = feat.flatten(2).transpose(1, 2)
            cells = torch.where(has_image[:, None, None], cells, self.missing.view(-1, 1, d).expand_as(cells))
        tokens = F.avg_pool2d(cells.transpose(1, 2).reshape(b, d, GRID, GRID), 2).flatten(2).transpose(1, 2)
        # each element's share of each cell (separable box overlap)
        edges = torch.linspace(0, 1, GRID + 1, device=el_box.device)
        lo, hi = edges[:-1], edges[1:]
        ox = (torch.minimum(el_box[..., 2:3], hi) - torch.maximum(el_box[..., 0:1], lo)).clamp(min=0)
        oy = (torch.minimum(el_box[..., 3:4], hi) - torch.maximum(el_box[..., 1:2], lo)).clamp(min=0)
        w = (oy.unsqueeze(-1) * ox.unsqueeze(-2)).flatten(-2)  # (B, N, 64)
        w = w / w.sum(-1, keepdim=True).clamp(min=1e-6)
        roi = self.roi(torch.bmm(w, cells)) * has_image[:, None, None]
        return tokens + self.pos, cells + self.cell_pos, roi


class SpanClues:
    """Per goal token, lexical clues for where the text to type starts and ends.

    Whether the token (or one just before it, or just after it) also occurs in the field being typed into --
    "password: X" puts X right after the field's own word -- and whether some field on screen already holds
    it (typed already: copy something else). Template-free, so they carry over to new wordings.
    """

    N = 5
    VALUE = [i for i, (name, _) in enumerate(SEGMENTS) if name == "value"][0]

    @staticmethod
    def of(enc: dict[str, torch.Tensor], element: Optional[torch.Tensor]) -> torch.Tensor:
        goal = enc["goal_ids"]
        b, t = goal.shape
        zeros = torch.zeros(b, t, dtype=torch.float32, device=goal.device)
        if element is None:
            return torch.zeros(b, t, SpanClues.N, device=goal.device)
        rows = torch.arange(b, device=goal.device)
        toks, segs = enc["el_tok"][rows, element], enc["el_seg"][rows, element]
        in_field = ((goal[:, :, None] == toks[:, None, :]) & (segs > 0)[:, None, :]).any(-1).float()
        lo = SEG_OFFSETS[SpanClues.VALUE]
        hi = lo + SEGMENTS[SpanClues.VALUE][1]
        values = enc["el_tok"][:, :, lo:hi].reshape(b, -1)
        value_mask = (enc["el_seg"][:, :, lo:hi] > 0).reshape(b, -1)
        filled = ((goal[:, :, None] == values[:, None, :]) & value_mask[:, None, :]).any(-1).float()
        prev1 = torch.cat([zeros[:, :1], in_field[:, :-1]], 1)
        prev2 = torch.cat([zeros[:, :2], in_field[:, :-2]], 1)[:, :t]
        next1 = torch.cat([in_field[:, 1:], zeros[:, :1]], 1)
        return torch.stack([in_field, prev1, prev2, next1, filled], -1)


def pick_from_table(table: torch.Tensor, avoid: Optional[torch.Tensor], el_mask: torch.Tensor, verb: torch.Tensor,
                    confidence: torch.Tensor, pointer: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The action table's best cell as (verb, element, confidence).

    ``avoid``: (B, K) cells already tried on this very screen (-1 padding), never picked again. Rows without
    elements keep the ``verb`` and ``confidence`` of the screen-only verb head; ``pointer(verb)`` scores the
    elements for a verb the table gives no element for."""
    n = el_mask.shape[1]
    if avoid is not None and bool((avoid >= 0).any()):
        keep = avoid >= 0
        rows = torch.arange(avoid.shape[0], device=avoid.device)[:, None].expand_as(avoid)
        table = table.clone()
        table[rows[keep], avoid[keep]] = -1e4
    probs = table.softmax(-1)
    best = probs.argmax(-1)
    e = len(EL_VERBS)
    on_el = best < n * e
    table_verb = torch.where(on_el, torch.tensor(EL_VERBS)[(best % e).clamp(max=e - 1)],
                             torch.tensor(GLOBAL_VERBS)[(best - n * e).clamp(min=0)])
    has = el_mask.any(-1)
    verb = torch.where(has, table_verb, verb)
    confidence = torch.where(has, probs.amax(-1), confidence)
    element = torch.where(has & on_el, best // e, pointer(verb).argmax(-1))
    return verb, element, confidence


def mask_tried(out: dict[str, torch.Tensor], batch: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Mask the apps already opened and the keys already pressed on this very screen (one table cell each)."""
    if batch.get("avoid_apps") is not None and "app" in out:
        out["app"] = out["app"].masked_fill(batch["avoid_apps"], -1e4)
    if batch.get("avoid_keys") is not None:
        out["key"] = out["key"].masked_fill(batch["avoid_keys"], -1e4)
    return out


# the head groups ``HandaModel.heads`` can skip, and the verbs whose actions are decoded from them
# (model/codec.py decode); the other heads are a few small linear maps and always computed
OPTIONAL_HEADS = frozenset({"cell", "xbin", "flags", "span", "el_span", "app"})
_HEADS_OF_VERB = {"click_point": {"xbin"}, "type": {"span", "el_span", "flags"}, "answer": {"span", "el_span"},
                  "open_app": {"app"}}
_POINTING = {"click", "double_click", "long_press", "click_point", "type"}  # a grid cell when there is no tree


def heads_for(verb: torch.Tensor, has_elements: bool) -> frozenset[str]:
    """The optional head groups decoding ``verb`` (one per row) needs."""
    names = {VERBS[v] for v in verb.tolist() if 0 <= v < len(VERBS)}
    groups: set[str] = set()
    for name in names:
        groups |= _HEADS_OF_VERB.get(name, set())
        if name in _POINTING and not has_elements:
            groups = (groups - {"xbin"}) | {"cell"}
    return frozenset(groups)


# ---------------------------------------------------------------------- the model
class HandaPreTrainedModel(PreTrainedModel):
    config_class = HandaConfig
    base_model_prefix = "handa"
    main_input_name = "goal_ids"

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            nn.init.normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


class HandaModel(HandaPreTrainedModel):
    def __init__(self, config: HandaConfig):
        super().__init__(config)
        d = config.d_model
        self.tok_emb = nn.Embedding(config.vocab_size, d)
        self.goal_pos = nn.Embedding(config.max_goal_tokens, d)
        self.goal_touched = nn.Embedding(2, d)  # has the episode clicked or typed this goal token yet
        self.goal_on_screen = nn.Embedding(8, d)  # is this goal token shown in a label / a value / an id
        self.goal_quote = nn.Embedding(4, d)  # which quoted part of the goal holds this token (0: none; quotes.py)
        # does an element on screen go by this goal word elsewhere, or lead to it (model/features.py goal_named);
        # only in models trained with it, so checkpoints from before it load unchanged
        self.goal_named = nn.Embedding(4, d) if config.named_goal else None
        self.elements = ElementEncoder(d)
        self.screen = ScreenEncoder(d)
        # memory: the last MEMORY_SLOTS actions (verb, what it touched, what it typed, whether it worked)
        self.mem_verb = nn.Embedding(len(VERBS) + 1, d)
        self.mem_text = nn.Linear(2 * d, d)
        self.mem_typed = nn.Linear(2 * d, d)
        self.mem_ok = nn.Embedding(2, d)
        self.mem_slot = nn.Embedding(MEMORY_SLOTS, d)
        # context: step count, screen changed, landscape, has a tree, the app in front is the goal's (0/1/2),
        # the goal holds arithmetic (model/keypad.py), the goal asks for an answer (model/asks.py)
        self.ctx = nn.ModuleList([nn.Embedding(64, d), nn.Embedding(2, d), nn.Embedding(2, d), nn.Embedding(2, d),
                                  nn.Embedding(3, d), nn.Embedding(2, d), nn.Embedding(2, d)])
        # whether the goal asks (ctx 6) biases every verb directly, element verbs and the others: a goal
        # that asks ends with an answer, one that does not with done -- a rule, not a template's habit
        self.ask_global = nn.Embedding(2, len(GLOBAL_VERBS))
        self.ask_el = nn.Embedding(2, len(EL_VERBS))
        self.ask_verb = nn.Embedding(2, len(VERBS))
        self.cls = nn.Parameter(torch.zeros(d))
        self.type_emb = nn.Embedding(5, d)  # which part of the sequence a token belongs to
        self.blocks = nn.ModuleList([Block(d, config.n_head, config.d_ff, getattr(config, "dropout", 0.0))
                                     for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(d)
        # heads
        self.verb_head = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, len(VERBS)))
        self.act_cls = nn.Linear(d, d)
        self.act_el = nn.Sequential(nn.GELU(), nn.Linear(d, len(EL_VERBS)))
        self.act_global = nn.Linear(d, len(GLOBAL_VERBS))
        self.verb_emb = nn.Embedding(len(VERBS), d)
        self.ptr_q, self.ptr_k, self.ptr_bias = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, 1)
        # lexical shortcuts: how an element's text matches the goal feeds the pointer and the action table
        # directly, so "click what the goal names" does not have to be relearned per template
        self.ptr_match = nn.Linear(ElementEncoder.N_MATCH, len(VERBS))
        self.act_match = nn.Linear(ElementEncoder.N_MATCH, len(EL_VERBS))
        # with the identity bound: an unbounded scorer of each element that cannot know which element it is --
        # only how its texts match the goal, its role and its states -- so "the switch the goal names, not yet
        # as the goal wants it" can outweigh any prior about that control (the bounded vector still ranks the rest)
        self.act_lex = (nn.Sequential(nn.Linear(ElementEncoder.N_MATCH + N_STATES + len(ROLES), d), nn.GELU(),
                                      nn.Linear(d, len(EL_VERBS))) if config.identity_bound > 0 else None)
        self.app_gain = nn.Parameter(torch.tensor(6.0))  # the goal names an app: a bias toward opening it
        # the goal holds arithmetic (model/keypad.py): a learned push toward the app that does sums, for
        # goals that do not name it ("18 곱하기 92는 얼마야?")
        self.app_arithmetic = nn.Parameter(torch.zeros(max(len(config.apps), 1)))
        # votes for the app from the app lexicon (model/lexicon.py: the words each app's screens show, filled
        # in before training): each goal token votes for the apps that show it, weighted by how specific the
        # token is and by how much it matters in the goal (a learned weight from its contextual vector)
        self.register_buffer("app_lexicon", torch.zeros(max(len(config.apps), 1), config.vocab_size))
        self.app_lexicon_gain = nn.Parameter(torch.tensor([4.0, 1.0]))  # for the strongest vote, for the sum
        self.app_lexicon_weight = nn.Linear(d, 1)
        # whole numbers in the goal name slider positions (0..100): a learned push toward that x bin
        self.number_gain = nn.Parameter(torch.tensor(3.0))
        self.span_lex = nn.Linear(SpanClues.N, 2)
        self.cell_q, self.cell_k = nn.Linear(d, d), nn.Linear(d, d)
        self.cell_offset = nn.Linear(2 * d, 2)
        self.xbin = nn.Sequential(nn.Linear(2 * d, d), nn.GELU(), nn.Linear(d, X_BINS))
        self.flags = nn.Linear(2 * d, 3)
        self.source = nn.Linear(d, len(TEXT_SOURCES))
        self.transform = nn.Linear(d, len(TRANSFORMS))
        self.count = nn.Linear(d, MAX_COUNT)
        self.span_q = nn.Linear(2 * d, 2 * d)
        self.span_k = nn.Linear(d, 2 * d)
        self.seg_emb = nn.Embedding(len(SEGMENTS) + 1, d)
        self.el_span_q = nn.Linear(2 * d, 2 * d)
        self.el_span_k = nn.Linear(d, 2 * d)
        self.direction = nn.Linear(d, len(DIRECTIONS))
        self.amount = nn.Linear(d, len(AMOUNTS))
        self.key = nn.Linear(d, len(KEYS))
        self.app = nn.Linear(d, max(len(config.apps), 1))
        if getattr(config, "goal_echo", False):
            self.echo_norm = nn.ModuleList([nn.LayerNorm(d) for _ in range(config.n_layer)])
            self.echo = nn.ModuleList([nn.Linear(3 * d, d) for _ in range(config.n_layer)])
        else:
            self.echo_norm = self.echo = None
        self.post_init()

    def echo_maps(self, own_hits: torch.Tensor, batch: dict[str, torch.Tensor], goal_ids: torch.Tensor,
                  goal_mask: torch.Tensor, dtype: torch.dtype) -> list[torch.Tensor]:
        """Which goal tokens each element is bound to, as three (B, N, T) averaging maps: tokens of its own text,
        names it wore on other seeds, words it leads to (the last two from the lexicons, via the featurizer).

        Why: an element's learned vector knows *which* control it is, and on a few templates that identity
        explains every label ("the Wi-Fi row is what 'turn ... off' acts on"), so a control only held-out tasks
        act on learns "never the target". The echo hands each element the goal's contextual vectors at the
        words that name it -- "the thing to turn off" -- the same for every control, seen or not."""
        pad = self.config.pad_token_id
        maps = [own_hits & goal_mask[:, None, :]]
        for name in ("el_named", "el_linked"):
            toks = batch.get(name)
            if toks is None:  # a batch not built by collate (hand-made inputs): nothing echoes
                maps.append(torch.zeros_like(maps[0]))
                continue
            hit = (toks[..., None] == goal_ids[:, None, None, :]) & (toks != pad)[..., None]
            maps.append(hit.any(2) & goal_mask[:, None, :])
        return [(h.to(dtype) / h.sum(-1, keepdim=True).clamp(min=1).to(dtype)) for h in maps]

    # ------------------------------------------------------------ encoder
    def encode(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        goal_ids = batch["goal_ids"]
        pad = self.config.pad_token_id
        goal_mask = goal_ids != pad
        goal_mask[:, 0] = True  # an empty goal still has one (pad) token to attend to
        b, t = goal_ids.shape
        el_mask = batch["el_mask"]
        elements, match, on_screen, own_hits = self.elements(
            self.tok_emb, batch["el_tok"], batch["el_seg"], batch["el_role"], batch["el_states"], batch["el_box"],
            batch["el_flags"], goal_ids, goal_mask)
        grid, cells, roi = self.screen(batch.get("image"), batch["has_image"], batch["el_box"])
        elements = elements + roi
        goal = (self.tok_emb(goal_ids) + self.goal_pos.weight[..., :t, :]
                + self.goal_on_screen(on_screen))
        if "goal_touched" in batch:
            goal = goal + self.goal_touched(batch["goal_touched"])
        if "goal_quote" in batch:
            goal = goal + self.goal_quote(batch["goal_quote"])
        if self.goal_named is not None and "goal_named" in batch:
            goal = goal + self.goal_named(batch["goal_named"])
        mv = batch["mem_verbs"]
        mem_tok = batch["mem_text"] != pad
        mem_typ = batch["mem_typed"] != pad
        memory = (self.mem_verb(mv + 1) + self.mem_text(masked_pool(self.tok_emb(batch["mem_text"]), mem_tok))
                  + self.mem_typed(masked_pool(self.tok_emb(batch["mem_typed"]), mem_typ))
                  + self.mem_ok(batch["mem_ok"]) + self.mem_slot.weight)
        ctx = batch["ctx"]
        cls = self.cls + sum(emb(ctx[:, i]) for i, emb in enumerate(self.ctx))
        parts = [cls[:, None], memory, goal, grid, elements]
        x = torch.cat([p + self.type_emb.weight[..., i:i + 1, :] for i, p in enumerate(parts)], 1)
        ones = lambda n: torch.ones(b, n, dtype=torch.bool, device=x.device)  # noqa: E731
        key_mask = torch.cat([ones(1), mv >= 0, goal_mask, ones(grid.shape[1]), el_mask], 1)
        key_mask[:, 1] = True  # keep one memory slot visible so no row is fully masked
        attn = torch.zeros(key_mask.shape, dtype=x.dtype, device=x.device).masked_fill(~key_mask, -1e9)[:, None, None]
        m = 1 + MEMORY_SLOTS
        g0, c0 = m, m + t
        e0 = c0 + grid.shape[1]
        echo = self.echo_maps(own_hits, batch, goal_ids, goal_mask, x.dtype) if self.echo is not None else None
        for i, block in enumerate(self.blocks):
            if echo is not None:
                said = self.echo_norm[i](x[:, g0:c0])
                heard = torch.cat([torch.bmm(h, said) for h in echo], -1)
                x = torch.cat([x[:, :e0], x[:, e0:] + self.echo[i](heard)], 1)
            x = block(x, attn)
        x = self.ln_f(x)
        # a cell is its conv feature plus the contextualized 4x4 token it falls in
        ctx_grid = x[:, c0:e0].transpose(1, 2).reshape(b, -1, GRID // 2, GRID // 2)
        ctx_cells = F.interpolate(ctx_grid, scale_factor=2, mode="nearest").flatten(2).transpose(1, 2)
        return {"cls": x[:, 0], "goal": x[:, g0:c0], "grid": cells + ctx_cells, "elements": x[:, e0:],
                "el_tok": batch["el_tok"], "goal_mask": goal_mask, "el_mask": el_mask, "el_seg": batch["el_seg"],
                "match": match, "app_match": batch.get("app_match"), "goal_ids": goal_ids,
                "el_role": batch["el_role"], "el_states": batch["el_states"],
                "goal_bins": batch.get("goal_bins"), "arithmetic": ctx[:, 5], "asks": ctx[:, 6]}

    # ------------------------------------------------------------ heads
    def bounded(self, score: torch.Tensor) -> torch.Tensor:
        """An element's score from its learned vector, squashed when the config sets ``identity_bound``.

        Why: a control that training only ever showed as a distractor (the Bluetooth switch, when toggling
        it is a held-out task) earns an unbounded "never the target" score, which then outweighs the goal
        naming it exactly. Bounded, such priors can still rank controls, but the match cues (``ptr_match``,
        ``act_match`` and the identity-free ``act_lex``: unbounded) can always overrule them."""
        c = getattr(self.config, "identity_bound", 0.0)
        return c * torch.tanh(score / c) if c > 0 else score

    def verb_logits(self, enc: dict[str, torch.Tensor]) -> torch.Tensor:
        """The verb head on its own, with the ask bias (it decides where the screen has no elements)."""
        return self.verb_head(enc["cls"]) + self.ask_verb(enc["asks"])

    def pointer(self, enc: dict[str, torch.Tensor], verb: torch.Tensor) -> torch.Tensor:
        """Scores of every element as the target of ``verb``."""
        q = enc["cls"] + self.verb_emb(verb)
        els = enc["elements"]
        ptr = torch.einsum("bd,bnd->bn", self.ptr_q(q), self.ptr_k(els)) / math.sqrt(self.config.d_model)
        column = verb.clamp(min=0)[:, None, None].expand(-1, els.shape[1], 1)
        lexical = self.ptr_match(enc["match"]).gather(-1, column)
        return (self.bounded(ptr + self.ptr_bias(els)[..., 0]) + lexical[..., 0]).masked_fill(~enc["el_mask"], -1e4)

    def heads(self, enc: dict[str, torch.Tensor], verb: torch.Tensor, element: torch.Tensor,
              cell: Optional[torch.Tensor] = None, only: Optional[frozenset[str]] = None) -> dict[str, torch.Tensor]:
        """Every head's logits given the verb and the element (teacher-forced in training, chosen at inference).

        ``only``: compute just these of the optional head groups (``OPTIONAL_HEADS``; see ``heads_for``), as
        decoding one action needs; None: all of them (training, and callers that read every head)."""
        want = (lambda group: True) if only is None else only.__contains__  # noqa: E731
        d = self.config.d_model
        cls = enc["cls"]
        q = cls + self.verb_emb(verb)
        els = enc["elements"]
        out: dict[str, torch.Tensor] = {"element": self.pointer(enc, verb)}
        if want("cell"):
            grid = enc["grid"]
            out["cell"] = torch.einsum("bd,bnd->bn", self.cell_q(q), self.cell_k(grid)) / math.sqrt(d)
            cell = out["cell"].argmax(-1) if cell is None else cell.clamp(min=0)
            chosen_cell = grid[torch.arange(grid.shape[0]), cell]
            out["cell_offset"] = torch.sigmoid(self.cell_offset(torch.cat([q, chosen_cell], -1)))
        n = els.shape[1]
        idx = element.clamp(min=0, max=max(n - 1, 0))
        if n:
            chosen = els[torch.arange(els.shape[0]), idx]
        else:
            chosen = torch.zeros_like(q)
        qe = torch.cat([q, chosen], -1)
        if want("xbin"):
            out["xbin"] = self.xbin(qe)
            if enc.get("goal_bins") is not None:
                out["xbin"] = out["xbin"] + self.number_gain.view(-1, 1) * enc["goal_bins"]
        if want("flags"):
            out["flags"] = self.flags(qe)
        out["source"] = self.source(q)
        out["transform"] = self.transform(q)
        out["count"] = self.count(q)
        gm = enc["goal_mask"]
        if want("span"):
            # which words to copy depends on the field being typed into: the span query sees the chosen element
            qs, qe_ = self.span_q(qe).chunk(2, -1)
            ks, ke = self.span_k(enc["goal"]).chunk(2, -1)
            clues = self.span_lex(SpanClues.of(enc, idx if n else None))  # (B, T, 2)
            out["span_start"] = (torch.einsum("bd,btd->bt", qs, ks) / math.sqrt(d)
                                 + clues[..., 0]).masked_fill(~gm, -1e4)
            out["span_end"] = (torch.einsum("bd,btd->bt", qe_, ke) / math.sqrt(d)
                               + clues[..., 1]).masked_fill(~gm, -1e4)
        if want("el_span"):
            if n:
                rows = torch.arange(els.shape[0])
                seg_ids = enc["el_seg"][rows, idx]
                # only the chosen element is spelled out token by token (for copying a span of its text)
                toks = self.tok_emb(enc["el_tok"][rows, idx]) + self.seg_emb(seg_ids) + chosen[:, None]
                seg = (seg_ids > 0) & (seg_ids <= SHOWN_SEGMENTS)  # answers copy shown text, never ids
            else:
                toks = torch.zeros(q.shape[0], ELEMENT_TOKENS, d, device=q.device)
                seg = torch.zeros(q.shape[0], ELEMENT_TOKENS, dtype=torch.bool, device=q.device)
            es, ee = self.el_span_q(qe).chunk(2, -1)
            ks2, ke2 = self.el_span_k(toks).chunk(2, -1)
            out["el_span_start"] = (torch.einsum("bd,bld->bl", es, ks2) / math.sqrt(d)).masked_fill(~seg, -1e4)
            out["el_span_end"] = (torch.einsum("bd,bld->bl", ee, ke2) / math.sqrt(d)).masked_fill(~seg, -1e4)
        out["direction"] = self.direction(q)
        out["amount"] = self.amount(q)
        out["key"] = self.key(q)
        if want("app"):
            lex = self.app_lexicon[:, enc["goal_ids"]].permute(1, 2, 0)  # (B, T, apps)
            weight = torch.sigmoid(self.app_lexicon_weight(enc["goal"]) + 1.0) * gm[..., None]
            votes = lex * weight
            gain = self.app_lexicon_gain
            out["app"] = self.app(q) + gain[..., 0:1] * votes.amax(1) + gain[..., 1:2] * votes.sum(1)
            out["app"] = out["app"] + self.app_arithmetic * enc["arithmetic"][:, None].to(out["app"].dtype)
            if enc.get("app_match") is not None and enc["app_match"].shape[-1] == out["app"].shape[-1]:
                out["app"] = out["app"] + self.app_gain.view(-1, 1) * enc["app_match"]
        return out

    def action_table(self, enc: dict[str, torch.Tensor]) -> torch.Tensor:
        """Joint scores of (element, element verb) pairs and of element-free verbs: (B, N*len(EL_VERBS) + G).

        Whether to click, type into or long-press an element is decided *at* the element, from what it is
        and how it relates to the goal, rather than by one global verb classifier.
        """
        els = enc["elements"]
        b, n, _ = els.shape
        per_el = (self.bounded(self.act_el(els + self.act_cls(enc["cls"])[:, None])) + self.act_match(enc["match"])
                  + self.ask_el(enc["asks"])[:, None])  # (B, N, E)
        if self.act_lex is not None:
            role = F.one_hot(enc["el_role"].long(), len(ROLES)).to(per_el.dtype)
            per_el = per_el + self.act_lex(torch.cat([enc["match"], enc["el_states"].to(per_el.dtype), role], -1))
        per_el = per_el.masked_fill(~enc["el_mask"][..., None], -1e4).reshape(b, n * len(EL_VERBS))
        return torch.cat([per_el, self.act_global(enc["cls"]) + self.ask_global(enc["asks"])], -1)

    @staticmethod
    def table_target(verb: torch.Tensor, element: torch.Tensor, n: int) -> torch.Tensor:
        """Index of (verb, element) in ``action_table``; IGNORE when the pair has no cell there."""
        e = len(EL_VERBS)
        el_pos, gl_pos = _EL_POS, _GL_POS
        v = verb.clamp(min=0)
        is_el = (el_pos[v] >= 0) & (element >= 0)
        out = torch.where(is_el, element.clamp(min=0) * e + el_pos[v], n * e + gl_pos[v])
        out = torch.where((el_pos[v] >= 0) & (element < 0), torch.full_like(out, IGNORE), out)
        return torch.where(verb < 0, torch.full_like(out, IGNORE), out)

    def forward(self, labels: Optional[dict[str, torch.Tensor]] = None, needed_heads: bool = False,
                **batch: Any) -> dict[str, torch.Tensor]:
        """Training (``labels``): the losses. Inference: the chosen verb, element and confidence, and the heads'
        logits -- with ``needed_heads`` only those decoding the chosen verb needs (``heads_for``)."""
        enc = self.encode(batch)
        verb_logits = self.verb_logits(enc)
        n = enc["elements"].shape[1]
        if labels is None:
            verb = verb_logits.argmax(-1)
            element = torch.zeros_like(verb)
            confidence = verb_logits.softmax(-1).amax(-1)
            if n:
                verb, element, confidence = pick_from_table(self.action_table(enc), batch.get("avoid"), enc["el_mask"],
                                                            verb, confidence, lambda v: self.pointer(enc, v))
            only = heads_for(verb, n > 0) if needed_heads else None
            out = mask_tried(self.heads(enc, verb, element, only=only), batch)
            out["verb"] = verb_logits
            out["verb_choice"], out["element_choice"], out["confidence"] = verb, element, confidence
            return out
        out = self.heads(enc, labels["verb"], labels["element"], labels["cell"])
        out["verb"] = verb_logits
        if n:
            out["table"] = self.action_table(enc)
            out["table_target"] = self.table_target(labels["verb"], labels["element"], n)
        out["loss"], out["losses"] = self.loss(out, labels)
        return out

    @staticmethod
    def loss(out: dict[str, torch.Tensor], labels: dict[str, torch.Tensor]):
        def ce(logits, target):
            if (target != IGNORE).any():
                return F.cross_entropy(logits, target, ignore_index=IGNORE)
            return logits.sum() * 0.0

        losses = {"verb": ce(out["verb"], labels["verb"]), "element": ce(out["element"], labels["element"]),
                  "table": ce(out["table"], out["table_target"]) if "table" in out else out["verb"].sum() * 0.0,
                  "cell": ce(out["cell"], labels["cell"]), "xbin": ce(out["xbin"], labels["xbin"]),
                  "source": ce(out["source"], labels["source"]), "transform": ce(out["transform"], labels["transform"]),
                  "count": ce(out["count"], labels["count"]), "direction": ce(out["direction"], labels["direction"]),
                  "amount": ce(out["amount"], labels["amount"]), "key": ce(out["key"], labels["key"]),
                  "app": ce(out["app"], labels["app"])}
        goal_src = labels["source"] == 0
        el_src = labels["source"] == 1
        start, end = labels["span_start"], labels["span_end"]
        losses["span"] = (ce(out["span_start"], torch.where(goal_src, start, IGNORE))
                          + ce(out["span_end"], torch.where(goal_src, end, IGNORE)))
        losses["el_span"] = (ce(out["el_span_start"], torch.where(el_src, start, IGNORE))
                             + ce(out["el_span_end"], torch.where(el_src, end, IGNORE)))
        flags = torch.stack([labels["clear"], labels["submit"], labels["secret"]], -1)
        fmask = flags != IGNORE
        if fmask.any():
            losses["flags"] = F.binary_cross_entropy_with_logits(out["flags"][fmask], flags[fmask].float())
        cmask = labels["cell"] != IGNORE
        if cmask.any():
            want = torch.stack([labels["cell_dx"], labels["cell_dy"]], -1)
            losses["cell_offset"] = F.mse_loss(out["cell_offset"][cmask], want[cmask].float()) * 4
        total = sum(losses.values())
        return total, {k: float(v.detach()) for k, v in losses.items()}


class HandaEnsembleConfig(HandaConfig):
    """A ``HandaConfig`` for ``members`` networks of the same sizes, trained apart (model/train.py) and
    deciding together."""

    model_type = "handa_ensemble"

    def __init__(self, members: int = 2, **kwargs):
        self.members = members
        super().__init__(**kwargs)


class HandaEnsemble(HandaPreTrainedModel):
    """Several ``HandaModel`` members that decide as one: the average of their log-probabilities.

    Why: runs of one recipe with different seeds learn different habits on tasks they never trained on
    (one run clicks the right button on a held-out page, another does not), so averaging them cancels much of
    that variance. The members share the featurizer (their lexicons are the same: they are read off the same
    seen templates), so only the network runs once per member. The action table, the verb and the pointer
    are averaged as log-probabilities; the other heads' logits, given the chosen verb and element, as logits.
    At inference on one observation the members run stacked (model/stacked.py): member k's weights on row k
    of a batch of K copies, so K members cost about one pass of K-row operations rather than K passes.
    """

    config_class = HandaEnsembleConfig

    def __init__(self, config: HandaEnsembleConfig):
        super().__init__(config)
        self.members = nn.ModuleList([HandaModel(config) for _ in range(config.members)])
        self.post_init()

    @property
    def app_lexicon(self) -> torch.Tensor:  # the featurizer's (every member holds the same one)
        return self.members[0].app_lexicon

    def train(self, mode: bool = True) -> "HandaEnsemble":
        self.__dict__.pop("_stacked", None)  # the members may change: stack them again when next needed
        return super().train(mode)

    def stacked(self) -> HandaModel:
        """The members stacked into one network (made on first use; not a submodule, so never saved)."""
        if "_stacked" not in self.__dict__:
            self.__dict__["_stacked"] = stack(list(self.members))
        return self.__dict__["_stacked"]

    def forward(self, labels: Optional[dict[str, torch.Tensor]] = None, stacked: Optional[bool] = None,
                needed_heads: bool = False, **batch: Any) -> dict[str, torch.Tensor]:
        """As ``HandaModel.forward``; ``stacked``: run the members as one stacked network (default: for one
        observation at inference)."""
        if labels is not None:  # trained together: each member on the same batch, their losses averaged
            outs = [m(labels=labels, **batch) for m in self.members]
            losses = {k: sum(o["losses"][k] for o in outs) / len(outs) for k in outs[0]["losses"]}
            return {"loss": sum(o["loss"] for o in outs) / len(outs), "losses": losses}
        k = len(self.members)
        rows = batch["goal_ids"].shape[0]
        has_elements = batch["el_mask"].shape[1] > 0
        only = (lambda verb: heads_for(verb, has_elements)) if needed_heads else (lambda verb: None)  # noqa: E731
        if stacked is None:
            stacked = rows == 1 and not self.training and not torch.is_grad_enabled()
        if stacked:
            if rows != 1:
                raise ValueError("the stacked ensemble decides for one observation at a time")
            net = self.stacked()
            enc = net.encode({key: v.expand(k, *v.shape[1:]) if torch.is_tensor(v) and key not in _DECODING else v
                              for key, v in batch.items()})  # row k: the observation, for member k

            def mean(fn):  # the members' average of fn(member, its encoding)
                return fn(net, enc).mean(0, keepdim=True)

            def mean_heads(verb: torch.Tensor, element: torch.Tensor) -> dict[str, torch.Tensor]:
                heads = net.heads(enc, verb.expand(k), element.expand(k), only=only(verb))
                return {key: v.mean(0, keepdim=True) for key, v in heads.items()}
            widen = lambda v: v.expand(k)  # noqa: E731
        else:
            encs = [m.encode(batch) for m in self.members]
            enc = encs[0]

            def mean(fn):
                return torch.stack([fn(m, e) for m, e in zip(self.members, encs)]).mean(0)

            def mean_heads(verb: torch.Tensor, element: torch.Tensor) -> dict[str, torch.Tensor]:
                heads = [m.heads(e, verb, element, only=only(verb)) for m, e in zip(self.members, encs)]
                return {key: torch.stack([h[key] for h in heads]).mean(0) for key in heads[0]}
            widen = lambda v: v  # noqa: E731
        verb_lp = mean(lambda m, e: m.verb_logits(e).log_softmax(-1))
        verb = verb_lp.argmax(-1)
        element = torch.zeros_like(verb)
        confidence = verb_lp.exp().amax(-1)
        if enc["elements"].shape[1]:
            table = mean(lambda m, e: m.action_table(e).log_softmax(-1))
            verb, element, confidence = pick_from_table(
                table, batch.get("avoid"), batch["el_mask"], verb, confidence,
                lambda v: mean(lambda m, e: m.pointer(e, widen(v)).log_softmax(-1)))
        out = mask_tried(mean_heads(verb, element), batch)
        out["verb"] = verb_lp
        out["verb_choice"], out["element_choice"], out["confidence"] = verb, element, confidence
        return out


# what a batch carries for decoding only (tried cells, apps, keys): not copied per member when stacked
_DECODING = ("avoid", "avoid_apps", "avoid_keys")


AutoConfig.register("handa", HandaConfig)
AutoModel.register(HandaConfig, HandaModel)
AutoConfig.register("handa_ensemble", HandaEnsembleConfig)
AutoModel.register(HandaEnsembleConfig, HandaEnsemble)
