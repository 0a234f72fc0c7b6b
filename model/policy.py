"""The ``inhouse`` policy: the shipped checkpoint behind the ``Policy`` protocol."""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional, Sequence

import torch
from pydantic import ValidationError

from controllers.elements import Observation
from controllers.policy import Decision, HistoryEntry
from model.codec import KEYS, CodecError, decode, verb_of, word_bounds
from model.features import SEG_OFFSETS, Featurizer, Features, Memory, collate, element_fields
from model.quotes import segments, token_groups

CHECKPOINT = Path(__file__).resolve().parent / "checkpoint"
MAX_SPAN = 48


def best_span(start: torch.Tensor, end: torch.Tensor, max_len: int = MAX_SPAN,
              bounds: Optional[tuple[list[bool], list[bool]]] = None,
              runs: Optional[list[int]] = None) -> tuple[int, int]:
    """The (s, e) with s <= e < s + max_len maximizing start[s] + end[e].

    ``runs`` (per token: its quote run, ``model.quotes.segments``) keeps a span inside one quoted part or
    outside all of them; ``bounds`` (per token: may a span start / end here) keeps whole words. Each applies
    whenever some span allows it.
    """
    t = start.shape[0]
    scores = start[:, None] + end[None, :]
    i = torch.arange(t)
    valid = (i[None, :] >= i[:, None]) & (i[None, :] < i[:, None] + max_len)
    if runs is not None and len(runs) == t:
        r = torch.tensor(runs)
        inside = valid & (r[:, None] == r[None, :])
        if bool(inside.any()):
            valid = inside
    if bounds is not None and len(bounds[0]) == t:
        whole = valid & torch.tensor(bounds[0])[:, None] & torch.tensor(bounds[1])[None, :]
        if bool(whole.any()):
            valid = whole
    flat = scores.masked_fill(~valid, -1e9).argmax()
    return int(flat // t), int(flat % t)


def _element_bounds(feats: Features, element: int, width: int) -> Optional[tuple[list[bool], list[bool]]]:
    """Word bounds of the chosen element's tokens, laid out at their positions in the element's token row."""
    if not feats.elements or element >= len(feats.elements):
        return None
    e = feats.elements[element]
    texts = element_fields(e)
    starts, ends = [False] * width, [False] * width
    rank: dict[int, int] = {}
    for seg, a, b in feats.element_offsets[element]:
        r = rank.get(seg, 0)
        rank[seg] = r + 1
        s_ok, e_ok = word_bounds(texts[seg], [(a, b)])
        pos = SEG_OFFSETS[seg] + r
        if pos < width:
            starts[pos], ends[pos] = s_ok[0], e_ok[0]
    return starts, ends


@lru_cache(maxsize=256)
def _goal_bounds(goal: str, offsets: tuple) -> tuple[list[bool], list[bool], list[int]]:
    """Word bounds and quote runs of the goal's tokens: the goal stays the same all episode, so once per goal."""
    return (*word_bounds(goal, offsets), segments(token_groups(goal, offsets)))


def choose(out: dict[str, torch.Tensor], row: int = 0, feats: Optional[Features] = None) -> dict[str, Any]:
    """Plain values from one row of the model's outputs (argmax of each head; spans keep whole words). Heads
    the model skipped (``needed_heads``: the chosen verb's action is not decoded from them) read as 0."""
    def best(key: str) -> int:
        return int(out[key][row].argmax()) if key in out else 0

    verb = int(out["verb_choice"][row])
    source = best("source")
    offset = out["cell_offset"][row] if "cell_offset" in out else (0.0, 0.0)
    picked = {
        "verb": verb, "element": int(out["element_choice"][row]) if out["element"].shape[1] else 0,
        "cell": best("cell"), "cell_dx": float(offset[0]), "cell_dy": float(offset[1]), "xbin": best("xbin"),
        "source": source, "transform": best("transform"), "count": best("count"),
        "direction": best("direction"), "amount": best("amount"), "key": best("key"), "app": best("app"),
    }
    flags = (out["flags"][row] > 0).tolist() if "flags" in out else (False, False, False)
    picked["clear"], picked["submit"], picked["secret"] = (bool(f) for f in flags)
    picked["span_start"] = picked["span_end"] = 0
    if source == 1 and "el_span_start" in out:
        bounds = _element_bounds(feats, picked["element"], out["el_span_start"].shape[1]) if feats else None
        picked["span_start"], picked["span_end"] = best_span(out["el_span_start"][row], out["el_span_end"][row],
                                                             bounds=bounds)
    elif source != 1 and "span_start" in out:
        bounds, runs = None, None
        if feats is not None:
            s_ok, e_ok, runs = _goal_bounds(feats.goal, tuple(feats.goal_offsets))
            width = out["span_start"].shape[1]
            pad = width - len(s_ok)
            bounds = (s_ok + [False] * pad, e_ok + [False] * pad)
            runs = runs + [-1] * pad  # padding: a run of its own, never joined to the goal's last
        picked["span_start"], picked["span_end"] = best_span(out["span_start"][row], out["span_end"][row],
                                                             bounds=bounds, runs=runs)
    picked["confidence"] = float(out["confidence"][row])
    return picked


def table_cell(action: Any, feats: Features) -> Optional[int]:
    """The action-table cell of an action on the screen ``feats`` was made from (None: not one cell)."""
    from model.modeling_handa import _EL_POS, _GL_POS, EL_VERBS

    verb = verb_of(action)
    n = len(feats.elements)
    if int(_EL_POS[verb]) >= 0:
        target = getattr(action, "target", None)
        if target is None or getattr(target, "kind", None) != "element":
            return None
        index = next((i for i, e in enumerate(feats.elements) if e.id == target.id), None)
        return None if index is None else index * len(EL_VERBS) + int(_EL_POS[verb])
    if action.type in ("open_app", "key", "done", "answer"):  # one cell for many apps/keys: not banned whole
        return None
    return n * len(EL_VERBS) + int(_GL_POS[verb])


class Tried:
    """Actions already taken per screen (by fingerprint), so a policy does not loop on a screen that did not
    change. Bounded: the oldest screens are forgotten."""

    def __init__(self, screens: int = 64):
        self.screens = screens
        self.by_screen: dict[str, list[Any]] = {}

    def get(self, fingerprint: str) -> list[Any]:
        return self.by_screen.get(fingerprint, [])

    def add(self, fingerprint: str, action: Any) -> None:
        self.by_screen.setdefault(fingerprint, []).append(action)
        self.by_screen[fingerprint] = self.by_screen[fingerprint][-16:]
        while len(self.by_screen) > self.screens:
            self.by_screen.pop(next(iter(self.by_screen)))


class Runner:
    """Model + featurizer + per-episode memory: the part shared by the policy and training roll-ins."""

    def __init__(self, model: Any, tokenizer: Any):
        self.model = model
        self.tokenizer = tokenizer
        self.featurizer = Featurizer(tokenizer, max_elements=model.config.max_elements,
                                     max_goal_tokens=model.config.max_goal_tokens, apps=model.config.apps,
                                     lowercase=model.config.lowercase, links=getattr(model.config, "links", None),
                                     lexicon=model.app_lexicon.detach().cpu().numpy(),
                                     names=getattr(model.config, "names", None))
        self.apps = list(model.config.apps)

    @torch.inference_mode()
    def act(self, goal: str, obs: Observation, memory: Memory, with_image: bool = True,
            tried: Sequence[Any] = (), feats: Optional[Features] = None) -> tuple[Any, dict, Features]:
        """The model's action for this step; ``tried``: actions already taken on this very screen (to not repeat);
        ``feats``: this step's features when the caller has made them already."""
        if feats is None:
            feats = self.featurizer(goal, obs, memory, with_image=with_image)
        was_training = self.model.training
        if was_training:  # the plain flag flip: transformers' own train()/eval() also re-resolve kernels,
            torch.nn.Module.train(self.model, False)  # measured ~5 ms a call, paid twice per training roll-in step
        batch = collate([feats.arrays], self.tokenizer.pad_token_id)
        if tried:
            cells = [c for c in (table_cell(a, feats) for a in tried) if c is not None]
            if cells:
                batch["avoid"] = torch.tensor([cells], dtype=torch.long)
            # open_app and key are one table cell each: the app or key already tried is masked instead
            for name, vocab, used in (("avoid_apps", self.apps, [a.app for a in tried if a.type == "open_app"]),
                                      ("avoid_keys", KEYS, ["+".join(a.keys) for a in tried if a.type == "key"])):
                used = {vocab.index(u) for u in used if u in vocab}
                if used and len(used) < len(vocab):
                    mask = torch.zeros(1, len(vocab), dtype=torch.bool)
                    mask[0, sorted(used)] = True
                    batch[name] = mask
        out = self.model(**batch, needed_heads=True)  # only the heads this step's action is decoded from
        if was_training:
            torch.nn.Module.train(self.model, True)
        picked = choose(out, feats=feats)
        return decode(picked, feats, self.apps), picked, feats


class InHousePolicy:
    """Handa's own model as a ``Policy``; keeps a fixed-size memory of the episode."""

    name = "inhouse"

    def __init__(self, path: Optional[Path | str] = None, threads: Optional[int] = None, use_screenshot: bool = True):
        from transformers import PreTrainedTokenizerFast

        from transformers import AutoModel

        from model import modeling_handa  # noqa: F401  (registers the Handa classes with AutoModel)

        path = Path(path or os.environ.get("HANDA_MODEL", CHECKPOINT))
        if not (path / "model.safetensors").is_file():
            raise FileNotFoundError(f"no model checkpoint in {path} (expected model.safetensors): "
                                    "train one with `handa model train --out DIR`")
        if threads:
            torch.set_num_threads(threads)
        try:
            self.tokenizer = PreTrainedTokenizerFast.from_pretrained(str(path))
            model = AutoModel.from_pretrained(str(path))  # a HandaModel, or a HandaEnsemble of them
        except (OSError, RuntimeError, ValueError) as exc:  # corrupt, truncated or from another architecture
            raise FileNotFoundError(f"the checkpoint in {path} cannot be loaded: "
                                    f"{str(exc).strip().splitlines()[0][:300]}") from exc
        model.eval()
        self.runner = Runner(model, self.tokenizer)
        import hashlib

        digest = hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest()[:12]
        self.model_id = f"handa-inhouse@{digest}"
        self.use_screenshot = use_screenshot
        self.memory = Memory()
        self.tried = Tried()
        self._last: Optional[tuple[Any, Observation]] = None
        self._last_fp: Optional[str] = None

    def reset(self, goal: str) -> None:
        self.memory = Memory()
        self.tried = Tried()
        self._last = None
        self._last_fp = None

    def _remember(self, obs: Observation, history: list[HistoryEntry]) -> None:
        """Fold the previous step into the memory (constant work per step)."""
        if self._last is None:
            return
        action, prev_obs = self._last
        ok = history[-1].ok if history else True
        fp = obs.fingerprint()
        target, typed = self.runner.featurizer.memory_entry(verb_of(action), action, prev_obs)
        self.memory.push(verb_of(action), target, typed, ok, changed=fp != self._last_fp)
        self._last = None

    def decide(self, goal: str, observation: Observation, history: list[HistoryEntry]) -> Decision:
        self._remember(observation, history)
        fp = observation.fingerprint()
        try:
            action, picked, _ = self.runner.act(goal, observation, self.memory, with_image=self.use_screenshot,
                                                tried=self.tried.get(fp))
        except (CodecError, ValidationError, IndexError, ValueError) as exc:
            return Decision(action=None, error=f"model output could not be decoded: {exc}")
        self._last = (action, observation)
        self._last_fp = fp
        self.tried.add(fp, action)
        return Decision(action=action, confidence=picked["confidence"],
                        raw={k: v for k, v in picked.items() if k != "confidence"})

    def teacher_force(self, action: Any, observation: Observation) -> None:
        """Remember ``action`` as what was done on ``observation`` instead of this policy's own last decision
        (offline evaluation replays the recorded actions, so memory must hold those, as the live loop would)."""
        fp = observation.fingerprint()
        self._last, self._last_fp = (action, observation), fp
        tried = self.tried.get(fp)
        if tried:
            tried[-1] = action
        else:
            self.tried.add(fp, action)
