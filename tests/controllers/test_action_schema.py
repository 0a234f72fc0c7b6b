"""`action_json_schema()` must accept exactly what `parse_action` accepts.

Every instance is checked three ways: against the JSON Schema, through
``parse_action`` on the Python object, and through ``parse_action`` on its JSON
text. The few gaps JSON Schema cannot close are pinned in
``test_known_gaps_between_schema_and_runtime`` and are the only disagreements the
fuzz tests tolerate.
"""
import copy
import json
import random
import re

import pytest
from pydantic import TypeAdapter, ValidationError

from controllers.actions import (MODIFIER_KEYS, NAMED_KEYS, Action, _KEY_ALIASES, action_json_schema,
                                 normalize_key, parse_action)

import jsonschema  # noqa: E402 - in the test extras

SCHEMA = action_json_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
STRICT = TypeAdapter(Action)
INT64_MAX = 2**63 - 1


def schema_ok(instance) -> bool:
    return VALIDATOR.is_valid(instance)


def runtime_ok(instance) -> bool:
    try:
        parse_action(instance)
        from_python = True
    except ValidationError:
        from_python = False
    try:
        parse_action(json.dumps(instance))
        from_json = True
    except ValidationError:
        from_json = False
    assert from_python == from_json, f"parse_action disagrees with itself on {instance!r}"
    return from_python


def strict_ok(instance) -> bool:
    try:
        STRICT.validate_json(json.dumps(instance), strict=True)
        return True
    except ValidationError:
        return False


def _walk(value):
    yield value
    if isinstance(value, dict):
        for v in value.values():
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)


def _bad_regex(instance) -> bool:
    for node in _walk(instance):
        if isinstance(node, dict) and isinstance(node.get("text_regex"), str):
            try:
                re.compile(node["text_regex"])
            except re.error:
                return True
    return False


def _lone_surrogate(instance) -> bool:
    strings = [n for n in _walk(instance) if isinstance(n, str)]
    strings += [k for n in _walk(instance) if isinstance(n, dict) for k in n]
    return any(0xD800 <= ord(c) <= 0xDFFF for s in strings for c in s)


def _huge_int(instance) -> bool:
    return any(isinstance(n, int) and not isinstance(n, bool) and n > INT64_MAX for n in _walk(instance))


def unexpressible(instance, in_schema: bool, at_runtime: bool) -> bool:
    """Whether a disagreement is one of the gaps JSON Schema cannot close (see the pinned cases below)."""
    if in_schema and not at_runtime:
        # text_regex must compile; strings must be valid Unicode (no lone surrogates).
        return _bad_regex(instance) or _lone_surrogate(instance)
    if at_runtime and not in_schema:
        if _huge_int(instance):  # the schema stops integers at 2**63-1, see action_json_schema
            return True
        # A lax pydantic coercion ("0.5" for 0.5, 1 for true ...): strict mode refuses it, and the
        # very same action written canonically must be in the schema.
        canonical = parse_action(instance).model_dump(mode="json", exclude_unset=True)
        return not strict_ok(instance) and schema_ok(canonical)
    return False


def assert_agree(instance) -> None:
    in_schema, at_runtime = schema_ok(instance), runtime_ok(instance)
    assert in_schema == at_runtime, f"schema {in_schema}, parse_action {at_runtime}: {instance!r}"


# ------------------------------------------------------------------ corpora

SELECTOR_ALL = {
    "text": "확인", "text_contains": "확", "text_regex": r"^확인(하기)?$", "id": "com.app:id/ok", "role": "button",
    "description": "확인 버튼", "description_contains": "버튼", "enabled": True, "checked": False, "selected": False,
    "focused": True, "index": 0,
}
RELATIONS = {
    "text_contains": "저장", "role": "button", "index": 2,
    "below": {"text": "제목", "child_of": {"role": "dialog"}},
    "above": {"role": "keyboard"},
    "left_of": {"id": "cancel", "right_of": {"text_regex": "^\\d+$"}},
    "right_of": {"description_contains": "뒤로"},
    "child_of": {"role": "list", "index": 1, "child_of": {"role": "window", "focused": True}},
}
EL = {"kind": "element", "id": 3}
PT = {"kind": "point", "x": 0.5, "y": 0.25}

VALID = [
    {"type": "click", "target": EL},
    {"type": "click", "target": {"kind": "element", "id": 0}, "button": "middle", "count": 3},
    {"type": "click", "target": {"kind": "point", "x": 0, "y": 1, "frame": "window"}, "button": "right", "count": 2},
    {"type": "click", "target": {"kind": "point", "x": 1.0, "y": 0.0, "frame": "screen"}, "button": "left", "count": 1},
    {"type": "click", "target": {"kind": "selector", "selector": SELECTOR_ALL}},
    {"type": "click", "target": {"kind": "selector", "selector": RELATIONS}},
    {"type": "click", "target": EL, "count": 2.0},  # an integral float is an integer in both
    {"type": "long_press", "target": {"kind": "selector", "selector": {"text": "사진"}}, "duration": 10},
    {"type": "long_press", "target": PT},
    {"type": "drag", "start": EL, "end": PT, "duration": 0.5},
    {"type": "drag", "start": {"kind": "selector", "selector": {"role": "slider"}}, "end": {"kind": "element", "id": 8}},
    {"type": "scroll", "direction": "down"},
    {"type": "scroll", "direction": "up", "amount": 10, "target": None},
    {"type": "scroll", "direction": "left", "amount": 5e-324, "target": {"kind": "selector", "selector": {"role": "list", "index": 1}}},
    {"type": "scroll", "direction": "right", "amount": 0.25, "target": EL},
    {"type": "swipe", "start": {"kind": "point", "x": 0.5, "y": 0.8}, "end": {"kind": "point", "x": 0.5, "y": 0.2}, "duration": 0.05},
    {"type": "type", "text": "안녕하세요, 김민준 님 😀 <b>&\"</b>", "clear": True, "submit": True},
    {"type": "type", "text": "hunter2", "secret": True, "target": {"kind": "element", "id": 9}},
    {"type": "type", "text": "", "target": None, "clear": False, "submit": False, "secret": False},
    {"type": "type", "text": "가" * 20000, "target": {"kind": "selector", "selector": {"role": "text_field", "focused": True}}},
    {"type": "key", "keys": ["ctrl", "shift", "t"]},
    {"type": "key", "keys": ["Ctrl", "Page-Down"]},
    {"type": "key", "keys": ["CMD", "한"]},
    {"type": "key", "keys": ["😀"]},
    {"type": "key", "keys": [" "]},
    {"type": "key", "keys": [" Enter\t", "RETURN", "esc", "arrowUp", "F12", "caps-lock"]},
    {"type": "key", "keys": ["meta", "alt", "A", "+", "ㅎ", "é"]},
    {"type": "key", "keys": ["recents"]},
    {"type": "system", "button": "back"},
    {"type": "system", "button": "home"},
    {"type": "system", "button": "recents"},
    {"type": "system", "button": "enter"},
    {"type": "open_app", "app": "설정"},
    {"type": "open_app", "app": "a" * 256},
    {"type": "open_app", "app": "org.gnome.Settings.desktop"},
    {"type": "wait", "seconds": 0},
    {"type": "wait", "seconds": 600, "timeout": 600},
    {"type": "wait", "until": {"text_contains": "완료", "below": {"role": "heading"}}, "timeout": 3},
    {"type": "wait", "seconds": 1.5, "until": {"role": "dialog"}},
    {"type": "wait", "seconds": None, "until": {"text": "OK"}},
    {"type": "wait", "seconds": 2, "until": None},
    {"type": "answer", "text": "010-1234-5678"},
    {"type": "answer", "text": ""},
    {"type": "done"},
    {"type": "done", "status": "success"},
    {"type": "done", "status": "failure", "summary": "로그인 실패"},
    {"type": "done", "status": "infeasible", "summary": "x" * 20000},
]

INVALID = {
    # the tag is required, even though the models give it a default
    "no type, open_app fields": {"app": "settings"},
    "no type, system fields": {"button": "home"},
    "no type, answer fields": {"text": "hi"},
    "no type at all": {},
    "no kind, element": {"type": "click", "target": {"id": 3}},
    "no kind, point": {"type": "click", "target": {"x": 0.5, "y": 0.5}},
    "no kind, selector": {"type": "long_press", "target": {"selector": {"text": "OK"}}},
    "no kind, drag end": {"type": "drag", "start": EL, "end": {"x": 0.1, "y": 0.1}},
    "no kind, scroll target": {"type": "scroll", "direction": "down", "target": {"id": 1}},
    "type null": {"type": None, "app": "x"},
    # wait needs seconds or until
    "wait timeout only": {"type": "wait", "timeout": 3},
    "wait nothing": {"type": "wait"},
    "wait seconds null": {"type": "wait", "seconds": None},
    "wait both null": {"type": "wait", "seconds": None, "until": None, "timeout": 5},
    # a selector needs a criterion besides index
    "empty selector": {"type": "click", "target": {"kind": "selector", "selector": {}}},
    "index-only selector": {"type": "click", "target": {"kind": "selector", "selector": {"index": 1}}},
    "empty relation": {"type": "click", "target": {"kind": "selector", "selector": {"text": "a", "below": {}}}},
    "deep empty relation": {"type": "click", "target": {"kind": "selector", "selector": {
        "text": "a", "child_of": {"role": "list", "left_of": {"index": 0}}}}},
    "empty until": {"type": "wait", "until": {}},
    "index-only until": {"type": "wait", "until": {"index": 0}, "seconds": 1},
    # keys
    "unknown key": {"type": "key", "keys": ["hyper_space"]},
    "chord in one string": {"type": "key", "keys": ["ctrl+a"]},
    "empty key": {"type": "key", "keys": [""]},
    "no keys": {"type": "key", "keys": []},
    "seven keys": {"type": "key", "keys": ["a", "b", "c", "d", "e", "f", "g"]},
    "newline key": {"type": "key", "keys": ["\n"]},
    "NUL key": {"type": "key", "keys": ["\x00"]},
    "zero-width space key": {"type": "key", "keys": ["\u200b"]},
    "no-break space key": {"type": "key", "keys": ["\u00a0"]},
    "unassigned code point key": {"type": "key", "keys": ["\U000e0080"]},
    "private use key": {"type": "key", "keys": ["\ue000"]},
    "two letters": {"type": "key", "keys": ["ab"]},
    "inner space": {"type": "key", "keys": ["page up"]},
    "BOM is not whitespace to strip": {"type": "key", "keys": ["\ufeffesc"]},
    "letter plus combining accent": {"type": "key", "keys": ["e\u0301"]},
    "number key": {"type": "key", "keys": [1]},
    "keys as a string": {"type": "key", "keys": "ctrl"},
    # ranges
    "x above 1": {"type": "click", "target": {"kind": "point", "x": 1.01, "y": 0.5}},
    "y below 0": {"type": "click", "target": {"kind": "point", "x": 0.5, "y": -0.1}},
    "count 0": {"type": "click", "target": EL, "count": 0},
    "count 4": {"type": "click", "target": EL, "count": 4},
    "count 1.5": {"type": "click", "target": EL, "count": 1.5},
    "duration 0": {"type": "long_press", "target": EL, "duration": 0},
    "duration 10.5": {"type": "swipe", "start": PT, "end": PT, "duration": 10.5},
    "amount 0": {"type": "scroll", "direction": "down", "amount": 0},
    "seconds -1": {"type": "wait", "seconds": -1},
    "seconds 601": {"type": "wait", "seconds": 601},
    "timeout 0": {"type": "wait", "seconds": 1, "timeout": 0},
    "id -1": {"type": "click", "target": {"kind": "element", "id": -1}},
    "id 1e20 written as a float": {"type": "click", "target": {"kind": "element", "id": 1e20}},
    "index -1": {"type": "click", "target": {"kind": "selector", "selector": {"text": "a", "index": -1}}},
    "index 0.5": {"type": "click", "target": {"kind": "selector", "selector": {"text": "a", "index": 0.5}}},
    # enums
    "type Click": {"type": "Click", "target": EL},
    "type tap": {"type": "tap", "target": EL},
    "button Left": {"type": "click", "target": EL, "button": "Left"},
    "frame Window": {"type": "click", "target": {"kind": "point", "x": 0, "y": 0, "frame": "Window"}},
    "direction forward": {"type": "scroll", "direction": "forward"},
    "system menu": {"type": "system", "button": "menu"},
    "status ok": {"type": "done", "status": "ok"},
    "role Button": {"type": "click", "target": {"kind": "selector", "selector": {"role": "Button"}}},
    "kind widget": {"type": "click", "target": {"kind": "widget", "id": 1}},
    # lengths
    "text too long": {"type": "type", "text": "가" * 20001},
    "answer too long": {"type": "answer", "text": "a" * 20001},
    "summary too long": {"type": "done", "summary": "a" * 20001},
    "app empty": {"type": "open_app", "app": ""},
    "app too long": {"type": "open_app", "app": "a" * 257},
    # extra fields
    "extra top-level": {"type": "done", "reason": "x"},
    "field of another action": {"type": "click", "target": EL, "duration": 1},
    "extra in target": {"type": "click", "target": {"kind": "element", "id": 1, "x": 0.5}},
    "extra in selector": {"type": "click", "target": {"kind": "selector", "selector": {"name": "OK"}}},
    # wrong types and nulls
    "selector with only null criteria": {"type": "click", "target": {"kind": "selector", "selector": {"text": None}}},
    "wait until null criteria": {"type": "wait", "until": {"below": None, "index": 3}},
    "text null": {"type": "type", "text": None},
    "app number": {"type": "open_app", "app": 5},
    "target string": {"type": "click", "target": "OK"},
    "target null on click": {"type": "click", "target": None},
    "selector string": {"type": "click", "target": {"kind": "selector", "selector": "OK"}},
    "clear null": {"type": "type", "text": "a", "clear": None},
    "summary null": {"type": "done", "summary": None},
    "index null": {"type": "click", "target": {"kind": "selector", "selector": {"text": "a", "index": None}}},
    "button null": {"type": "system", "button": None},
    "text number in selector": {"type": "click", "target": {"kind": "selector", "selector": {"text": 5}}},
    "enabled string": {"type": "click", "target": {"kind": "selector", "selector": {"enabled": "maybe"}}},
    "not an object: list": [],
    "not an object: null": None,
    "not an object: number": 5,
    "not an object: string": "click",
}


def test_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["title"] == "HandaAction"
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schema_prints_as_utf8_json():
    text = json.dumps(SCHEMA, ensure_ascii=False, indent=2)  # what `handa schema actions` prints
    text.encode("utf-8")
    assert json.loads(text) == SCHEMA


def test_schema_is_a_fresh_dict_each_time():
    first = action_json_schema()
    first["$defs"].clear()
    assert action_json_schema() == SCHEMA


def test_valid_corpus_covers_every_action_type_target_kind_and_enum_value():
    kinds = {n["kind"] for n in _walk(VALID) if isinstance(n, dict) and "kind" in n}
    assert kinds == {"element", "selector", "point"}
    assert {d["type"] for d in VALID} == set(SCHEMA["discriminator"]["mapping"])
    used = {s for s in _walk(VALID) if isinstance(s, str)}
    for name in ("MouseButton", "Direction", "SystemButton", "DoneStatus", "Frame"):
        assert set(SCHEMA["$defs"][name]["enum"]) <= used, name


@pytest.mark.parametrize("instance", VALID, ids=lambda d: d["type"])
def test_valid_actions_are_accepted_by_both(instance):
    assert runtime_ok(instance), instance
    assert schema_ok(instance), list(VALIDATOR.iter_errors(instance))


@pytest.mark.parametrize("instance", list(INVALID.values()), ids=list(INVALID))
def test_invalid_actions_are_rejected_by_both(instance):
    assert not runtime_ok(instance), instance
    assert not schema_ok(instance), instance


# Disagreements JSON Schema cannot remove; pinned so that a change on either side shows up here.
RUNTIME_ONLY = {  # pydantic's lax mode coerces these; the schema describes the canonical JSON only
    "number as a string": {"type": "click", "target": {"kind": "point", "x": "0.5", "y": 0}},
    "integer as a string": {"type": "click", "target": {"kind": "element", "id": "3"}},
    "true as an integer": {"type": "click", "target": EL, "count": True},
    "true as a number": {"type": "scroll", "direction": "down", "amount": True},
    "1 as a boolean": {"type": "type", "text": "a", "clear": 1},
    "yes as a boolean": {"type": "type", "text": "a", "submit": "yes"},
    "seconds as a string": {"type": "wait", "seconds": "1"},
    "integer beyond int64": {"type": "click", "target": {"kind": "element", "id": 2**63}},
}
SCHEMA_ONLY = {  # checks JSON Schema cannot state
    "text_regex that does not compile": {"type": "click", "target": {"kind": "selector", "selector": {"text_regex": "("}}},
    "lone surrogate in a string": {"type": "type", "text": "\ud800"},
}


def test_known_gaps_between_schema_and_runtime():
    for name, instance in RUNTIME_ONLY.items():
        assert runtime_ok(instance) and not schema_ok(instance), name
        assert unexpressible(instance, False, True), name
    for name, instance in SCHEMA_ONLY.items():
        assert schema_ok(instance) and not runtime_ok(instance), name
        assert unexpressible(instance, True, False), name


def test_text_regex_is_documented_as_runtime_only():
    description = SCHEMA["$defs"]["Selector"]["properties"]["text_regex"]["description"]
    assert "compile" in description


# ------------------------------------------------------------------ key names

def _key_branch(title: str) -> dict:
    (branch,) = [b for b in SCHEMA["$defs"]["KeyName"]["anyOf"] if b["title"] == title]
    return branch


def test_key_names_are_listed():
    assert set(_key_branch("Modifier")["enum"]) == MODIFIER_KEYS
    assert set(_key_branch("Named key")["enum"]) == NAMED_KEYS
    assert set(_key_branch("Alias")["enum"]) == set(_KEY_ALIASES)
    assert SCHEMA["$defs"]["Key"]["properties"]["keys"]["items"] == {"$ref": "#/$defs/KeyName"}


def test_single_character_pattern_is_exactly_isprintable():
    pattern = re.compile(_key_branch("Printable character")["pattern"])
    wrong = [cp for cp in range(0x110000) if bool(pattern.search(chr(cp))) != chr(cp).isprintable()]
    assert wrong == []


def test_no_character_lowercases_into_several_key_name_characters():
    # _unicode_tables only follows one-to-one lowercasing; this keeps that assumption honest.
    alphabet = set("".join(MODIFIER_KEYS | NAMED_KEYS | set(_KEY_ALIASES)))
    for cp in range(0x110000):
        low = chr(cp).lower().replace("-", "_")
        assert len(low) == 1 or not set(low) <= alphabet, hex(cp)


def _key_accepted(key) -> bool:
    try:
        normalize_key(key)
        return True
    except ValueError:
        return False


SPACES = [c for c in map(chr, range(0x3001)) if c.isspace()]
NOT_SPACES = ["\u200b", "\ufeff", "\u180e", "_", "-", ".", "\u00ad"]


def _spellings(rng: random.Random, name: str) -> str:
    chars = []
    for c in name:
        r = rng.random()
        if c == "_" and r < 0.5:
            c = "-"
        elif c == "k" and r < 0.2:
            c = "\u212a"  # KELVIN SIGN lowercases to k
        elif r < 0.4:
            c = c.upper()
        chars.append(c)
    if rng.random() < 0.1 and len(chars) > 1:
        del chars[rng.randrange(len(chars))]
    if rng.random() < 0.1:
        chars.insert(rng.randrange(len(chars) + 1), rng.choice("ab_- "))
    pad = SPACES + NOT_SPACES
    left = "".join(rng.choice(pad) for _ in range(rng.choice([0, 0, 1, 2])))
    right = "".join(rng.choice(pad) for _ in range(rng.choice([0, 0, 1, 2])))
    return left + "".join(chars) + right


def test_fuzzed_key_names_agree():
    rng = random.Random(7)
    names = sorted(MODIFIER_KEYS | NAMED_KEYS | set(_KEY_ALIASES))
    candidates = [_spellings(rng, rng.choice(names)) for _ in range(1500)]
    candidates += [chr(rng.randrange(0x110000)) for _ in range(800)]
    candidates += [chr(rng.randrange(0x3000)) for _ in range(400)]
    candidates += ["".join(chr(rng.randrange(0x250)) for _ in range(2)) for _ in range(200)]
    candidates += ["f0", "f13", "f01", "F1", "f 1", "ctrl\n", "\nctrl", "\x1cesc\x85", "\u3000tab\u2028"]
    accepted = 0
    for key in candidates:
        instance = {"type": "key", "keys": ["shift", key]}
        in_schema, at_runtime = schema_ok(instance), runtime_ok(instance)
        assert at_runtime == _key_accepted(key)
        assert in_schema == at_runtime, repr(key)
        accepted += at_runtime
    assert 0.2 * len(candidates) < accepted < 0.9 * len(candidates)


# ------------------------------------------------------------------ mutation fuzz

FIELD_NAMES = sorted({name for d in SCHEMA["$defs"].values() for name in d.get("properties", {})} | {"unknown", "Type"})
NUMBERS = [-1, -0.5, 0, 0.0, 5e-324, 0.25, 0.5, 1, 1.0, 1.5, 2, 3, 3.0, 4, 6, 9.99, 10, 10.000001, 11, 256, 599.9,
           600, 600.5, 1e6, 1e20, 2**62, -(2**63)]
STRINGS = ["", "x", "click", "Click", "type", "wait", "element", "selector", "point", "screen", "window", "Window",
           "left", "right", "middle", "up", "down", "back", "home", "recents", "enter", "menu", "success", "failure",
           "infeasible", "button", "text_field", "unknown", "ctrl", "CTRL", "Page-Down", "hyper_space", "한", "😀",
           "\n", " ", "a b", "0.5", "1", "true", "yes", "설정", "(", "a" * 257, "b" * 20001]
OTHERS = [None, True, False, [], {}, ["ctrl"], ["a"] * 7, {"text": "OK"}, {"index": 1}, {"kind": "element", "id": 1},
          {"kind": "point", "x": 0.5, "y": 0.5}, {"kind": "selector", "selector": {"role": "button"}}, EL, PT]


def _harvest(corpus):
    return [copy.deepcopy(n) for n in _walk(corpus) if isinstance(n, (dict, list))]


SUBTREES = _harvest(VALID)


def _value(rng: random.Random):
    pool = rng.choice([NUMBERS, STRINGS, OTHERS, SUBTREES])
    return copy.deepcopy(rng.choice(pool))


def _containers(value, path=()):
    if isinstance(value, (dict, list)):
        yield path, value
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for k, v in items:
            yield from _containers(v, path + (k,))


def _same_kind(rng: random.Random, current):
    """A value of the same JSON type: mostly near the boundary the schema has to draw."""
    if isinstance(current, bool):
        return not current
    if isinstance(current, (int, float)):
        if rng.random() < 0.5:
            return rng.choice([current + 1, current - 1, current * 10, -current, current + 0.5, current / 2])
        return rng.choice(NUMBERS)
    if isinstance(current, str):
        if rng.random() < 0.3:
            return rng.choice([current.upper(), current.title(), current + "x", current[:-1], " " + current])
        return rng.choice(STRINGS)
    same = [t for t in SUBTREES if type(t) is type(current)]
    return copy.deepcopy(rng.choice(same)) if same and current is not None else _value(rng)


def _mutate(rng: random.Random, instance):
    instance = copy.deepcopy(instance)
    _, node = rng.choice(list(_containers(instance)))
    op = rng.random()
    if isinstance(node, dict):
        keys = list(node)
        if keys and op < 0.25:
            del node[rng.choice(keys)]
        elif keys and op < 0.5:
            key = rng.choice(keys)
            node[key] = _same_kind(rng, node[key])
        elif keys and op < 0.75:
            node[rng.choice(keys)] = _value(rng)
        else:
            node[rng.choice(FIELD_NAMES)] = _value(rng)
    else:
        if node and op < 0.3:
            del node[rng.randrange(len(node))]
        elif node and op < 0.6:
            index = rng.randrange(len(node))
            node[index] = _same_kind(rng, node[index])
        else:
            node.append(rng.choice(STRINGS) if rng.random() < 0.7 else _value(rng))
    return instance


@pytest.mark.parametrize("seed", range(3))
def test_mutated_actions_agree(seed):
    rng = random.Random(seed)
    unexplained, gaps, accepted, total = [], 0, 0, 0
    for base in VALID:
        for _ in range(50):
            instance = base
            for _ in range(rng.choice([1, 1, 1, 2, 3])):
                instance = _mutate(rng, instance)
            in_schema, at_runtime = schema_ok(instance), runtime_ok(instance)
            total += 1
            accepted += at_runtime
            if in_schema != at_runtime:
                if unexpressible(instance, in_schema, at_runtime):
                    gaps += 1
                else:
                    unexplained.append((in_schema, at_runtime, instance))
    assert unexplained == [], unexplained[:5]
    # the fuzz should reach both sides of the boundary, and the known gaps should stay rare
    assert 0.05 * total < accepted < 0.95 * total
    assert gaps < 0.1 * total


def test_canonical_dumps_of_mutants_are_in_the_schema():
    # Whatever parse_action accepts, its canonical JSON form must be accepted by the schema.
    rng = random.Random(99)
    for base in VALID:
        for _ in range(20):
            instance = _mutate(rng, base)
            if runtime_ok(instance) and not _huge_int(instance):
                canonical = parse_action(instance).model_dump(mode="json", exclude_unset=True)
                assert schema_ok(canonical), canonical
