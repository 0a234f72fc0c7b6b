"""The in-house tokenizer: byte-level BPE trained here, loadable with transformers."""
from __future__ import annotations

import pytest
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from model.policy import CHECKPOINT

SAMPLES = ["Turn on 블루투스", "와이파이 켜고 밝기를 40%로 해줘", "Zoë's Pixel 42", "emoji 🎉 and ✔",
           "tabs\tand\nnew lines", "\u0301 lone combining mark", "a < b > c & 'q' \"dq\"", "", "ｆｕｌｌ　ｗｉｄｔｈ",
           "नमस्ते", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "x" * 3000]


def test_shipped_tokenizer_loads_through_auto_classes():
    tok = AutoTokenizer.from_pretrained(str(CHECKPOINT))
    assert isinstance(tok, PreTrainedTokenizerFast)
    assert len(tok) == 4096 and tok.pad_token == "<pad>"


@pytest.mark.parametrize("text", SAMPLES)
def test_any_text_round_trips_without_unknown_tokens(tokenizer, text):
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.unk_token_id not in ids
    assert tokenizer.decode(ids) == text


def test_offsets_slice_back_to_the_words(policy):
    goal = "Send '안녕하세요 민준' to Kim Minsu"
    ids, offsets = policy.runner.featurizer.text.encode(goal)  # as the model reads it: offsets into the goal
    pieces = [goal[a:b] for a, b in offsets]
    assert "Kim" in pieces and "Minsu" in "".join(pieces)
    # every character of the goal is covered by some token
    covered = set()
    for a, b in offsets:
        covered.update(range(a, b))
    assert covered >= {i for i, ch in enumerate(goal) if not ch.isspace()}


def test_merges_fit_the_domain(policy):
    # trained on our goals and UI strings as the model reads them: common words are single tokens, Hangul
    # words short, and a word reads the same alone (a label) and inside a sentence (the goal)
    text = policy.runner.featurizer.text
    assert len(text.encode("Settings")[0]) == 1
    assert len(text.encode("연락처")[0]) <= 2
    assert set(text.encode("Bluetooth")[0]) <= set(text.encode("Turn on Bluetooth now")[0])


def test_training_is_deterministic(tmp_path):
    from model.tokenizer import train_tokenizer

    texts = ["Turn on Wi-Fi", "와이파이 켜줘", "Send 'hi' to Kim"] * 50
    a = train_tokenizer(iter(texts), vocab_size=300).to_str()
    b = train_tokenizer(iter(texts), vocab_size=300).to_str()
    assert a == b
