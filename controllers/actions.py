"""The action space: a pydantic discriminated union on ``type``.

Points are normalized to [0, 1] in a named frame (the screen or the foreground
window) and converted to pixels exactly once, by ``controllers.coords``. Values
outside [0, 1] are a schema error: nothing is silently clamped.
"""
from __future__ import annotations

import re
from enum import Enum
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from controllers.elements import Role

SECRET_MASK = "••••••"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- targets


class Frame(str, Enum):
    screen = "screen"
    window = "window"


class Selector(_Strict):
    """Finds elements by what they are, not where they are.

    Every field given must hold (AND). Text matches look at the element's name,
    then its value. Relative fields (``below``, ``above``, ``left_of``,
    ``right_of``, ``child_of``) take another selector as the anchor. Matches are
    ordered top-to-bottom, left-to-right; ``index`` picks the n-th (0-based).
    """

    text: Optional[str] = None
    text_contains: Optional[str] = None
    text_regex: Optional[str] = None
    id: Optional[str] = Field(default=None, description="platform id: resource-id, AT-SPI id, sim id")
    role: Optional[Role] = None
    description: Optional[str] = None
    description_contains: Optional[str] = None
    enabled: Optional[bool] = None
    checked: Optional[bool] = None
    selected: Optional[bool] = None
    focused: Optional[bool] = None
    below: Optional["Selector"] = None
    above: Optional["Selector"] = None
    left_of: Optional["Selector"] = None
    right_of: Optional["Selector"] = None
    child_of: Optional["Selector"] = None
    index: int = Field(default=0, ge=0)

    @field_validator("text_regex")
    @classmethod
    def _valid_regex(cls, value: Optional[str]) -> Optional[str]:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {value!r}: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> "Selector":
        fields = {f for f in self.model_fields_set - {"index"} if getattr(self, f) is not None}
        if not fields:
            raise ValueError("a selector needs at least one criterion besides index")
        return self


class ElementTarget(_Strict):
    kind: Literal["element"] = "element"
    id: int = Field(ge=0, description="element id in the observation the action was decided on")


class SelectorTarget(_Strict):
    kind: Literal["selector"] = "selector"
    selector: Selector


class PointTarget(_Strict):
    kind: Literal["point"] = "point"
    x: float = Field(ge=0.0, le=1.0)
    y: float = Field(ge=0.0, le=1.0)
    frame: Frame = Frame.screen


Target = Annotated[Union[ElementTarget, SelectorTarget, PointTarget], Field(discriminator="kind")]


def element(element_id: int) -> ElementTarget:
    return ElementTarget(id=element_id)


def point(x: float, y: float, frame: Frame | str = Frame.screen) -> PointTarget:
    return PointTarget(x=x, y=y, frame=Frame(frame))


def select(**criteria: Any) -> SelectorTarget:
    return SelectorTarget(selector=Selector(**criteria))


# ---------------------------------------------------------------- enums


class MouseButton(str, Enum):
    left = "left"
    right = "right"
    middle = "middle"


class Direction(str, Enum):
    up = "up"
    down = "down"
    left = "left"
    right = "right"


class SystemButton(str, Enum):
    back = "back"
    home = "home"
    recents = "recents"
    enter = "enter"


class DoneStatus(str, Enum):
    success = "success"
    failure = "failure"
    infeasible = "infeasible"


MODIFIER_KEYS = frozenset({"ctrl", "alt", "shift", "meta"})
NAMED_KEYS = frozenset(
    {
        "enter", "tab", "escape", "backspace", "delete", "space", "insert",
        "up", "down", "left", "right", "home", "end", "page_up", "page_down",
        "volume_up", "volume_down", "volume_mute", "power", "menu", "search",
        "camera", "back", "app_switch", "print_screen", "caps_lock",
        *(f"f{i}" for i in range(1, 13)),
    }
)
_KEY_ALIASES = {
    "return": "enter", "esc": "escape", "del": "delete", "pgup": "page_up", "pageup": "page_up",
    "pgdn": "page_down", "pagedown": "page_down", "control": "ctrl", "cmd": "meta", "super": "meta",
    "win": "meta", "option": "alt", "arrowup": "up", "arrowdown": "down", "arrowleft": "left",
    "arrowright": "right", "recents": "app_switch",
}


def normalize_key(name: str) -> str:
    """Canonical key name: a modifier, a named key, or one printable character."""
    if not isinstance(name, str) or not name:
        raise ValueError("a key name must be a non-empty string")
    if len(name) == 1:
        if not name.isprintable():
            raise ValueError(f"key {name!r} is not printable")
        return name
    key = name.strip().lower().replace("-", "_")
    key = _KEY_ALIASES.get(key, key)
    if key in MODIFIER_KEYS or key in NAMED_KEYS:
        return key
    raise ValueError(f"unknown key {name!r}; use a single character, a modifier or one of {sorted(NAMED_KEYS)}")


# ---------------------------------------------------------------- actions


class Click(_Strict):
    type: Literal["click"] = "click"
    target: Target
    button: MouseButton = MouseButton.left
    count: int = Field(default=1, ge=1, le=3)


class LongPress(_Strict):
    type: Literal["long_press"] = "long_press"
    target: Target
    duration: float = Field(default=0.8, gt=0, le=10)


class Drag(_Strict):
    type: Literal["drag"] = "drag"
    start: Target
    end: Target
    duration: float = Field(default=0.5, gt=0, le=10)


class Scroll(_Strict):
    """Scroll content: ``down`` reveals what is below, like a mouse wheel.

    ``amount`` is in screens (or in heights of the target when one is given).
    """

    type: Literal["scroll"] = "scroll"
    direction: Direction
    amount: float = Field(default=0.5, gt=0, le=10)
    target: Optional[Target] = None


class Swipe(_Strict):
    """A touch gesture from ``start`` to ``end`` (a fling when ``duration`` is short)."""

    type: Literal["swipe"] = "swipe"
    start: Target
    end: Target
    duration: float = Field(default=0.3, gt=0, le=10)


class TypeText(_Strict):
    """Type ``text`` into ``target`` (or the focused field). ``secret`` masks it in every record."""

    type: Literal["type"] = "type"
    text: str = Field(max_length=20000)
    target: Optional[Target] = None
    clear: bool = False
    submit: bool = False
    secret: bool = False


class Key(_Strict):
    """Press ``keys`` together as one chord, e.g. ``["ctrl", "a"]``."""

    type: Literal["key"] = "key"
    keys: list[str] = Field(min_length=1, max_length=6)

    @field_validator("keys")
    @classmethod
    def _valid_keys(cls, keys: list[str]) -> list[str]:
        return [normalize_key(k) for k in keys]


class System(_Strict):
    type: Literal["system"] = "system"
    button: SystemButton


class OpenApp(_Strict):
    type: Literal["open_app"] = "open_app"
    app: str = Field(min_length=1, max_length=256, description="app name, package or desktop command id")


class Wait(_Strict):
    """Wait a number of seconds, or until an element matching ``until`` appears."""

    type: Literal["wait"] = "wait"
    seconds: Optional[float] = Field(default=None, ge=0, le=600)
    until: Optional[Selector] = None
    timeout: float = Field(default=10.0, gt=0, le=600)

    @model_validator(mode="after")
    def _one_condition(self) -> "Wait":
        if self.seconds is None and self.until is None:
            raise ValueError("wait needs seconds or until")
        return self


class Answer(_Strict):
    type: Literal["answer"] = "answer"
    text: str = Field(max_length=20000)


class Done(_Strict):
    type: Literal["done"] = "done"
    status: DoneStatus = DoneStatus.success
    summary: str = Field(default="", max_length=20000)


Action = Annotated[
    Union[Click, LongPress, Drag, Scroll, Swipe, TypeText, Key, System, OpenApp, Wait, Answer, Done],
    Field(discriminator="type"),
]
ACTION_TYPES: tuple[str, ...] = (
    "click", "long_press", "drag", "scroll", "swipe", "type", "key", "system", "open_app", "wait", "answer", "done",
)
TERMINAL_TYPES = frozenset({"answer", "done"})

_ADAPTER: TypeAdapter = TypeAdapter(Action)


def parse_action(data: Any) -> Any:
    """Validate a dict or a JSON string into an action; raises ``pydantic.ValidationError``."""
    if isinstance(data, (str, bytes, bytearray)):
        return _ADAPTER.validate_json(data)
    return _ADAPTER.validate_python(data)


_INT64_MAX = 2**63 - 1


def _unicode_tables() -> tuple[tuple[tuple[int, int], ...], tuple[str, ...], dict[str, tuple[str, ...]]]:
    """What ``normalize_key`` does to characters, read off this Python's Unicode data.

    Returns the ranges of code points that are not ``str.isprintable()``, the
    characters ``str.strip()`` removes, and for every character ``c`` the
    characters ``x`` with ``x.lower().replace("-", "_") == c``.
    """
    nonprintable: list[tuple[int, int]] = []
    spaces: list[str] = []
    preimages: dict[str, list[str]] = {}
    start = None
    for cp in range(0x110000):
        ch = chr(cp)
        if ch.isprintable():
            if start is not None:
                nonprintable.append((start, cp - 1))
                start = None
        elif start is None:
            start = cp
        if ch.isspace():
            spaces.append(ch)
        low = ch.lower().replace("-", "_")
        if len(low) == 1 and low.isascii():
            preimages.setdefault(low, []).append(ch)
    if start is not None:
        nonprintable.append((start, 0x10FFFF))
    return tuple(nonprintable), tuple(spaces), {k: tuple(v) for k, v in preimages.items()}


def _re_char(cp: int) -> str:
    """One code point for a regex class, readable by Python ``re`` and ECMA-262 (``u`` flag) alike."""
    ch = chr(cp)
    if ch.isascii() and (ch.isalnum() or ch == "_"):
        return ch
    if cp < 0x10000:
        return f"\\u{cp:04x}"
    return ch  # \U........ is Python-only and \u{...} ECMA-only: astral code points go in literally


def _re_class(ranges: list[tuple[int, int]]) -> str:
    return "".join(_re_char(a) if a == b else f"{_re_char(a)}-{_re_char(b)}" for a, b in ranges)


def _ranges(chars: Any) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for cp in sorted(ord(c) for c in chars):
        if out and out[-1][1] == cp - 1:
            out[-1] = (out[-1][0], cp)
        else:
            out.append((cp, cp))
    return out


_KEY_PATTERNS: list[tuple[str, str]] = []  # computed once: scanning Unicode takes a few tenths of a second


def _key_patterns() -> tuple[str, str]:
    """Regexes for one printable character and for any spelling of a named key ``normalize_key`` accepts."""
    if _KEY_PATTERNS:
        return _KEY_PATTERNS[0]
    nonprintable, spaces, preimages = _unicode_tables()
    printable = f"^[^{_re_class(list(nonprintable))}]$"
    names = sorted(MODIFIER_KEYS | NAMED_KEYS | set(_KEY_ALIASES), key=lambda n: (-len(n), n))

    def position(c: str) -> str:
        options = preimages[c]
        return options[0] if len(options) == 1 and options[0] == c else f"[{_re_class(_ranges(options))}]"

    space = f"[{_re_class(_ranges(spaces))}]*"
    alternatives = "|".join("".join(position(c) for c in name) for name in names)
    _KEY_PATTERNS.append((printable, f"^{space}(?:{alternatives}){space}$"))
    return _KEY_PATTERNS[0]


def _named_key_order(name: str) -> tuple:
    function_key = re.fullmatch(r"f(\d+)", name)
    return (1, int(function_key.group(1)), "") if function_key else (0, 0, name)


def _key_name_schema() -> dict:
    printable, spelled = _key_patterns()
    aliases = ", ".join(f"{a} → {k}" for a, k in sorted(_KEY_ALIASES.items()))
    return {
        "title": "KeyName",
        "description": (
            "One key of a chord: a modifier, a named key, an alias of either, or one printable character "
            "(taken as is, case included). Names are case-insensitive, '-' may stand for '_' and surrounding "
            f"whitespace is ignored, e.g. \"Ctrl\", \"Page-Down\". Aliases: {aliases}."
        ),
        "anyOf": [
            {"title": "Modifier", "type": "string", "enum": sorted(MODIFIER_KEYS)},
            {"title": "Named key", "type": "string", "enum": sorted(NAMED_KEYS, key=_named_key_order)},
            {"title": "Alias", "type": "string", "enum": sorted(_KEY_ALIASES)},
            {"title": "Printable character", "description": "exactly one printable character (Python str.isprintable)",
             "type": "string", "minLength": 1, "maxLength": 1, "pattern": printable},
            {"title": "Spelling of a key name", "type": "string", "pattern": spelled},
        ],
    }


def _schema_nodes(node: Any):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _schema_nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _schema_nodes(value)


def action_json_schema() -> dict:
    """JSON Schema (draft 2020-12) of one action, as strict as ``parse_action``.

    pydantic's schema is looser than the models; this adds what it leaves out:
    the ``type``/``kind`` tags are required; a selector needs a criterion besides
    ``index``; a wait needs ``seconds`` or ``until``; key names are spelled out;
    integers stop at 2**63-1 (pydantic rejects integral floats such as ``1e20``
    beyond that). It cannot say that ``text_regex`` must compile. pydantic's lax
    coercions (``"0.5"`` for ``0.5``, ``1``/``"yes"`` for ``true``, ``true`` for
    ``1``) are accepted at runtime but not by the schema.
    """
    schema = _ADAPTER.json_schema()
    defs = schema["$defs"]

    for node in list(_schema_nodes(schema)):
        # A discriminated union needs its tag: no default for it, it must be given.
        discriminator = node.get("discriminator")
        if isinstance(discriminator, dict):
            tag = discriminator["propertyName"]
            for ref in discriminator["mapping"].values():
                member = defs[ref.rsplit("/", 1)[-1]]
                member["properties"][tag].pop("default", None)
                member["required"] = [tag, *(r for r in member.get("required", []) if r != tag)]
        if node.get("type") == "integer" and "maximum" not in node and "exclusiveMaximum" not in node:
            node["maximum"] = _INT64_MAX

    selector = defs[Selector.__name__]
    selector["anyOf"] = [{"required": [name], "properties": {name: {"not": {"type": "null"}}}}
                         for name in selector["properties"] if name != "index"]
    selector["description"] += "\n\nAt least one criterion besides ``index`` must be given."
    selector["properties"]["text_regex"]["description"] = (
        "a Python ``re`` regular expression; it must compile, which is checked when the action is parsed "
        "(JSON Schema cannot express it)"
    )

    wait = defs[Wait.__name__]
    wait["anyOf"] = [
        {"required": [field], "properties": {field: {"not": {"type": "null"}}}} for field in ("seconds", "until")
    ]
    wait["description"] += " One of ``seconds`` and ``until`` must be given (not null)."

    defs["KeyName"] = _key_name_schema()
    defs[Key.__name__]["properties"]["keys"]["items"] = {"$ref": "#/$defs/KeyName"}

    schema["title"] = "HandaAction"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def dump_action(action: Any, *, mask_secrets: bool = True) -> dict:
    """JSON-ready dict of an action; a secret typed text is replaced by a mask."""
    data = action.model_dump(mode="json", exclude_none=True)
    if mask_secrets and data.get("type") == "type" and data.get("secret"):
        data["text"] = SECRET_MASK
    return data


def masked(action: Any) -> Any:
    """The same action with any secret text replaced by the mask."""
    if getattr(action, "type", None) == "type" and action.secret:
        return action.model_copy(update={"text": SECRET_MASK})
    return action


def describe_target(target: Any) -> str:
    if target is None:
        return "focused"
    if target.kind == "element":
        return f"#{target.id}"
    if target.kind == "point":
        return f"({target.x:.3f},{target.y:.3f})@{target.frame.value}"
    crit = target.selector.model_dump(exclude_defaults=True, mode="json")
    return "{" + ", ".join(f"{k}={v!r}" for k, v in crit.items()) + "}"


def describe(action: Any) -> str:
    """A one-line human description, with secrets masked."""
    a = masked(action)
    t = a.type
    if t == "click":
        extra = "" if a.button == MouseButton.left and a.count == 1 else f" {a.button.value}x{a.count}"
        return f"click {describe_target(a.target)}{extra}"
    if t == "long_press":
        return f"long_press {describe_target(a.target)}"
    if t in ("drag", "swipe"):
        return f"{t} {describe_target(a.start)} -> {describe_target(a.end)}"
    if t == "scroll":
        on = f" on {describe_target(a.target)}" if a.target else ""
        return f"scroll {a.direction.value} {a.amount:g}{on}"
    if t == "type":
        flags = "".join(f" +{f}" for f in ("clear", "submit") if getattr(a, f))
        into = f" into {describe_target(a.target)}" if a.target else ""
        return f"type {a.text!r}{into}{flags}"
    if t == "key":
        return "key " + "+".join(a.keys)
    if t == "system":
        return f"system {a.button.value}"
    if t == "open_app":
        return f"open_app {a.app!r}"
    if t == "wait":
        return f"wait {a.seconds}s" if a.until is None else f"wait until {describe_target(SelectorTarget(selector=a.until))}"
    if t == "answer":
        return f"answer {a.text!r}"
    return f"done {a.status.value}" + (f": {a.summary}" if a.summary else "")
