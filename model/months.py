"""The month cue: which way a month view's ‹ › buttons lead toward the month the goal names.

"Show my schedule for April 15" on a calendar showing June needs two presses of ‹; a
pointer network sees two identical-looking arrows and the word "April", and cannot
learn month arithmetic from a few templates. So the features spell it out: the goal's
month (English names and abbreviations, Korean "4월"), the month a heading shows (its
value "2026-06", or "June 2026" / "2026년 6월"), and the nearer way round the year from
one to the other (goals give no year: "January" seen from December is next month).
A goal may name two dates ("move it from Jan 3 to Feb 4"): the first month and the last
get a flag each, and the network tells from the screen which one it is after.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Optional

MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
_NAMES = "|".join(f"{m[:3]}(?:{m[3:]})?" for m in MONTHS)  # "apr" or "april"
_EN = re.compile(rf"\b({_NAMES})\b", re.IGNORECASE)
_EN_DAY = re.compile(rf"\b({_NAMES})\.?\s+\d{{1,2}}\b", re.IGNORECASE)
_KO = re.compile(r"(?<!\d)(1[0-2]|0?[1-9])\s*월")
_ISO_MONTH = re.compile(r"^\s*(\d{4})-(\d{2})\s*$")
_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")
PREV = frozenset({"‹", "<", "◀", "←", "prev", "previous", "previous month", "이전", "이전 달"})
NEXT = frozenset({"›", ">", "▶", "→", "next", "next month", "다음", "다음 달"})


def _month_in(text: str) -> Optional[int]:
    m = _EN.search(text)
    if m is not None:
        return MONTHS.index(next(name for name in MONTHS if name.startswith(m.group(1)[:3].lower()))) + 1
    k = _KO.search(text)
    return int(k.group(1)) if k else None


@lru_cache(maxsize=4096)
def goal_months(goal: str) -> tuple[int, ...]:
    """The months (1..12) the goal names, in order ("May I..." is not a month: a day must follow)."""
    found = [(m.start(), _month_in(m.group(1))) for m in _EN_DAY.finditer(goal)]
    found += [(k.start(), int(k.group(1))) for k in _KO.finditer(goal)]
    return tuple(month for _, month in sorted(found) if month)


def shown_month(name: str, value: str) -> Optional[tuple[int, int]]:
    """(year, month) a month heading shows, from its value ("2026-06") or its text ("June 2026")."""
    iso = _ISO_MONTH.match(value or "")
    if iso is not None and 1 <= int(iso.group(2)) <= 12:
        return int(iso.group(1)), int(iso.group(2))
    year = _YEAR.search(name or "")
    month = _month_in(name or "")
    return (int(year.group(1)), month) if year is not None and month is not None else None


def direction(want: Optional[int], shown: Optional[tuple[int, int]]) -> int:
    """-1 (go back), +1 (go forward) or 0 (month ``want`` is shown, or there is nothing to compare)."""
    if want is None or shown is None:
        return 0
    delta = (want - shown[1]) % 12  # the nearer way round the year
    if delta == 0:
        return 0
    return 1 if delta <= 6 else -1


def nav_of(label: str) -> int:
    """-1 for a "previous" button, +1 for a "next" button, 0 otherwise."""
    text = label.strip().casefold()
    return -1 if text in PREV else (1 if text in NEXT else 0)
