"""The ``inhouse`` policy: the shipped checkpoint behind the ``Policy`` protocol."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import torch
from pydantic import ValidationError

from controllers.elements import Observation
from controllers.policy import Decision, HistoryEntry
from model.codec import CodecError, decode, verb_of
from model.features import Featurizer, Features, Memory, collate

CHECKPOINT = Path(__file__).resolve().parent / "checkpoint"
MAX_SPAN = 48


def best_span(start: torch.Tensor, end: torch.Tensor, max_len: int = MAX_SPAN) -> tuple[int, int]:
    """The (s, e) with s <= e < s + max_len maximizing start[s] + end[e]."""
    t = start.shape[0]
    scores = start[:, None] + end[None, :]
    i = torch.arange(t)
    valid = (i[None, :] >= i[:, None]) & (i[None, :] < i[:, None] + max_len)
    flat = scores.masked_fill(~valid, -1e9).argmax()
    return int(flat // t), int(flat % t)


def choose(out: dict[str, torch.Tensor], row: int = 0) -> dict[str, Any]:
    """Plain values from one row of the model's outputs (argmax of each head)."""
    verb = int(out["verb_choice"][row])
    source = int(out["source"][row].argmax())
    picked = {
        "verb": verb, "element": int(out["element_choice"][row]) if out["element"].shape[1] else 0,
        "cell": int(out["cell"][row].argmax()), "cell_dx": float(out["cell_offset"][row, 0]),
        "cell_dy": float(out["cell_offset"][row, 1]), "xbin": int(out["xbin"][row].argmax()),
        "source": source, "transform": int(out["transform"][row].argmax()), "count": int(out["count"][row].argmax()),
        "direction": int(out["direction"][row].argmax()), "amount": int(out["amount"][row].argmax()),
        "key": int(out["key"][row].argmax()), "app": int(out["app"][row].argmax()),
    }
    flags = out["flags"][row] > 0
    picked["clear"], picked["submit"], picked["secret"] = (bool(f) for f in flags)
    if source == 1:
        picked["span_start"], picked["span_end"] = best_span(out["el_span_start"][row], out["el_span_end"][row])
    else:
        picked["span_start"], picked["span_end"] = best_span(out["span_start"][row], out["span_end"][row])
    picked["confidence"] = float(out["confidence"][row])
    return picked


class Runner:
    """Model + featurizer + per-episode memory: the part shared by the policy and training roll-ins."""

    def __init__(self, model: Any, tokenizer: Any):
        self.model = model
        self.tokenizer = tokenizer
        self.featurizer = Featurizer(tokenizer, max_elements=model.config.max_elements,
                                     max_goal_tokens=model.config.max_goal_tokens)
        self.apps = list(model.config.apps)

    @torch.inference_mode()
    def act(self, goal: str, obs: Observation, memory: Memory, with_image: bool = True) -> tuple[Any, dict, Features]:
        feats = self.featurizer(goal, obs, memory, with_image=with_image)
        was_training = self.model.training
        self.model.eval()
        out = self.model(**collate([feats.arrays], self.tokenizer.pad_token_id))
        if was_training:
            self.model.train()
        picked = choose(out)
        return decode(picked, feats, self.apps), picked, feats


class InHousePolicy:
    """Handa's own model as a ``Policy``; keeps a fixed-size memory of the episode."""

    name = "inhouse"

    def __init__(self, path: Optional[Path | str] = None, threads: Optional[int] = None, use_screenshot: bool = True):
        from transformers import PreTrainedTokenizerFast

        from model.modeling_handa import HandaModel

        path = Path(path or os.environ.get("HANDA_MODEL", CHECKPOINT))
        if not (path / "model.safetensors").is_file():
            raise FileNotFoundError(f"no model checkpoint in {path} (expected model.safetensors): "
                                    "train one with `handa model train --out DIR`")
        if threads:
            torch.set_num_threads(threads)
        try:
            self.tokenizer = PreTrainedTokenizerFast.from_pretrained(str(path))
            model = HandaModel.from_pretrained(str(path))
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
        self._last: Optional[tuple[Any, Observation]] = None
        self._last_fp: Optional[str] = None

    def reset(self, goal: str) -> None:
        self.memory = Memory()
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
        try:
            action, picked, _ = self.runner.act(goal, observation, self.memory, with_image=self.use_screenshot)
        except (CodecError, ValidationError, IndexError, ValueError) as exc:
            return Decision(action=None, error=f"model output could not be decoded: {exc}")
        self._last = (action, observation)
        self._last_fp = observation.fingerprint()
        return Decision(action=action, confidence=picked["confidence"],
                        raw={k: v for k, v in picked.items() if k != "confidence"})
