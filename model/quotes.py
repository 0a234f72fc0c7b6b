"""Quoted parts of a goal: "Rename the note "Flight" to "Car service"".

A text to type is very often quoted, and a copied span never runs from inside one quoted
part into another (or across a quote mark). Each goal token gets the number of the quoted
part it lies in (0 outside any), which the model reads and the span decoder respects.

A quote mark opens only where a word does not go on before it ("O'Brien", "you're",
"Mei's" open nothing) and closes only where no Latin letter or digit follows it, so
"'Reading list'(으)로" and "\"Thanks!\"라고" close where a person would.
"""
from __future__ import annotations

from functools import lru_cache

PAIRS = {'"': '"', "'": "'", "\u201c": "\u201d", "\u2018": "\u2019", "\u300c": "\u300d", "\u00ab": "\u00bb"}
MAX_GROUPS = 3  # parts after the third share its number


def _latin_or_digit(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


@lru_cache(maxsize=1024)
def quoted_spans(text: str) -> tuple[tuple[int, int], ...]:
    """(start, end) character ranges of the quoted parts' contents, without the marks, in order."""
    spans = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        close = PAIRS.get(ch)
        if close is None or (i > 0 and text[i - 1].isalnum()):
            i += 1
            continue
        if i + 1 < n and text[i + 1] == close:  # an empty pair ('' or "") quotes nothing
            i += 2
            continue
        j = i + 1
        while j < n:
            if text[j] == close and j > i + 1 and (j + 1 == n or not _latin_or_digit(text[j + 1])):
                break
            j += 1
        if j >= n:  # never closed: not a quote (an apostrophe, a stray mark)
            i += 1
            continue
        spans.append((i + 1, j))
        i = j + 1
    return tuple(spans)


def token_groups(text: str, offsets: list[tuple[int, int]] | tuple) -> list[int]:
    """Per token (by its character offsets): the number (1..MAX_GROUPS) of the quoted part holding it, else 0."""
    spans = quoted_spans(text)
    out = []
    for a, b in offsets:
        group = 0
        for k, (s, e) in enumerate(spans):
            if s <= a and b <= e and b > a:
                group = min(k + 1, MAX_GROUPS)
                break
        out.append(group)
    return out


def segments(groups: list[int]) -> list[int]:
    """A run number per token that changes wherever the group does: a span must stay within one run."""
    out, run = [], 0
    for i, g in enumerate(groups):
        if i and g != groups[i - 1]:
            run += 1
        out.append(run)
    return out
