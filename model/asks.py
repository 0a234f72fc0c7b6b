"""Whether the goal asks for an answer ("What is 18 × 92?", "잔액 알려줘") or for a change on screen.

A task that asks ends with an ``answer`` action carrying what the screen shows; one that does
not ends with ``done``. "Show me the contact details of Mina" opens a page and is done; "18
곱하기 92는 얼마야?" computes and then says 1656. The context token carries this, read off the
wording: a question that ends it, or words that ask (English and Korean). Imperatives that ask without
such words ("Count the items in Downloads") are left to what the network learns. A polite request ("Can you turn on Wi-Fi?") and a quoted
message that asks ("Send 'Tell me when you land' to Mei") do not ask; a filler after the question
mark ("What is 5 × 3? please") does not hide one.
"""
from __future__ import annotations

import re
from functools import lru_cache

from model.quotes import quoted_spans

# imperatives that ask, anywhere; otherwise a final question mark on a sentence that opens with a question
# word: "What's on Monday? Open that day" asks for a change on screen, and "Text Mina: ¿Nos vemos mañana?"
# sends a question, it does not ask one
_EN = re.compile(r"\b(?:tell me|how many|how much|read me|find out|give the number)\b")
_KO = ("알려줘", "뭐야", "뭐였어", "얼마", "몇", "어디야", "말해줘", "누구야")
_TRAILING = re.compile(r"(?:\s*\([^()]*\)|[\s.!])*$")  # closing parentheticals and stops: "...? (password x)"
_SENTENCE = re.compile(r"[.!:;?](?=\s)")
_QUESTION = re.compile(r"(?:what|how|which|when|who|whose|where|why|is|are|do|does|did)\b")  # not "can you"
_FILLER = re.compile(r"\?[\s,]*(?:please|thanks|now|for me|부탁해)?[\s.!]*$")  # "What is 5 × 3? please"


@lru_cache(maxsize=1024)
def asks(goal: str) -> bool:
    """True when the goal's wording asks for an answer."""
    text = goal.casefold()
    for a, b in reversed(quoted_spans(text)):  # a quoted message that asks is sent, not asked
        text = text[:a] + " " * (b - a) + text[b:]
    if _EN.search(text) or any(word in text for word in _KO):
        return True
    body = _FILLER.sub("?", _TRAILING.sub("", text))
    if not body.endswith("?"):
        return False
    last = _SENTENCE.split(body[:-1])[-1].strip()
    return bool(_QUESTION.match(last))
