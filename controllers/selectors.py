"""Selector matching against an observation's elements."""
from __future__ import annotations

import re
from typing import Iterable, Optional

from controllers.actions import Selector
from controllers.elements import Observation, UIElement


def _reading_order(e: UIElement) -> tuple[int, int, int]:
    return (e.bounds.top, e.bounds.left, e.id)


def _texts(e: UIElement) -> Iterable[str]:
    if e.name:
        yield e.name
    if e.value:
        yield e.value


def _own_match(sel: Selector, e: UIElement) -> bool:
    if sel.role is not None and e.role != sel.role:
        return False
    if sel.id is not None and sel.id not in (e.attrs.get("resource-id"), e.attrs.get("id")):
        return False
    if sel.text is not None and sel.text.strip() not in (t.strip() for t in _texts(e)):
        return False
    if sel.text_contains is not None:
        needle = sel.text_contains.casefold()
        if not any(needle in t.casefold() for t in _texts(e)):
            return False
    if sel.text_regex is not None and not any(re.search(sel.text_regex, t) for t in _texts(e)):
        return False
    if sel.description is not None and e.description.strip() != sel.description.strip():
        return False
    if sel.description_contains is not None and sel.description_contains.casefold() not in e.description.casefold():
        return False
    s = e.states
    if sel.enabled is not None and s.enabled != sel.enabled:
        return False
    if sel.checked is not None and bool(s.checked) != sel.checked:
        return False
    if sel.selected is not None and s.selected != sel.selected:
        return False
    if sel.focused is not None and s.focused != sel.focused:
        return False
    return True


def _is_descendant(obs: Observation, e: UIElement, ancestor_ids: set[int]) -> bool:
    seen = 0
    parent = e.parent
    while parent is not None and seen < 10_000:
        if parent in ancestor_ids:
            return True
        node = obs.element(parent)
        parent = node.parent if node else None
        seen += 1
    return False


def find_all(obs: Observation, sel: Selector) -> list[UIElement]:
    """Every visible element matching ``sel``, in reading order (``index`` is ignored here)."""
    candidates = [e for e in obs.elements if e.states.visible and _own_match(sel, e)]
    if sel.child_of is not None:
        anchors = {a.id for a in find_all(obs, sel.child_of)}
        candidates = [e for e in candidates if _is_descendant(obs, e, anchors)]
    ordered = False
    for field, relation in (("below", _below), ("above", _above), ("left_of", _left_of), ("right_of", _right_of)):
        anchor_sel = getattr(sel, field)
        if anchor_sel is None:
            continue
        anchor = find(obs, anchor_sel)
        if anchor is None:
            return []
        scored = [(d, e) for e in candidates if e.id != anchor.id and (d := relation(anchor, e)) is not None]
        candidates = [e for _, e in sorted(scored, key=lambda p: (p[0], _reading_order(p[1])))]
        ordered = True  # nearest to the anchor first
    if ordered:
        return candidates
    return sorted(candidates, key=_reading_order)


def find(obs: Observation, sel: Selector) -> Optional[UIElement]:
    """The ``sel.index``-th match, or None."""
    matches = find_all(obs, sel)
    return matches[sel.index] if sel.index < len(matches) else None


# Relations return a distance (smaller is nearer) or None when the relation does not hold.
def _overlap(a0: int, a1: int, b0: int, b1: int) -> bool:
    return min(a1, b1) > max(a0, b0)


def _below(anchor: UIElement, e: UIElement) -> Optional[float]:
    if e.bounds.top < anchor.bounds.bottom - 2:
        return None
    gap = e.bounds.top - anchor.bounds.bottom
    return gap + (0 if _overlap(anchor.bounds.left, anchor.bounds.right, e.bounds.left, e.bounds.right) else 10_000)


def _above(anchor: UIElement, e: UIElement) -> Optional[float]:
    if e.bounds.bottom > anchor.bounds.top + 2:
        return None
    gap = anchor.bounds.top - e.bounds.bottom
    return gap + (0 if _overlap(anchor.bounds.left, anchor.bounds.right, e.bounds.left, e.bounds.right) else 10_000)


def _left_of(anchor: UIElement, e: UIElement) -> Optional[float]:
    if e.bounds.right > anchor.bounds.left + 2:
        return None
    gap = anchor.bounds.left - e.bounds.right
    return gap + (0 if _overlap(anchor.bounds.top, anchor.bounds.bottom, e.bounds.top, e.bounds.bottom) else 10_000)


def _right_of(anchor: UIElement, e: UIElement) -> Optional[float]:
    if e.bounds.left < anchor.bounds.right - 2:
        return None
    gap = e.bounds.left - anchor.bounds.right
    return gap + (0 if _overlap(anchor.bounds.top, anchor.bounds.bottom, e.bounds.top, e.bounds.bottom) else 10_000)
