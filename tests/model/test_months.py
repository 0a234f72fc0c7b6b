"""The month cue: the goal's months, the month a view shows, and which arrow leads there."""
from __future__ import annotations

import pytest

from model.features import Featurizer, Memory
from model.months import direction, goal_months, nav_of, shown_month
from tests.model.expert_walk import expert_clicks


@pytest.mark.parametrize("goal, months", [
    ("Show my schedule for April 15", (4,)),
    ("Move 'Lunch' from Jan 3 to Feb. 4 at 10:00", (1, 2)),
    ("4월 15일 일정 보여줘", (4,)),
    ("'회의'를 11월 2일에서 12월 1일로 옮겨줘", (11, 12)),
    ("May I turn on Wi-Fi?", ()),  # a month name needs a day after it
    ("Set the volume to 5", ()),
])
def test_goal_months(goal, months):
    assert goal_months(goal) == months


def test_shown_month_and_the_nearer_way_round():
    assert shown_month("June 2026", "2026-06") == (2026, 6)
    assert shown_month("2026년 6월", "") == (2026, 6)
    assert shown_month("Today", "") is None
    assert direction(4, (2026, 6)) == -1
    assert direction(1, (2026, 12)) == 1  # January seen from December: next month, not eleven back
    assert direction(6, (2026, 6)) == 0 and direction(None, (2026, 6)) == 0 and direction(3, None) == 0
    assert [nav_of(t) for t in ("‹", "›", "Next month", "이전", "15")] == [-1, 1, 1, -1, 0]


@pytest.mark.parametrize("template", ["calendar.show_day", "calendar.reschedule"])
def test_the_flags_mark_the_arrow_the_expert_presses(tokenizer, template):
    fz = Featurizer(tokenizer)
    checked = 0
    for inst, obs, element, key in expert_clicks(template):
        if key.endswith((":prev", ":next")):
            feats = fz(inst.goal, obs, Memory(), with_image=False)
            flags = feats.arrays["el_flags"]
            ids = [e.id for e in feats.elements]
            row = ids.index(element.id)
            assert flags[row, 16] == 1 or flags[row, 17] == 1, (inst.goal, key)
            opposite = key.rsplit(":", 1)[0] + (":next" if key.endswith(":prev") else ":prev")
            other = ids.index(next(e.id for e in obs.elements if e.attrs.get("sim-key") == opposite))
            assert not (flags[other, 16] == 1 and flags[row, 16] == 0), (inst.goal, key)
            checked += 1
    assert checked >= 5
