"""Which way the goal wants a switch or a box: on (ticked) or off, read off its wording.

"Set 블루투스 to off" names a row whose switch may already be off: then the task is done,
not one click away. Two element flags (see ``model.features``) say whether a checkable
element already shows the goal's wish or the opposite, so "flip it if it differs, else
stop" is one rule for every switch, including ones training never showed.

Read off fixed wordings: a state word after turn/switch, "to on/off", "is on/off", a state
word closing the goal or its clause ("is on", not "what is on my calendar"), and words such as
"untick", "unsubscribe", "star", "켜줘", "해제" ("체크아웃", check-out, ticks nothing). A goal that
asks for both ways at once, or for neither, has no wish (``None``). Known misread: Korean words
other than 체크아웃 that merely contain a cue.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Optional

_ON, _OFF = "on", "off"
# English: the state word after turn/switch (a few words may stand between), "to on", a trailing state
_EN = [
    re.compile(r"\b(?:turn|switch)(?:ed|s)?\s+(?:[^\s,.;:!?]+\s+){0,3}?(on|off)\b"),
    re.compile(r"\bto\s+(on|off)\b"),
    re.compile(r"\b(on|off)\s+for\b"),
    re.compile(r"\b(on|off)\s*[.!]?\s*$"),
    # "is on", but not "what is on my calendar": the state word ends its clause
    re.compile(r"\b(?:is|be|stays?|keep(?:s)?)\s+(on|off)\b(?=\s*(?:$|[,.;:!?)]|(?:and|but|for|again|now|too)\b))"),
]
_WORDS = {
    "enable": _ON, "enabled": _ON, "tick": _ON, "ticked": _ON, "subscribe": _ON,
    "star": _ON, "favorite": _ON, "favorites": _ON, "favourite": _ON, "favourites": _ON,
    "disable": _OFF, "disabled": _OFF, "untick": _OFF, "unticked": _OFF, "uncheck": _OFF, "unchecked": _OFF,
    "unsubscribe": _OFF, "unstar": _OFF,
}
_WORD = re.compile(r"[a-z]+")
# Korean: 켜 (switch on) / 꺼, 끄 (switch off); 해제 (release: untick, unpin); 체크, 동의, 구독, 즐겨찾기 (tick, star)
_KO = [("해제", _OFF), ("꺼", _OFF), ("끄", _OFF), ("켜", _ON), ("체크", _ON), ("동의", _ON), ("구독", _ON),
       ("즐겨찾기", _ON)]
_KO_NOT = re.compile(r"체크(?:아웃|인)")  # check-out and check-in hold 체크 but tick nothing
_RELEASED = ("구독", "체크", "즐겨찾기")  # "구독 해제", "즐겨찾기 해제": one wish, off


@lru_cache(maxsize=1024)
def wish(goal: str) -> Optional[bool]:
    """True: the goal wants its switch or box on; False: off; None: it does not say (or says both)."""
    text = goal.casefold()
    seen: set[str] = set()
    for pattern in _EN:
        seen.update(m.group(1) for m in pattern.finditer(text))
    for word in _WORD.findall(text):
        state = _WORDS.get(word)
        if state is not None:
            seen.add(state)
    ko_off = False
    text = _KO_NOT.sub(" ", text)
    for word, state in _KO:
        if word in text:
            if state == _OFF:
                ko_off = True
            elif ko_off and word in _RELEASED:
                continue
            seen.add(state)
    if len(seen) != 1:
        return None
    return seen.pop() == _ON
