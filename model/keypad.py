"""The keypad cue: which calculator key continues the goal's arithmetic from what the screen shows.

Typing "744 + 35" on a keypad is a sequence of presses whose next step depends on how
much is entered already. A pointer network can learn "press the key named in the goal"
but not "the *next* digit after the prefix on the display" from a few templates. So
the features spell it out, template-free: the goal's expression is parsed (digits,
+ − × ÷ and their words in English and Korean, "add A and B", "negative N"), the key
presses that enter it are listed (a minus sign is entered with ± after the digits, as on
a phone calculator), and the longest prefix whose expression line some text on the
screen shows is found. Two element flags follow: the key that continues that prefix,
and the key the sequence starts with (for a clear display).

Wordings used only by held-out templates ("the product of A and B") are deliberately
not parsed: that would be tuning on the test set.
"""
from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache
from typing import Optional

from controllers.sim.apps.calculator import Engine, canon  # one spelling of arithmetic: * / -, no spaces

# the key names a sequence uses; labels that stand for each on a keypad
KEY_LABELS = {
    "dot": (".",), "add": ("+",), "sub": ("-", "–", "−"), "mul": ("×", "*", "x"), "div": ("÷", "/"),
    "neg": ("±", "+/-"), "eq": ("=",),
}
_LABEL_KEY = {label: key for key, labels in KEY_LABELS.items() for label in labels}
_OP_TEXT = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
_OP_KEY = {text: key for key, text in _OP_TEXT.items()}
_WORDS = ((r"\bdivided by\b", "/"), (r"\bplus\b", "+"), (r"\bminus\b", "-"), (r"\btimes\b", "*"),
          ("더하기", "+"), ("빼기", "-"), ("곱하기", "*"), ("나누기", "/"))
_NUM = r"-?\d+(?:\.\d+)?"
_EXPR = re.compile(rf"(?<![\w.]){_NUM}(?:\s*[-+*/]\s*{_NUM})+")
_NUM_AT = re.compile(rf"\s*({_NUM})")
_OP_AT = re.compile(r"\s*([-+*/])")
# a phone number starts with 0 or a + country code: "010-4386-5149", "+82 10-9790-2716" ("1000-200-3000" is
# arithmetic)
_PHONE = re.compile(r"(?<![\d.])(?:0\d{1,3}|\+\d{1,3}(?: \d{1,4})?)-\d{3,4}-\d{4}(?!\d|\.\d)")
_ADD = re.compile(rf"\badd\s+({_NUM})\s+and\s+({_NUM})")


@lru_cache(maxsize=4096)
def goal_keys(goal: str) -> Optional[tuple[str, ...]]:
    """The key presses that enter the goal's arithmetic and evaluate it, or None when it has none."""
    text = _PHONE.sub(" ", goal.casefold())  # "010-4386-5149" is a phone number, not two subtractions
    text = text.replace("×", "*").replace("÷", "/").replace("−", "-").replace("–", "-")
    for pattern, op in _WORDS:
        text = re.sub(pattern, f" {op} ", text)
    text = _ADD.sub(r"\1 + \2", text)
    text = re.sub(r"\bnegative\s+(\d)", r"-\1", text)
    match = _EXPR.search(text)
    if match is None:
        return None
    expr, pos = match.group(), 0
    keys: list[str] = []
    expect_number = True
    while pos < len(expr):  # numbers and operators in turn: "5-3" is 5 minus 3, "5 * -3" has a negative
        token = (_NUM_AT if expect_number else _OP_AT).match(expr, pos)
        if token is None:
            break
        part = token.group(1)
        if expect_number:
            keys += ["dot" if c == "." else c for c in part.lstrip("-")]
            keys += ["neg"] if part.startswith("-") else []
        else:
            keys.append(_OP_KEY[part])
        pos, expect_number = token.end(), not expect_number
    return tuple(keys + ["eq"])


def _number(entry: str) -> str:
    if "." in entry:
        entry = entry.rstrip("0").rstrip(".")
    return entry


@lru_cache(maxsize=4096)
def expression_lines(keys: tuple[str, ...]) -> tuple[str, ...]:
    """The canonical expression line after each prefix of ``keys`` (index i: after i presses)."""
    tokens: list[str] = []
    entry = ""
    lines = [""]
    for k in keys:
        if k.isdigit():
            entry += k
        elif k == "dot":
            entry += "." if entry.lstrip("-") else "0."
        elif k == "neg":
            entry = entry[1:] if entry.startswith("-") else "-" + entry
        elif k in _OP_TEXT:
            if entry:
                tokens.append(_number(entry))
            entry = ""
            tokens.append(_OP_TEXT[k])
        elif k == "eq":
            if entry:
                tokens.append(_number(entry))
            entry = ""
            tokens.append("=")
        lines.append("".join(tokens) + entry)
    return tuple(lines)


@lru_cache(maxsize=4096)
def goal_value(goal: str) -> Optional[Fraction]:
    """The value of the goal's arithmetic, or None (none, or a division by zero).

    The parsed key presses are pressed on the sim calculator's engine (times and division before plus and
    minus), never by evaluating the goal's text as code.
    """
    keys = goal_keys(goal)
    if keys is None:
        return None
    engine = Engine()
    for k in keys:
        engine.press(k)
    return None if engine.error else engine.result


_SHOWN_NUMBER = re.compile(r"^=?\s*(-?[\d,]*\.?\d+)$")


def shows_value(text: str, value: Fraction) -> bool:
    """Whether ``text`` is a number equal to ``value`` (to the 10 significant digits a display keeps)."""
    m = _SHOWN_NUMBER.match(canon(text).replace(",", ""))
    if m is None:
        return False
    try:
        shown = Fraction(m.group(1))
    except ValueError:
        return False
    return abs(shown - value) <= abs(value) * Fraction(1, 10**9) + Fraction(1, 10**9)


def key_of(label: str, description: str = "") -> Optional[str]:
    """The key a keypad button stands for, from its label (or its description, for ±)."""
    label = label.strip()
    if len(label) == 1 and label.isdigit():
        return label
    if label in _LABEL_KEY:
        return _LABEL_KEY[label]
    return "neg" if description.casefold() == "change sign" else None


def next_keys(goal: str, shown: list[str]) -> tuple[Optional[str], Optional[str]]:
    """(the key continuing the longest prefix some shown text spells, the sequence's first key).

    The first is None when no prefix is shown or the expression is complete (evaluated).
    """
    keys = goal_keys(goal)
    if keys is None:
        return None, None
    lines = expression_lines(keys)
    seen = {canon(t) for t in shown if t}
    for i in range(len(keys), 0, -1):
        if lines[i] in seen:
            return (keys[i] if i < len(keys) else None), keys[0]
    return None, keys[0]
