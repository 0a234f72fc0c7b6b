"""Actions <-> the model's structured outputs.

``encode`` turns an expert's action into training targets for every head;
``decode`` turns the heads' outputs into a validated ``Action``. The verb says
which heads matter: an element pointer, a point, a text (a copy span over the
goal or over an element's text, or a count), a scroll direction, a key, an app.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from controllers.actions import (Answer, Click, Direction, Done, DoneStatus, ElementTarget, Key, LongPress, OpenApp,
                                 PointTarget, Scroll, System, SystemButton, TypeText)
from model.features import NUMBER_BINS, SEG_OFFSETS, Features, element_fields

SHOWN_SEGMENTS = 4  # answers are copied from text the screen shows: name, hint, description, value (not the id)

VERBS = ["click", "double_click", "long_press", "click_point", "type", "scroll", "key", "back", "home", "recents",
         "open_app", "answer", "done", "fail"]
V = {name: i for i, name in enumerate(VERBS)}
ELEMENT_VERBS = {V["click"], V["double_click"], V["long_press"], V["type"], V["scroll"], V["click_point"]}
TEXT_SOURCES = ["goal", "element", "count"]
TRANSFORMS = ["same", "commas_to_lines", "new_line"]
DIRECTIONS = [d.value for d in Direction]
AMOUNTS = [0.3, 0.6, 1.0]
KEYS = ["enter", "escape", "left", "right", "up", "down", "backspace", "delete", "tab", "space", "ctrl+a",
        "page_down", "page_up", "home", "end"]
GRID = 8
X_BINS = NUMBER_BINS  # a point along a slider: one bin per whole percent, as goals name them
MAX_COUNT = 32
IGNORE = -100


def _norm(text: str) -> str:
    return text.replace("\u2013", "-").replace("\u2212", "-")


@dataclass
class Target:
    """What the heads should output for one step (IGNORE where a head does not apply)."""

    verb: int
    element: int = IGNORE
    cell: int = IGNORE
    cell_dx: float = 0.5
    cell_dy: float = 0.5
    xbin: int = IGNORE
    source: int = IGNORE
    span_start: int = IGNORE
    span_end: int = IGNORE
    transform: int = IGNORE
    count: int = IGNORE
    clear: int = IGNORE
    submit: int = IGNORE
    secret: int = IGNORE
    direction: int = IGNORE
    amount: int = IGNORE
    key: int = IGNORE
    app: int = IGNORE

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class CodecError(ValueError):
    """The action cannot be expressed by the model's heads."""


def verb_of(action: Any) -> int:
    t = action.type
    if t == "click":
        if getattr(action.target, "kind", "") == "point":
            return V["click_point"]
        return V["double_click"] if action.count == 2 else V["click"]
    if t == "system":
        return V[action.button.value] if action.button.value in V else V["key"]
    if t == "done":
        return V["done"] if action.status == DoneStatus.success else V["fail"]
    return V.get(t, V["fail"])


def _goal_span(text: str, feats: Features) -> Optional[tuple[int, int, int]]:
    """(start, end, transform) of a goal token span that yields ``text``."""
    goal = feats.goal
    for transform, wanted in ((0, text), (1, text.replace("\n", ", ")), (2, text[1:] if text.startswith("\n") else None)):
        if not wanted:
            continue
        at = goal.find(wanted)
        while at >= 0:
            end = at + len(wanted)
            starts = [i for i, (a, _) in enumerate(feats.goal_offsets) if a == at]
            ends = [i for i, (_, b) in enumerate(feats.goal_offsets) if b == end]
            if starts and ends and starts[0] <= ends[-1]:
                return starts[0], ends[-1], transform
            at = goal.find(wanted, at + 1)
    return None


def _whole_runs(field: str, wanted: str):
    """Where ``wanted`` occurs in ``field`` as a whole run between spaces (as decoding copies answers)."""
    at = field.find(wanted)
    while at >= 0:
        end = at + len(wanted)
        if (at == 0 or field[at - 1].isspace()) and (end == len(field) or field[end].isspace()):
            yield at
        at = field.find(wanted, at + 1)


def _element_span(text: str, feats: Features) -> Optional[tuple[int, int, int]]:
    """(element index, start token, end token) of an element text span equal to ``text``, a whole run."""
    wanted = _norm(text).strip()
    if not wanted:
        return None
    for i, e in enumerate(feats.elements):
        offs = feats.element_offsets[i]
        for s, text in enumerate(element_fields(e)[:SHOWN_SEGMENTS]):
            field = _norm(text)
            at = next(_whole_runs(field, wanted), -1)  # "1" is no answer copied out of "1월 25일"
            if at < 0:
                continue
            end = at + len(wanted)
            toks = [k for k, (seg, _, _) in enumerate(offs) if seg == s]
            starts = [k for k in toks if offs[k][1] == at]
            ends = [k for k in toks if offs[k][2] == end]
            if starts and ends and starts[0] <= ends[-1]:
                base = SEG_OFFSETS[s] - toks[0]
                return i, starts[0] + base, ends[-1] + base
    return None


def _element_index(action: Any, feats: Features) -> int:
    target = getattr(action, "target", None)
    if target is None or getattr(target, "kind", None) != "element":
        raise CodecError("expected an element target")
    for i, e in enumerate(feats.elements):
        if e.id == target.id:
            return i
    raise CodecError(f"element {target.id} was pruned or is not on screen")


def _cell(x: float, y: float) -> tuple[int, float, float]:
    gx, gy = min(int(x * GRID), GRID - 1), min(int(y * GRID), GRID - 1)
    return gy * GRID + gx, x * GRID - gx, y * GRID - gy


def _center(action: Any, obs: Any, feats: Features) -> tuple[float, float]:
    target = action.target
    w, h = feats.screen
    if getattr(target, "kind", None) == "point":
        return target.x, target.y
    e = obs.element(target.id)
    cx, cy = e.bounds.center
    return min(max(cx / max(w - 1, 1), 0.0), 1.0), min(max(cy / max(h - 1, 1), 0.0), 1.0)


def encode(action: Any, obs: Any, feats: Features, screenshot_only: bool = False,
           apps: Optional[list[str]] = None) -> Target:
    """Training targets for ``action`` taken on ``obs``; ``CodecError`` if the heads cannot express it."""
    verb = verb_of(action)
    tgt = Target(verb=verb)
    if verb in ELEMENT_VERBS and getattr(action, "target", None) is not None:
        if screenshot_only:
            tgt.cell, tgt.cell_dx, tgt.cell_dy = _cell(*_center(action, obs, feats))
        elif verb == V["click_point"]:
            w, h = feats.screen
            px, py = action.target.x * (w - 1), action.target.y * (h - 1)
            hits = [i for i, e in enumerate(feats.elements) if e.bounds.contains(px, py)]
            if not hits:
                raise CodecError("point outside every element")
            i = min(hits, key=lambda k: feats.elements[k].bounds.area)
            b = feats.elements[i].bounds
            tgt.element = i
            tgt.xbin = round((px - b.left) / max(b.width - 1, 1) * (X_BINS - 1))
            tgt.xbin = min(max(tgt.xbin, 0), X_BINS - 1)
        else:
            tgt.element = _element_index(action, feats)
    if isinstance(action, TypeText):
        found = _goal_span(action.text, feats)
        if found is None:
            raise CodecError(f"typed text not in the goal: {action.text[:40]!r}")
        tgt.source, (tgt.span_start, tgt.span_end, tgt.transform) = 0, found
        tgt.clear, tgt.submit, tgt.secret = int(action.clear), int(action.submit), int(action.secret)
    elif isinstance(action, Answer):
        found = None if screenshot_only else _element_span(action.text, feats)
        if found is not None:
            tgt.source = 1
            tgt.element, tgt.span_start, tgt.span_end = found
        elif (g := _goal_span(action.text, feats)) is not None and g[2] == 0:
            tgt.source, tgt.span_start, tgt.span_end, tgt.transform = 0, g[0], g[1], 0
        elif action.text.strip().isdigit() and int(action.text) < MAX_COUNT:
            tgt.source, tgt.count = 2, int(action.text)
        else:
            raise CodecError(f"answer not on screen nor in the goal: {action.text[:40]!r}")
    elif isinstance(action, Scroll):
        tgt.direction = DIRECTIONS.index(action.direction.value)
        tgt.amount = min(range(len(AMOUNTS)), key=lambda k: abs(AMOUNTS[k] - action.amount))
        if action.target is None:
            tgt.element = IGNORE
    elif isinstance(action, Key):
        combo = "+".join(action.keys)
        if combo not in KEYS:
            raise CodecError(f"key {combo} is not in the key vocabulary")
        tgt.key = KEYS.index(combo)
    elif isinstance(action, OpenApp):
        if apps is None or action.app not in apps:
            raise CodecError(f"unknown app {action.app}")
        tgt.app = apps.index(action.app)
    elif isinstance(action, System) and action.button == SystemButton.enter:
        raise CodecError("system enter is expressed as key enter")
    elif action.type not in ("click", "long_press", "system", "done"):
        raise CodecError(f"{action.type} actions are not produced by the model")
    return tgt


# ---------------------------------------------------------------------- decoding
def _joined(x: str, y: str) -> bool:
    """Whether two neighbouring characters belong to one word (Hangul particles attach: never a word split)."""
    return x.isalnum() and y.isalnum() and not _is_cjk(x) and not _is_cjk(y)


def _is_cjk(ch: str) -> bool:
    return "\u1100" <= ch <= "\u11ff" or "\u3040" <= ch <= "\u30ff" or "\u3130" <= ch <= "\u318f" \
        or "\u4e00" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7a3"


def word_bounds(text: str, offsets: Any) -> tuple[list[bool], list[bool]]:
    """Per token: whether a copied span may start / end there without cutting a word in two.

    A typed name or number is copied whole: "Seoul#cloud324", never "Seoul#cloud3".
    """
    n = len(text)
    starts = [a == 0 or a >= n or not _joined(text[a - 1], text[a]) for a, _ in offsets]
    ends = [b == 0 or b >= n or not _joined(text[b - 1], text[b]) for _, b in offsets]
    return starts, ends



def _span_text(feats: Features, start: int, end: int) -> str:
    a, b = feats.goal_offsets[start][0], feats.goal_offsets[end][1]
    return feats.goal[a:b]


def _element_span_text(feats: Features, element: int, start: int, end: int) -> str:
    e = feats.elements[element]
    offs = feats.element_offsets[element]
    # token k of the element lies at position SEG_OFFSETS[segment] + its rank inside the segment
    pos = {}
    rank: dict[int, int] = {}
    for k, (seg, a, b) in enumerate(offs):
        r = rank.get(seg, 0)
        rank[seg] = r + 1
        pos[SEG_OFFSETS[seg] + r] = (seg, a, b)
    if start not in pos or end not in pos or pos[start][0] != pos[end][0]:
        raise CodecError("element span crosses fields")
    seg = pos[start][0]
    if seg >= SHOWN_SEGMENTS:
        raise CodecError("answers are copied from shown text, not from ids")
    text = element_fields(e)[seg]
    a, b = pos[start][1], pos[end][2]
    # an answer read off the screen is a whole run between spaces: "+82 10-9790-2716", never "+82 10-9790"
    while a > 0 and not text[a - 1].isspace():
        a -= 1
    while b < len(text) and not text[b].isspace():
        b += 1
    return _norm(text[a:b]).strip()


def apply_transform(text: str, transform: int) -> str:
    if transform == 1:
        return "\n".join(part.strip() for part in text.split(","))
    if transform == 2:
        return "\n" + text
    return text


def decode(out: dict[str, Any], feats: Features, apps: list[str]) -> Any:
    """An ``Action`` from one step's chosen head values (plain ints/floats in ``out``)."""
    verb = VERBS[out["verb"]]
    w, h = feats.screen

    def element_target():
        if feats.elements:
            return ElementTarget(id=feats.elements[out["element"]].id)
        cell = out["cell"]
        x = (cell % GRID + out["cell_dx"]) / GRID
        y = (cell // GRID + out["cell_dy"]) / GRID
        return PointTarget(x=min(max(x, 0.0), 1.0), y=min(max(y, 0.0), 1.0))

    if verb in ("click", "double_click"):
        return Click(target=element_target(), count=2 if verb == "double_click" else 1)
    if verb == "long_press":
        return LongPress(target=element_target())
    if verb == "click_point":
        if not feats.elements:
            return Click(target=element_target())
        b = feats.elements[out["element"]].bounds
        px = b.left + out["xbin"] / (X_BINS - 1) * max(b.width - 1, 0)
        py = b.top + 0.5 * max(b.height - 1, 0)
        return Click(target=PointTarget(x=min(max(px / max(w - 1, 1), 0.0), 1.0),
                                        y=min(max(py / max(h - 1, 1), 0.0), 1.0)))
    if verb == "type":
        text = apply_transform(_span_text(feats, out["span_start"], out["span_end"]), out["transform"])
        return TypeText(text=text, target=element_target(), clear=bool(out["clear"]), submit=bool(out["submit"]),
                        secret=bool(out["secret"]))
    if verb == "scroll":
        target = element_target() if feats.elements else None
        return Scroll(direction=Direction(DIRECTIONS[out["direction"]]), amount=AMOUNTS[out["amount"]], target=target)
    if verb == "key":
        return Key(keys=KEYS[out["key"]].split("+"))
    if verb in ("back", "home", "recents"):
        return System(button=SystemButton(verb))
    if verb == "open_app":
        return OpenApp(app=apps[out["app"]])
    if verb == "answer":
        source = TEXT_SOURCES[out["source"]]
        if source == "count":
            return Answer(text=str(out["count"]))
        if source == "element" and feats.elements:
            return Answer(text=_element_span_text(feats, out["element"], out["span_start"], out["span_end"]))
        return Answer(text=_span_text(feats, out["span_start"], out["span_end"]))
    if verb == "fail":
        return Done(status=DoneStatus.failure, summary="the model gave up")
    return Done(status=DoneStatus.success)
