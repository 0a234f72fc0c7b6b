import json

import pytest
from pydantic import ValidationError

from controllers.actions import (ACTION_TYPES, Click, Done, Key, PointTarget, Scroll, Selector, TypeText, Wait,
                                 action_json_schema, describe, dump_action, parse_action)

EXAMPLES = [
    {"type": "click", "target": {"kind": "element", "id": 3}},
    {"type": "click", "target": {"kind": "point", "x": 0.5, "y": 1.0, "frame": "window"}, "button": "right", "count": 2},
    {"type": "long_press", "target": {"kind": "selector", "selector": {"text": "저장"}}, "duration": 1.5},
    {"type": "drag", "start": {"kind": "element", "id": 1}, "end": {"kind": "point", "x": 0.1, "y": 0.2}},
    {"type": "scroll", "direction": "down", "amount": 1.5},
    {"type": "scroll", "direction": "up", "target": {"kind": "selector", "selector": {"role": "list", "index": 1}}},
    {"type": "swipe", "start": {"kind": "point", "x": 0.5, "y": 0.8}, "end": {"kind": "point", "x": 0.5, "y": 0.2}},
    {"type": "type", "text": "김민준 <b> & \"quotes\" 😀", "clear": True, "submit": True},
    {"type": "type", "text": "hunter2", "secret": True, "target": {"kind": "element", "id": 9}},
    {"type": "key", "keys": ["ctrl", "shift", "t"]},
    {"type": "system", "button": "recents"},
    {"type": "open_app", "app": "설정"},
    {"type": "wait", "seconds": 0.5},
    {"type": "wait", "until": {"text_contains": "done", "below": {"role": "heading"}}, "timeout": 3},
    {"type": "answer", "text": "010-1234-5678"},
    {"type": "done", "status": "infeasible", "summary": "no such app"},
]


@pytest.mark.parametrize("data", EXAMPLES, ids=lambda d: d["type"])
def test_every_action_round_trips_through_json(data):
    action = parse_action(data)
    again = parse_action(action.model_dump_json())
    assert again == action
    assert parse_action(json.dumps(data, ensure_ascii=False)) == action


def test_examples_cover_every_action_type():
    assert {d["type"] for d in EXAMPLES} == set(ACTION_TYPES)


@pytest.mark.parametrize("bad", [
    {"type": "click", "target": {"kind": "point", "x": 1.01, "y": 0.5}},
    {"type": "click", "target": {"kind": "point", "x": -0.1, "y": 0.5}},
    {"type": "click", "target": {"kind": "element", "id": -1}},
    {"type": "click", "target": {"kind": "element", "id": 1}, "count": 4},
    {"type": "click"},
    {"type": "teleport"},
    {"type": "scroll", "direction": "diagonal"},
    {"type": "key", "keys": []},
    {"type": "key", "keys": ["hyper_space"]},
    {"type": "wait"},
    {"type": "done", "status": "meh"},
    {"type": "click", "target": {"kind": "selector", "selector": {}}},
    {"type": "click", "target": {"kind": "selector", "selector": {"text_regex": "("}}},
    {"type": "click", "target": {"kind": "element", "id": 1}, "extra": "field"},
])
def test_invalid_actions_are_rejected(bad):
    with pytest.raises(ValidationError):
        parse_action(bad)


def test_points_are_never_clamped():
    with pytest.raises(ValidationError):
        PointTarget(x=1.5, y=0.2)


def test_key_names_are_normalized():
    assert Key(keys=["Control", "Return"]).keys == ["ctrl", "enter"]
    assert Key(keys=["<"]).keys == ["<"]


def test_secret_text_is_masked_in_dumps_and_descriptions():
    a = TypeText(text="hunter2", secret=True)
    assert "hunter2" not in json.dumps(dump_action(a))
    assert "hunter2" not in describe(a)
    assert dump_action(a, mask_secrets=False)["text"] == "hunter2"


def test_korean_survives_a_round_trip():
    a = parse_action({"type": "type", "text": "안녕하세요, 김민준 님"})
    assert parse_action(a.model_dump_json()).text == "안녕하세요, 김민준 님"


def test_schema_lists_every_action_type():
    schema = action_json_schema()
    text = json.dumps(schema)
    for t in ACTION_TYPES:
        assert f'"{t}"' in text
    assert schema["title"] == "HandaAction"


def test_describe_is_readable():
    assert describe(Click(target={"kind": "element", "id": 4})) == "click #4"
    assert describe(Scroll(direction="down", amount=2)) == "scroll down 2"
    assert describe(Done()) == "done success"
    assert "until" in describe(Wait(until=Selector(text="OK")))
