"""What a suite is: pydantic models of the YAML, a loader that keeps line numbers, and the JSON Schema.

A suite reads like a Maestro flow: a header, then steps, one key per step::

    name: Turn Wi-Fi off
    platform: sim
    seed: 0
    tags: [settings, smoke]
    steps:
      - launch: Settings
      - tap: {id: wifi}
      - assert: {unchecked: {id: wifi}}

Errors name the file, the line and what was expected (``wifi.yaml:7: steps[1]: unknown step 'tapp'; expected
one of launch, stop, tap, ...``). ``${VAR}`` and ``${VAR:-default}`` in any string value are replaced before
validation (see ``load_suite``); ``$${`` writes a literal ``${``.
"""
from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Mapping, Optional, Union

import yaml
from pydantic import (BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag, TypeAdapter,
                      ValidationError, field_validator, model_validator)
from pydantic_core import PydanticCustomError

from controllers.actions import Direction, Selector, normalize_key
from controllers.elements import Role

SCHEMA_ID = "https://handa.dev/schemas/suite.json"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# ---------------------------------------------------------------- base


class _Strict(BaseModel):
    """Unknown keys are errors that list the keys this place takes."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, coerce_numbers_to_str=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            allowed = [f.alias or n for n, f in cls.model_fields.items()]
            names = set(allowed) | set(cls.model_fields)
            for key in data:
                if key not in names:
                    close = difflib.get_close_matches(str(key), allowed, n=1)
                    hint = f"did you mean {close[0]!r}? " if close else ""
                    raise PydanticCustomError("unknown_key", "unknown key '{key}'; {hint}expected one of {expected}",
                                              {"key": str(key), "hint": hint, "expected": ", ".join(allowed)})
        return data


# ---------------------------------------------------------------- selectors and points

_CRITERIA = ("text", "text_contains", "regex", "text_regex", "id", "role", "description", "description_contains",
             "enabled", "checked", "selected", "focused", "below", "above", "left_of", "right_of", "child_of")
_RELATIVE = ("below", "above", "left_of", "right_of", "child_of")


class SelectorSpec(_Strict):
    """Which element: every criterion given must hold. A plain string anywhere a selector goes means ``text``.

    ``id`` is the platform id; a short id (``wifi``) matches ``<package>:id/wifi``, the foreground app's first.
    Relative criteria take another selector (or a string: its text). Matches are in reading order, or nearest
    to the anchor for below/above/left_of/right_of; ``index`` (or ``nth``) picks one, 0-based.
    """

    text: Optional[str] = Field(default=None, description="the element's name or value, exactly (trimmed)")
    text_contains: Optional[str] = Field(default=None, description="a part of its name or value, any case")
    regex: Optional[str] = Field(default=None, description="a Python regular expression searched in its name or value")
    text_regex: Optional[str] = Field(default=None, description="the same as regex")
    id: Optional[str] = Field(default=None, description="platform id (resource-id); a short id matches <package>:id/<id>")
    role: Optional[Role] = None
    description: Optional[str] = Field(default=None, description="the accessibility description, exactly")
    description_contains: Optional[str] = None
    enabled: Optional[bool] = None
    checked: Optional[bool] = None
    selected: Optional[bool] = None
    focused: Optional[bool] = None
    below: Optional["SelRef"] = None
    above: Optional["SelRef"] = None
    left_of: Optional["SelRef"] = None
    right_of: Optional["SelRef"] = None
    child_of: Optional["SelRef"] = None
    index: Optional[int] = Field(default=None, ge=0, description="which match, 0-based")
    nth: Optional[int] = Field(default=None, ge=0, description="the same as index")

    needs_criterion: ClassVar[bool] = True

    @field_validator("regex", "text_regex")
    @classmethod
    def _compiles(cls, value: Optional[str]) -> Optional[str]:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {value!r}: {exc}") from exc
        return value

    def criteria(self) -> list[str]:
        return [name for name in _CRITERIA if getattr(self, name) is not None]

    @model_validator(mode="after")
    def _coherent(self):
        if self.index is not None and self.nth is not None:
            raise ValueError("give index or nth, not both")
        if self.regex is not None and self.text_regex is not None:
            raise ValueError("give regex or text_regex, not both")
        if self.needs_criterion and not self.criteria():
            raise ValueError(f"a selector needs at least one of {', '.join(_CRITERIA)}")
        return self


SelRef = Union[str, SelectorSpec]
SelectorSpec.model_rebuild()

_POINT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*,\s*(\d+(?:\.\d+)?)\s*%\s*$")
PointStr = Annotated[str, Field(pattern=r"^\s*\d+(\.\d+)?\s*%\s*,\s*\d+(\.\d+)?\s*%\s*$",
                                description="a point on the screen in percent, e.g. \"50%, 80%\"")]
PointPair = Annotated[list[Annotated[float, Field(ge=0.0, le=1.0)]],
                      Field(min_length=2, max_length=2, description="[x, y] as fractions of the screen, 0..1")]
PointSpec = Union[PointStr, PointPair]


def point_of(value: Any) -> tuple[float, float]:
    """(x, y) in [0, 1] from ``"50%, 80%"`` or ``[0.5, 0.8]``."""
    if isinstance(value, str):
        m = _POINT.match(value)
        if not m:
            raise ValueError(f"expected a point like \"50%, 80%\", got {value!r}")
        x, y = float(m.group(1)) / 100, float(m.group(2)) / 100
    else:
        x, y = float(value[0]), float(value[1])
    if not (0 <= x <= 1 and 0 <= y <= 1):
        raise ValueError(f"a point must lie on the screen (0%..100%), got {value!r}")
    return x, y


def _check_point(value: Any) -> Any:
    if value is not None:
        point_of(value)
    return value


def to_selector(ref: SelRef, expand_id: Any = None) -> Selector:
    """The controllers' ``Selector`` for a suite selector; ``expand_id(short) -> full`` rewrites short ids."""
    spec = SelectorSpec(text=ref) if isinstance(ref, str) else ref
    data: dict[str, Any] = {}
    for name in ("text", "text_contains", "id", "role", "description", "description_contains", "enabled", "checked",
                 "selected", "focused"):
        value = getattr(spec, name)
        if value is not None:
            data[name] = value
    if data.get("id") is not None and expand_id is not None:
        data["id"] = expand_id(data["id"])
    regex = spec.regex if spec.regex is not None else spec.text_regex
    if regex is not None:
        data["text_regex"] = regex
    for name in _RELATIVE:
        anchor = getattr(spec, name)
        if anchor is not None:
            data[name] = to_selector(anchor, expand_id)
    index = spec.index if spec.index is not None else spec.nth
    if index:
        data["index"] = index
    return Selector(**data)


def describe_selector(ref: SelRef) -> str:
    """``text="Wi-Fi"``, ``id=wifi below(text="Network") nth=1``."""
    if isinstance(ref, str):
        return f"text={ref!r}"
    parts = []
    for name in _CRITERIA:
        value = getattr(ref, name)
        if value is None:
            continue
        if name in _RELATIVE:
            parts.append(f"{name}({describe_selector(value)})")
        elif isinstance(value, Role):
            parts.append(f"role={value.value}")
        elif isinstance(value, str):
            parts.append(f"{name}={value!r}")
        else:
            parts.append(f"{name}={str(value).lower()}")
    index = ref.index if ref.index is not None else ref.nth
    if index is not None:
        parts.append(f"nth={index}")
    return " ".join(parts)


# ---------------------------------------------------------------- conditions


class TextEquals(_Strict):
    """The element's text (its value when it has one, else its name) equals ``text`` (trimmed)."""

    of: SelRef
    text: str


class Condition(_Strict):
    """Checks on the current screen; every one given must hold."""

    visible: Optional[SelRef] = Field(default=None, description="an element matching this is on screen")
    not_visible: Optional[SelRef] = Field(default=None, description="no element matching this is on screen")
    checked: Optional[SelRef] = Field(default=None, description="the element is checked (switch, checkbox, radio)")
    unchecked: Optional[SelRef] = Field(default=None, description="the element is checkable and not checked")
    text_equals: Optional[TextEquals] = None
    app: Optional[str] = Field(default=None, description="this app is in the foreground (name, label or package)")

    CHECKS: ClassVar[tuple[str, ...]] = ("visible", "not_visible", "checked", "unchecked", "text_equals", "app")

    def checks(self) -> list[str]:
        return [name for name in self.CHECKS if getattr(self, name) is not None]

    @model_validator(mode="after")
    def _some_check(self):
        if not self.checks():
            raise ValueError(f"give at least one of {', '.join(self.CHECKS)}")
        return self


class AssertSpec(Condition):
    timeout: Optional[float] = Field(default=None, ge=0, le=600,
                                     description="seconds to keep checking (default: timeouts.assert)")


class WaitUntilSpec(Condition):
    timeout: Optional[float] = Field(default=None, ge=0, le=3600, description="seconds (default: timeouts.step)")


# ---------------------------------------------------------------- step options


class LaunchSpec(_Strict):
    app: Optional[str] = Field(default=None, description="name, label or package; default: the suite's app")
    stop_first: bool = Field(default=False, description="stop the app first, so it starts from its first page")


class TapSpec(SelectorSpec):
    point: Optional[PointSpec] = Field(default=None, description="tap a point instead of an element")
    count: int = Field(default=1, ge=1, le=3, description="2 for a double tap")

    needs_criterion: ClassVar[bool] = False

    @field_validator("point")
    @classmethod
    def _point_ok(cls, value: Any) -> Any:
        return _check_point(value)

    @model_validator(mode="after")
    def _target(self):
        if self.point is None and not self.criteria():
            raise ValueError(f"give a point or a selector ({', '.join(_CRITERIA)})")
        if self.point is not None and self.criteria():
            raise ValueError("give a point or a selector, not both")
        return self


class LongPressSpec(TapSpec):
    count: int = Field(default=1, ge=1, le=1, description="always 1")
    duration: float = Field(default=0.8, gt=0, le=10, description="seconds")


class TypeSpec(_Strict):
    text: Optional[str] = Field(default=None, description="what to type")
    secret: Optional[str] = Field(default=None, description="what to type, masked in every report and log")
    into: Optional[SelRef] = Field(default=None, description="the field (default: the focused one)")
    clear: bool = Field(default=False, description="clear the field first")
    submit: bool = Field(default=False, description="press enter afterwards")

    @model_validator(mode="after")
    def _one_text(self):
        if (self.text is None) == (self.secret is None):
            raise ValueError("give text or secret (exactly one)")
        return self


class ScrollSpec(_Strict):
    direction: Direction = Field(default=Direction.down, description="down reveals what is below")
    amount: float = Field(default=0.5, gt=0, le=10, description="in screens (or heights of `on`)")
    on: Optional[SelRef] = Field(default=None, description="scroll inside this element")
    until: Optional[Condition] = Field(default=None, description="scroll until this holds")
    max: int = Field(default=10, ge=1, le=200, description="most scrolls with until")


class SwipeSpec(_Strict):
    direction: Optional[Direction] = Field(default=None, description="the way the finger moves")
    start: Optional[Union[PointSpec, SelectorSpec]] = None
    end: Optional[Union[PointSpec, SelectorSpec]] = None
    on: Optional[SelRef] = Field(default=None, description="with direction: swipe across this element")
    duration: float = Field(default=0.3, gt=0, le=10)

    @field_validator("start", "end")
    @classmethod
    def _points(cls, value: Any) -> Any:
        return value if isinstance(value, SelectorSpec) else _check_point(value)

    @model_validator(mode="after")
    def _how(self):
        if self.direction is None and (self.start is None or self.end is None):
            raise ValueError("give a direction, or start and end")
        if self.direction is not None and (self.start is not None or self.end is not None):
            raise ValueError("give a direction or start and end, not both")
        if self.on is not None and self.direction is None:
            raise ValueError("on goes with direction")
        return self


class RetrySpec(_Strict):
    times: int = Field(default=3, ge=1, le=100, description="most attempts in all")
    steps: list["Step"] = Field(min_length=1)


class RepeatSpec(_Strict):
    times: Optional[int] = Field(default=None, ge=0, le=10000, description="run the steps this many times")
    while_: Optional[Condition] = Field(default=None, alias="while", description="run the steps while this holds")
    max: int = Field(default=20, ge=1, le=10000, description="with while: fail after this many rounds")
    steps: list["Step"] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_mode(self):
        if (self.times is None) == (self.while_ is None):
            raise ValueError("give times or while (exactly one)")
        return self


class GoalSpec(_Strict):
    text: str = Field(min_length=1, description="the goal, in words")
    max_steps: int = Field(default=15, ge=1, le=500)
    timeout: Optional[float] = Field(default=None, gt=0, le=3600, description="seconds (default: timeouts.goal)")
    judge: Literal["agent", "task"] = Field(
        default="agent", description="agent: the model's own done/answer; task: the suite's sim task check")


# ---------------------------------------------------------------- steps


class _Step(_Strict):
    kind: ClassVar[str] = ""


class LaunchStep(_Step):
    kind: ClassVar[str] = "launch"
    launch: Union[None, str, LaunchSpec] = Field(description="open an app (bare: the suite's app)")


class StopStep(_Step):
    kind: ClassVar[str] = "stop"
    stop: Optional[str] = Field(description="stop an app (bare: the suite's app)")


class TapStep(_Step):
    kind: ClassVar[str] = "tap"
    tap: Union[str, TapSpec]


class LongPressStep(_Step):
    kind: ClassVar[str] = "long_press"
    long_press: Union[str, LongPressSpec]


class TypeStep(_Step):
    kind: ClassVar[str] = "type"
    type: Union[str, TypeSpec]


class ScrollStep(_Step):
    kind: ClassVar[str] = "scroll"
    scroll: Union[Direction, ScrollSpec]


class SwipeStep(_Step):
    kind: ClassVar[str] = "swipe"
    swipe: Union[Direction, SwipeSpec]


class KeyStep(_Step):
    kind: ClassVar[str] = "key"
    key: Union[str, Annotated[list[str], Field(min_length=1, max_length=6)]] = Field(
        description="a key (enter, tab, a) or a chord ([ctrl, a])")

    @field_validator("key")
    @classmethod
    def _keys(cls, value: Any) -> Any:
        return [normalize_key(k) for k in ([value] if isinstance(value, str) else value)]


class BackStep(_Step):
    kind: ClassVar[str] = "back"
    back: None


class HomeStep(_Step):
    kind: ClassVar[str] = "home"
    home: None


class RecentsStep(_Step):
    kind: ClassVar[str] = "recents"
    recents: None


class WaitStep(_Step):
    kind: ClassVar[str] = "wait"
    wait: float = Field(ge=0, le=600, description="seconds")


class WaitUntilStep(_Step):
    kind: ClassVar[str] = "wait_until"
    wait_until: WaitUntilSpec


class AssertStep(_Step):
    kind: ClassVar[str] = "assert"
    assert_: AssertSpec = Field(alias="assert")


class RetryStep(_Step):
    kind: ClassVar[str] = "retry"
    retry: RetrySpec


class OptionalStep(_Step):
    kind: ClassVar[str] = "optional"
    optional: list["Step"] = Field(min_length=1, description="steps whose failure is tolerated (the block stops "
                                                              "at its first failure)")


class RepeatStep(_Step):
    kind: ClassVar[str] = "repeat"
    repeat: RepeatSpec


class GoalStep(_Step):
    kind: ClassVar[str] = "goal"
    goal: Union[str, GoalSpec]


STEP_CLASSES: tuple[type[_Step], ...] = (
    LaunchStep, StopStep, TapStep, LongPressStep, TypeStep, ScrollStep, SwipeStep, KeyStep, BackStep, HomeStep,
    RecentsStep, WaitStep, WaitUntilStep, AssertStep, RetryStep, OptionalStep, RepeatStep, GoalStep,
)
STEP_KINDS: tuple[str, ...] = tuple(c.kind for c in STEP_CLASSES)
BARE_STEPS: tuple[str, ...] = ("back", "home", "recents", "launch", "stop")


def _expected_steps() -> str:
    return ", ".join(STEP_KINDS)


def _step_shape(value: Any) -> Any:
    """Bare names become one-key mappings; anything else that is not one known key is a clear error."""
    if isinstance(value, _Step):
        return value
    if isinstance(value, str):
        if value in BARE_STEPS:
            return {value: None}
        close = difflib.get_close_matches(value, list(STEP_KINDS), n=1)
        raise PydanticCustomError(
            "unknown_step", "unknown step '{step}'; {hint}expected one of {expected} (alone on a line: {bare})",
            {"step": value, "hint": f"did you mean {close[0]!r}? " if close else "", "expected": _expected_steps(),
             "bare": ", ".join(BARE_STEPS)})
    if isinstance(value, dict):
        if len(value) != 1:
            keys = ", ".join(map(str, value)) or "none"
            raise PydanticCustomError(
                "step_shape", "a step is a mapping with exactly one key, the step's name (got {keys}); indent a "
                              "step's options under its name, e.g. `- tap:` with `text: OK` on the next line, indented", {"keys": keys})
        key = next(iter(value))
        if key not in STEP_KINDS:
            close = difflib.get_close_matches(str(key), list(STEP_KINDS), n=1)
            raise PydanticCustomError("unknown_step", "unknown step '{step}'; {hint}expected one of {expected}",
                                      {"step": str(key), "hint": f"did you mean {close[0]!r}? " if close else "",
                                       "expected": _expected_steps()})
        return value
    raise PydanticCustomError("step_type", "expected a step: a mapping such as `tap: OK`, or one of {bare}",
                              {"bare": ", ".join(BARE_STEPS)})


def _step_tag(value: Any) -> Optional[str]:
    if isinstance(value, dict) and len(value) == 1:
        return next(iter(value))
    return getattr(value, "kind", None)


Step = Annotated[
    Union[tuple(Annotated[c, Tag(c.kind)] for c in STEP_CLASSES)],  # type: ignore[valid-type]
    Discriminator(_step_tag),
    BeforeValidator(_step_shape),
]

for _cls in (RetrySpec, RepeatSpec, OptionalStep, RetryStep, RepeatStep):
    _cls.model_rebuild()


def step_kind(step: Any) -> str:
    return step.kind


def iter_steps(steps: list) -> Any:
    """Every step of a list, nested ones (retry, optional, repeat) after their block, depth first."""
    for step in steps:
        yield step
        value = step_value(step)
        if step.kind == "optional":
            yield from iter_steps(value)
        elif step.kind in ("retry", "repeat"):
            yield from iter_steps(value.steps)


def step_value(step: Any) -> Any:
    """The value under the step's one key (``assert`` is stored as ``assert_``)."""
    return getattr(step, "assert_" if step.kind == "assert" else step.kind)


# ---------------------------------------------------------------- the suite


class Timeouts(_Strict):
    step: float = Field(default=10.0, gt=0, le=3600, description="most seconds a step waits for its element or "
                                                                  "condition on devices that change by themselves")
    suite: float = Field(default=600.0, gt=0, le=86400, description="the whole suite, setup and steps")
    goal: float = Field(default=120.0, gt=0, le=3600, description="a goal step's wall-clock limit")
    assert_: Optional[float] = Field(default=None, ge=0, le=600, alias="assert",
                                     description="how long an assert keeps checking (default: 0 on the sim, 2 s "
                                                 "elsewhere)")


class Suite(_Strict):
    """One suite file."""

    name: str = Field(min_length=1)
    description: str = ""
    platform: Literal["sim", "desktop", "android"] = "sim"
    app: Optional[str] = Field(default=None, description="the app under test (bare launch/stop use it; on the "
                                                         "desktop, the command started first)")
    form: Literal["phone", "desktop"] = Field(default="phone", description="sim (and simulated phone) form factor")
    seed: int = Field(default=0, ge=0, description="the sim device's seed: its looks, words and data")
    split: Literal["all", "train", "heldout"] = "all"
    task: Optional[str] = Field(default=None, description="a sim task id: its device and initial state are used, "
                                                          "its params are ${task.NAME}")
    env: dict[str, Union[str, int, float, bool]] = Field(default_factory=dict,
                                                         description="variables ${NAME}; values may use ${VAR:-default}")
    secrets: list[str] = Field(default_factory=list, description="names of variables whose values are masked "
                                                                 "everywhere")
    tags: list[str] = Field(default_factory=list)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    setup: list[Step] = Field(default_factory=list)
    steps: list[Step] = Field(min_length=1)
    teardown: list[Step] = Field(default_factory=list, description="always run, whatever happened before")

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict) -> dict:
        for name in value:
            if not _NAME.match(name):
                raise ValueError(f"variable name {name!r} must be letters, digits and _ (not starting with a digit)")
        return {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in value.items()}

    @field_validator("secrets")
    @classmethod
    def _secret_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _NAME.match(name):
                raise ValueError(f"secret name {name!r} must be letters, digits and _ (not starting with a digit)")
        return value


# ---------------------------------------------------------------- errors


@dataclass
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class SuiteError(ValueError):
    """An invalid suite; ``problems`` each name the file, the line and what was expected."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


# ---------------------------------------------------------------- YAML with positions


class _Node:
    """Plain data built from YAML nodes, and the line of every key and item (1-based)."""

    def __init__(self, file: str):
        self.file = file
        self.lines: dict[tuple, int] = {(): 1}
        self._scalars = yaml.constructor.SafeConstructor()
        self.problems: list[Problem] = []

    def build(self, node: yaml.Node, path: tuple = ()) -> Any:
        if isinstance(node, yaml.MappingNode):
            try:
                self._scalars.flatten_mapping(node)  # `<<: *anchor` merge keys
            except yaml.MarkedYAMLError as exc:
                self.problems.append(Problem(self.file, node.start_mark.line + 1, str(exc.problem)))
            out: dict = {}
            for key_node, value_node in node.value:
                key = self._scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
                line = key_node.start_mark.line + 1
                if not isinstance(key, str):
                    self.problems.append(Problem(self.file, line, "expected a plain word as a key"))
                    continue
                if key in out:
                    self.problems.append(Problem(self.file, line, f"duplicate key '{key}'"))
                    continue
                self.lines[path + (key,)] = line
                out[key] = self.build(value_node, path + (key,))
            return out
        if isinstance(node, yaml.SequenceNode):
            items = []
            for i, item in enumerate(node.value):
                self.lines[path + (i,)] = item.start_mark.line + 1
                items.append(self.build(item, path + (i,)))
            return items
        return self._scalar(node)

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        """YAML 1.2-like scalars: only true/false are booleans (``on``, ``no``, ``Off`` stay text); dates stay
        text; null, integers and floats as usual."""
        tag = node.tag
        if tag == "tag:yaml.org,2002:bool" and node.value.lower() not in ("true", "false"):
            return node.value
        if tag in ("tag:yaml.org,2002:null", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int",
                   "tag:yaml.org,2002:float"):
            try:
                return self._scalars.construct_object(node, deep=True)
            except (yaml.constructor.ConstructorError, ValueError):
                return node.value
        return node.value


# ---------------------------------------------------------------- variables

_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")


class _Unset(Exception):
    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


def substitute(text: str, lookup: Any) -> str:
    """``${NAME}`` -> lookup(NAME) (None: unset); ``${NAME:-default}``, where the default may itself hold
    ``${...}``; ``$${...}`` is the literal ``${...}``. Text that is not a reference is left alone."""
    out: list[str] = []
    i = 0
    while i < len(text):
        start = text.find("${", i)
        if start < 0:
            out.append(text[i:])
            break
        escaped = start > 0 and text[start - 1] == "$"
        out.append(text[i:start - 1] if escaped else text[i:start])
        # the matching brace, counting nested ${ ... }
        depth, j = 1, start + 2
        while j < len(text) and depth:
            if text.startswith("${", j):
                depth, j = depth + 1, j + 2
                continue
            if text[j] == "}":
                depth -= 1
            j += 1
        body = text[start + 2:j - 1] if depth == 0 else None
        m = _VAR_NAME.match(body) if body is not None else None
        if escaped or body is None or m is None or (m.end() < len(body) and not body.startswith(":-", m.end())):
            out.append(text[start:j] if body is not None else text[start:])
            if body is None:
                break
            i = j
            continue
        name = m.group(0)
        value = lookup(name)
        if value is None:
            if m.end() == len(body):
                raise _Unset(name)
            value = substitute(body[m.end() + 2:], lookup)
        out.append(value)
        i = j
    return "".join(out)


def _walk_strings(data: Any, path: tuple, fn: Any) -> Any:
    if isinstance(data, dict):
        return {k: _walk_strings(v, path + (k,), fn) for k, v in data.items()}
    if isinstance(data, list):
        return [_walk_strings(v, path + (i,), fn) for i, v in enumerate(data)]
    if isinstance(data, str):
        return fn(data, path)
    return data


# ---------------------------------------------------------------- loading


@dataclass
class LoadedSuite:
    """A validated suite, where it came from, and its resolved variables and secrets."""

    suite: Suite
    path: Path
    variables: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)  # name -> value: masked everywhere
    task_params: dict[str, Any] = field(default_factory=dict)
    lines: dict[int, int] = field(default_factory=dict)  # id(step model) -> its line

    @property
    def name(self) -> str:
        return self.suite.name

    @property
    def file(self) -> str:
        return str(self.path)

    def line_of(self, step: Any) -> Optional[int]:
        return self.lines.get(id(step))


def _human_path(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_KINDS = {
    "string_type": "a string", "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
    "float_type": "a number", "float_parsing": "a number", "bool_type": "true or false", "bool_parsing": "true or false",
    "dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type": "a mapping", "list_type": "a list",
    "none_required": "nothing (an empty value)", "tuple_type": "a list",
}


def _message(err: dict) -> str:
    kind = err["type"]
    if kind in _KINDS:
        return f"expected {_KINDS[kind]}"
    if kind == "missing":
        return f"missing {err['loc'][-1]!r}" if err["loc"] else "missing a value"
    if kind in ("literal_error", "enum"):
        return "expected " + err["msg"].replace("Input should be ", "one of ", 1)
    if kind == "string_pattern_mismatch":
        return "expected a point like \"50%, 80%\"" if "%" in str(err.get("ctx", {}).get("pattern", "")) \
            else err["msg"]
    msg = err["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    if msg.startswith("Input should be "):
        msg = "expected " + msg[len("Input should be "):]
    return msg


def _locate(loc: tuple, data: Any) -> tuple:
    """The part of a pydantic error location that names keys and items of the YAML (union tags skipped)."""
    path: tuple = ()
    node = data
    for part in loc:
        if isinstance(node, dict) and isinstance(part, str) and part in node:
            node = node[part]
            path += (part,)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            path += (part,)
    return path


def _problems(exc: ValidationError, data: Any, positions: _Node, file: str) -> list[Problem]:
    found: dict[tuple, list[tuple[bool, str]]] = {}
    for err in exc.errors(include_url=False):
        path = _locate(tuple(err["loc"]), data)
        if err["type"] == "unknown_key":
            key = err.get("ctx", {}).get("key")
            node = data
            for part in path:
                node = node[part]
            if isinstance(node, dict) and key in node:
                path += (key,)
        mismatch = err["type"] in _KINDS or err["type"] in ("literal_error", "enum")
        found.setdefault(path, []).append((mismatch, _message(err)))
    problems = []
    paths = list(found)
    for path, messages in found.items():
        # a value that fits no member of a union: drop "expected a string" when a member got further
        deeper = any(p != path and p[:len(path)] == path for p in paths)
        real = [m for mismatch, m in messages if not mismatch]
        kinds = [m for mismatch, m in messages if mismatch]
        if real:
            chosen = list(dict.fromkeys(real))
        elif deeper:
            continue
        else:
            names = list(dict.fromkeys(m.replace("expected ", "", 1) for m in kinds))
            chosen = ["expected " + " or ".join(names)]
        where = _human_path(path)
        for m in chosen:
            problems.append(Problem(file, positions.lines.get(path, 1), f"{where}: {m}" if where else m))
    return sorted(problems, key=lambda p: p.line)


def _mark_lines(steps: list, data_steps: list, path: tuple, positions: _Node, out: dict[int, int]) -> None:
    for i, step in enumerate(steps):
        out[id(step)] = positions.lines.get(path + (i,), 0)
        raw = data_steps[i] if i < len(data_steps) else None
        value = step_value(step)
        inner_raw = raw.get(step.kind) if isinstance(raw, dict) else None
        if step.kind == "optional":
            _mark_lines(value, inner_raw or [], path + (i, "optional"), positions, out)
        elif step.kind in ("retry", "repeat"):
            _mark_lines(value.steps, (inner_raw or {}).get("steps", []), path + (i, step.kind, "steps"), positions,
                        out)


def parse_suite(text: str, file: str = "<suite>", *, overrides: Optional[Mapping[str, str]] = None,
                environ: Optional[Mapping[str, str]] = None) -> LoadedSuite:
    """Validate a suite's YAML text; raises ``SuiteError`` whose problems say file:line: what was expected.

    Variables: ``${NAME}`` is looked up in ``overrides`` (``--env NAME=VALUE``), then the suite's ``env:``, then
    ``task.NAME`` (the sim task's params), then the process environment. ``env:`` values may themselves use the
    process environment and ``task.*`` (``PASSWORD: ${HANDA_PASSWORD:-${task.pw}}``). ``task.goal`` is the
    task's goal text. ``secrets:`` names variables whose values are masked everywhere; task secret params (a
    password) are always masked.
    """
    overrides = dict(overrides or {})
    environ = os.environ if environ is None else environ
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        what = " ".join(s for s in (exc.context, exc.problem) if s)
        raise SuiteError([Problem(file, line, f"not valid YAML: {what}")]) from None
    except yaml.YAMLError as exc:
        raise SuiteError([Problem(file, 1, f"not valid YAML: {exc}")]) from None
    if root is None:
        raise SuiteError([Problem(file, 1, "the file is empty; expected a suite with name and steps")])
    positions = _Node(file)
    raw = positions.build(root)
    if positions.problems:
        raise SuiteError(positions.problems)
    if not isinstance(raw, dict):
        raise SuiteError([Problem(file, 1, "expected a mapping with name, steps and other header keys")])

    problems: list[Problem] = []

    def unset(name: str, path: tuple) -> Problem:
        return Problem(file, positions.lines.get(path, 1),
                       f"{_human_path(path)}: variable {name} is not set; define it under env:, in the environment "
                       f"or with --env {name}=VALUE, or write ${{{name}:-default}}")

    # 1. the header fields that decide the task, with the environment only
    def env_only(name: str) -> Optional[str]:
        return overrides.get(name, environ.get(name))

    header: dict[str, Any] = {}
    for key in ("task", "seed", "form", "split"):
        value = raw.get(key)
        if isinstance(value, str):
            try:
                value = substitute(value, env_only)
            except _Unset as exc:
                problems.append(unset(exc.name, (key,)))
                continue
        header[key] = value
    task_params: dict[str, Any] = {}
    task_secrets: dict[str, str] = {}
    if not problems and header.get("task"):
        try:
            from tasks.base import make_instance

            seed = int(header.get("seed") or 0)
            instance = make_instance(str(header["task"]), seed, str(header.get("form") or "phone"),
                                     str(header.get("split") or "all"))
            task_params = {**instance.params, "goal": instance.goal}
            task_secrets = {f"task.{k}": v for k, v in instance.secrets.items()}
        except (KeyError, ValueError, TypeError) as exc:
            problems.append(Problem(file, positions.lines.get(("task",), 1),
                                    f"task: {exc.args[0] if exc.args else exc}"))
    if problems:
        raise SuiteError(problems)

    # 2. env: values, in order (an entry may use the ones before it)
    env_raw = raw.get("env") if isinstance(raw.get("env"), dict) else {}
    variables: dict[str, str] = {}

    def lookup(name: str) -> Optional[str]:
        if name in overrides:
            return overrides[name]
        if name in variables:
            return variables[name]
        if name.startswith("task."):
            value = task_params.get(name[5:])
            return None if value is None else str(value)
        return environ.get(name)

    for name, value in env_raw.items():
        if name in overrides:
            variables[name] = overrides[name]
            continue
        if isinstance(value, str):
            try:
                value = substitute(value, lookup)
            except _Unset as exc:
                problems.append(unset(exc.name, ("env", name)))
                continue
        variables[name] = str(value).lower() if isinstance(value, bool) else str(value)
    for name, value in overrides.items():
        variables.setdefault(name, value)

    # 3. every other string
    def resolve(text: str, path: tuple) -> str:
        if path and path[0] == "env":
            return text
        try:
            return substitute(text, lookup)
        except _Unset as exc:
            problems.append(unset(exc.name, path))
            return text

    data = _walk_strings(raw, (), resolve)
    if isinstance(data.get("env"), dict):
        data["env"] = {k: variables.get(k, v) for k, v in data["env"].items()}
    if problems:
        raise SuiteError(problems)

    try:
        suite = Suite.model_validate(data)
    except ValidationError as exc:
        raise SuiteError(_problems(exc, data, positions, file)) from None

    secrets: dict[str, str] = dict(task_secrets)
    for i, name in enumerate(suite.secrets):
        value = lookup(name)
        if value is None:
            problems.append(Problem(file, positions.lines.get(("secrets", i), 1),
                                    f"secrets[{i}]: secret {name} has no value; set it in the environment, under "
                                    f"env:, or with --env {name}=VALUE"))
        elif value:
            secrets[name] = value
    if problems:
        raise SuiteError(problems)
    lines: dict[int, int] = {}
    for phase in ("setup", "steps", "teardown"):
        _mark_lines(getattr(suite, phase), data.get(phase) or [], (phase,), positions, lines)
        for n, step in enumerate(iter_steps(getattr(suite, phase))):
            value = step_value(step)
            if step.kind == "type" and isinstance(value, TypeSpec) and value.secret:
                secrets.setdefault(f"{phase}.secret{n}", value.secret)  # masked before it is ever typed
            if step.kind == "goal" and isinstance(value, GoalSpec) and value.judge == "task" and not suite.task:
                problems.append(Problem(file, lines.get(id(step), 1), "goal: judge: task needs a sim task; set "
                                                                          "task: in the header, or use judge: agent"))
    if problems:
        raise SuiteError(problems)
    return LoadedSuite(suite=suite, path=Path(file), variables=variables, secrets=secrets, task_params=task_params,
                       lines=lines)


def read_yaml(text: str, file: str = "<suite>") -> Any:
    """Plain data from YAML text, read the way suites are (only true/false are booleans, dates stay text,
    duplicate keys are errors): what editors and ``handa schema suite`` validate."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise SuiteError([Problem(file, 1, f"not valid YAML: {exc}")]) from None
    positions = _Node(file)
    data = positions.build(root) if root is not None else None
    if positions.problems:
        raise SuiteError(positions.problems)
    return data


def load_suite(path: Path | str, *, overrides: Optional[Mapping[str, str]] = None,
               environ: Optional[Mapping[str, str]] = None) -> LoadedSuite:
    """Read and validate one suite file (UTF-8); see ``parse_suite``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SuiteError([Problem(str(path), 1, "no such file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError([Problem(str(path), 1, f"cannot read it: {exc}")]) from None
    loaded = parse_suite(text, str(path), overrides=overrides, environ=environ)
    loaded.path = path
    return loaded


def suite_files(paths: list[Path | str]) -> list[Path]:
    """The suite files named: files as given, folders searched for *.yaml and *.yml (sorted)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(q for q in p.rglob("*") if q.suffix in (".yaml", ".yml") and q.is_file()))
        else:
            out.append(p)
    return list(dict.fromkeys(out))


# ---------------------------------------------------------------- JSON Schema


def _nodes(node: Any):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _nodes(value)


def suite_json_schema() -> dict:
    """JSON Schema (draft 2020-12) of a suite file, for editors (yaml-language-server) and CI checks.

    What it cannot say: that a regex compiles, that ``${VAR}`` is set, that a selector is not empty (that one it
    does say), that a point's percentages are at most 100.
    """
    schema = TypeAdapter(Suite).json_schema(by_alias=True)
    defs = schema["$defs"]
    step_refs = {f"#/$defs/{c.__name__}" for c in STEP_CLASSES}
    for node in list(_nodes(schema)):
        members = node.get("oneOf")
        if isinstance(members, list) and members and {m.get("$ref") for m in members} <= step_refs:
            node.clear()
            node["$ref"] = "#/$defs/Step"
    defs["Step"] = {
        "title": "Step",
        "description": "One step: a mapping with one key, the step's name, or a bare "
                       + ", ".join(BARE_STEPS) + ".",
        "anyOf": [{"type": "string", "enum": list(BARE_STEPS)},
                  {"oneOf": [{"$ref": f"#/$defs/{c.__name__}"} for c in STEP_CLASSES]}],
    }
    for c in STEP_CLASSES:
        d = defs[c.__name__]
        d["required"] = [c.kind]
        d["additionalProperties"] = False
    for name in ("SelectorSpec",):
        d = defs[name]
        d["anyOf"] = [{"required": [c], "properties": {c: {"not": {"type": "null"}}}} for c in _CRITERIA]
    for name in ("TapSpec", "LongPressSpec"):
        d = defs[name]
        d["anyOf"] = [{"required": [c], "properties": {c: {"not": {"type": "null"}}}}
                      for c in (*_CRITERIA, "point")]
    for name in ("Condition", "AssertSpec", "WaitUntilSpec"):
        d = defs[name]
        d["anyOf"] = [{"required": [c], "properties": {c: {"not": {"type": "null"}}}} for c in Condition.CHECKS]
    defs["TypeSpec"]["oneOf"] = [{"required": ["text"], "not": {"required": ["secret"]}},
                                 {"required": ["secret"], "not": {"required": ["text"]}}]
    defs["RepeatSpec"]["oneOf"] = [{"required": ["times"], "not": {"required": ["while"]}},
                                   {"required": ["while"], "not": {"required": ["times"]}}]
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "Handa suite"
    return schema
