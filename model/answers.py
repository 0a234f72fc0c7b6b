"""What shape of answer the goal asks for, and which texts on screen have that shape.

"What time is 'Call Mom' on January 23?" wants a time: an event page shows its date and its time,
and a policy that learned "answer with the text the goal asks about" from phone numbers and prices
has no way to tell the two apart. So the goal's wording names the kinds it asks for (a time, a
date, a phone number, an amount of money, an email address, a percentage), each text on screen is
read for the kinds its shape has ("15:00", "2026-02-24", "010-1234-5678", "₩12,000", ...), and an
element flag says where they meet. One flag for every kind, so the rule learned on one kind carries
over to the others.

Only a goal that asks (``model.asks``) asks for a kind: "Add a contact with phone number 010-..."
asks for nothing. "When" asks for a time or a date; "how much" with arithmetic asks for a number
(the keypad cue's value flag covers that), not for money. Words that name a kind are general English and
Korean ones, not any template's wording.
"""
from __future__ import annotations

import re
from functools import lru_cache

from model.asks import asks
from model.keypad import goal_keys

TIME, DATE, PHONE, MONEY, EMAIL, PERCENT = "time", "date", "phone", "money", "email", "percent"

_ASK_WORDS: tuple[tuple[re.Pattern, tuple[str, ...]], ...] = (
    (re.compile(r"\btimes?\b(?!\s+\d)|\bo'?clock\b|\bat what hour\b"), (TIME,)),  # not "7 times 8"
    (re.compile(r"\bwhen\b"), (TIME, DATE)),
    (re.compile(r"\b(?:date|dates|what day|which day|birthday)\b"), (DATE,)),
    (re.compile(r"\b(?:phone|mobile|cell|telephone|contact)\s+(?:number|no)\b|\bnumber of (?![a-z]+s\b)\w"),
     (PHONE,)),  # "the number of Mina", not "the number of items"
    (re.compile(r"\b(?:price|prices|cost|costs|balance|how much money|total|pay|spend|spent)\b"), (MONEY,)),
    (re.compile(r"\be-?mail\b"), (EMAIL,)),
    (re.compile(r"\b(?:percent|percentage|level)\b"), (PERCENT,)),
)
_KO_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("몇 시", (TIME,)), ("몇시", (TIME,)), ("시간", (TIME,)), ("언제", (TIME, DATE)),
    ("날짜", (DATE,)), ("며칠", (DATE,)), ("무슨 요일", (DATE,)), ("생일", (DATE,)),
    ("전화번호", (PHONE,)), ("연락처", (PHONE,)),
    ("가격", (MONEY,)), ("잔액", (MONEY,)), ("금액", (MONEY,)), ("얼마", (MONEY,)), ("비용", (MONEY,)),
    ("이메일", (EMAIL,)), ("메일", (EMAIL,)),
    ("퍼센트", (PERCENT,)), ("몇 %", (PERCENT,)),
)

_SHAPES: tuple[tuple[str, re.Pattern], ...] = (
    (TIME, re.compile(r"(?<![\d:])\d{1,2}:\d{2}(?![\d:])|\b\d{1,2}\s?(?:am|pm)\b|(?:오전|오후)\s?\d{1,2}\s?시")),
    (DATE, re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\d{1,2}\s?월\s?\d{1,2}\s?일|"
                      r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d{1,2}\b|"
                      r"\b\d{1,2}\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b")),
    (PHONE, re.compile(r"(?<![\d.])(?:\+\d{1,3}[\s-]?)?\(?\d{2,4}\)?[\s-]\d{3,4}[\s-]\d{4}(?![\d.])")),
    (MONEY, re.compile(r"[$€£¥₩]\s?-?\d|\d[\d,.]*\s?(?:원|usd|eur|krw|dollars?)\b|-?[$€£¥₩]")),
    (EMAIL, re.compile(r"[^\s@]+@[^\s@]+\.[a-z]{2,}")),
    (PERCENT, re.compile(r"\d\s?%")),
)


@lru_cache(maxsize=1024)
def asked_kinds(goal: str) -> frozenset[str]:
    """The kinds of answer the goal asks for; empty when it asks for none (or does not ask)."""
    if not asks(goal):
        return frozenset()
    text = goal.casefold()
    kinds: set[str] = set()
    for pattern, names in _ASK_WORDS:
        if pattern.search(text):
            kinds.update(names)
    for word, names in _KO_WORDS:
        if word in text:
            kinds.update(names)
    if goal_keys(goal) is not None:  # "18 곱하기 92는 얼마야?" asks for a number, not for money
        kinds.discard(MONEY)
    return frozenset(kinds)


@lru_cache(maxsize=65536)
def shapes(text: str) -> frozenset[str]:
    """The kinds of answer ``text`` could be, by its shape."""
    if not text:
        return frozenset()
    folded = text.casefold()
    return frozenset(kind for kind, pattern in _SHAPES if pattern.search(folded))
