"""Handa's own tokenizer: byte-level BPE trained on text the project generates.

Byte-level, so no character is ever unknown (Korean, emoji, lone symbols all
become byte tokens at worst). The corpus is every goal wording of every task
template over many seeds plus every UI string the simulator shows, so the
merges fit what the model reads: labels, names, numbers and Hangul syllables.
Wrapped as a ``PreTrainedTokenizerFast`` so it saves and loads like any
Hugging Face tokenizer.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Iterator

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from model.features import model_text

SPECIAL_TOKENS = ["<pad>", "<unk>", "<sep>"]
VOCAB_SIZE = 4096


def corpus(episodes_per_template: int = 6, seed: int = 0, lowercase: bool = True) -> Iterator[str]:
    """Goals and on-screen strings from expert episodes on the sim (all splits, both forms).

    With a space before it (and lower-cased with ``lowercase``), as the featurizer reads every text
    (``model.features.TextCache``).
    """
    for text in _texts(episodes_per_template, seed):
        yield " " + (model_text(text) if lowercase else text)


def _texts(episodes_per_template: int, seed: int) -> Iterator[str]:
    from controllers.sim.controller import SimController
    from controllers.sim.style import LEXICON
    from model.features import element_fields
    from tasks import load_all
    from tasks.base import make_instance
    from tasks.expert import ExpertPolicy

    rng = random.Random(seed)
    for variants in LEXICON.values():
        yield from variants
    for template_id, template in sorted(load_all().items()):
        for k in range(episodes_per_template):
            form = template.forms[k % len(template.forms)]
            inst = make_instance(template_id, seed=rng.randrange(10**6), form=form,
                                 split=("train", "heldout")[k % 2], wording=k)
            yield inst.goal
            controller = SimController(inst.device)
            policy = ExpertPolicy(inst)
            policy.reset(inst.goal)
            for _ in range(template.steps_hint * 2 + 4):
                obs = controller.observe()
                for e in obs.elements:
                    for text in element_fields(e):
                        if text:
                            yield text[:200]
                action = policy.decide(inst.goal, obs, []).action
                if action.type in ("done", "answer"):
                    break
                controller.execute(action)


def train_tokenizer(texts: Iterator[str], vocab_size: int = VOCAB_SIZE) -> Tokenizer:
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=True)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def wrap(tok: Tokenizer) -> PreTrainedTokenizerFast:
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", sep_token="<sep>",
                                   model_max_length=4096)


def build(out_dir: Path | str, seed: int = 0, lowercase: bool = True) -> PreTrainedTokenizerFast:
    """Generate the corpus, train, and save the tokenizer into ``out_dir``."""
    tokenizer = wrap(train_tokenizer(corpus(seed=seed, lowercase=lowercase)))
    tokenizer.save_pretrained(str(out_dir))
    return tokenizer


def load(path: Path | str) -> PreTrainedTokenizerFast:
    return PreTrainedTokenizerFast.from_pretrained(str(path))
