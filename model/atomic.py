"""Atomic-instruction episodes: "Tap Rename", "Turn Wi-Fi off, then type 'Ivan' into Full name".

The templates' experts only ever act on the controls their tasks need, so a control that only a held-out
task uses (the Bluetooth switch) is, in every training sample, a distractor; the model learns "never the
target" for it instead of "the control the goal names". These episodes teach the skill itself: a seen
template is played part of the way by its expert (to reach a realistic screen), then the goal becomes an
instruction that names one to three controls on that screen, and ``AtomicExpert`` labels each state until
they are done. Controls that only held-out templates' experts act on (``heldout_only_keys``) are never
named, so nothing of a held-out task is trained on.
"""
from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Optional

from controllers.actions import Click, ElementTarget, LongPress, TypeText
from controllers.elements import Observation, Role, UIElement
from controllers.policy import Decision, HistoryEntry
from tasks.expert import APPS_BY_PACKAGE, Kit

# roles an instruction acts on by one click, and those that keep the screen as it is (several per goal)
CLICKED = (Role.button, Role.list_item, Role.menu_item, Role.tab, Role.link, Role.icon, Role.dropdown)
STAYING = (Role.switch, Role.checkbox, Role.radio, Role.text_field)
TEXTS = ("hello", "Meeting at 3", "서울역", "010-1234-5678", "kim@example.com", "안녕하세요", "42", "Kim Minji",
         "내일 봐요", "2026-12-04", "Lunch with Mina", "부산 해운대", "Road 7", "ok!", "Project 알파")
ID_SHARE = 0.25  # parts whose control is named by the words of its platform id
JOINS = (", then ", " and ", ". Then ", ", 그리고 ", ", ")

CLICK_WORDINGS = ("Tap {ref}", "Click {ref}", "Open {ref}", 'Click on "{ref}"', "Tap on {ref}", "{ref} 눌러줘",
                  "{ref} 탭해줘", "Select {ref}")
BUTTON_WORDINGS = CLICK_WORDINGS + ("Press the {ref} button", "Hit {ref}")
LONG_WORDINGS = ("Long-press {ref}", "Press and hold {ref}", "{ref} 길게 눌러줘", "Long press on {ref}")
ON_WORDINGS = ("Turn {ref} on", "Turn on {ref}", "Enable {ref}", "Switch {ref} on", "{ref} 켜줘", "Check {ref}")
OFF_WORDINGS = ("Turn {ref} off", "Turn off {ref}", "Disable {ref}", "Switch {ref} off", "{ref} 꺼줘", "Uncheck {ref}")
PICK_WORDINGS = ("Select {ref}", "Choose {ref}", "Pick {ref}", "{ref} 선택해줘")
TYPE_WORDINGS = ("Type '{text}' into {ref}", 'Enter "{text}" in the {ref} field', "{ref}에 '{text}' 입력해줘",
                 "Write '{text}' in {ref}", 'Set {ref} to "{text}"')


def normalized_key(key: str) -> str:
    """A sim-key with its numbers folded ("contacts:item:c12" -> "contacts:item:c#"): a row of another
    contact is still the same kind of control."""
    return re.sub(r"\d+", "#", key)


def _acted_keys(template_ids: list[str], split: str, seeds: int) -> set[str]:
    """The normalized keys of the elements a template's expert acts on, over a few seeds and both forms."""
    from controllers.sim.controller import SimController
    from tasks.base import get_template, make_instance
    from tasks.expert import ExpertPolicy

    keys: set[str] = set()
    for template_id in template_ids:
        template = get_template(template_id)
        for seed in range(seeds):
            form = template.forms[seed % len(template.forms)]
            inst = make_instance(template_id, seed=seed, form=form, split=split)
            controller, expert = SimController(inst.device), ExpertPolicy(inst)
            expert.reset(inst.goal)
            history: list[HistoryEntry] = []
            for step in range(template.steps_hint * 3 + 6):
                obs = controller.observe()
                action = expert.decide(inst.goal, obs, history).action
                if action is None or action.type in ("done", "answer"):
                    break
                target = getattr(action, "target", None)
                if isinstance(target, ElementTarget):
                    e = obs.element(target.id)
                    if e is not None and e.attrs.get("sim-key"):
                        keys.add(normalized_key(e.attrs["sim-key"]))
                result = controller.execute(action)
                history.append(HistoryEntry(step=step, action=action, ok=result.ok, error=result.error))
    return keys


@lru_cache(maxsize=4)
def heldout_only_keys(seeds: int = 8) -> frozenset[str]:
    """Normalized sim-keys that held-out templates' experts act on and seen templates' experts never do:
    naming them in an instruction would train a held-out task."""
    from model.splits import heldout_templates, seen_templates

    return frozenset(_acted_keys(heldout_templates(), "heldout", seeds) - _acted_keys(seen_templates(), "train", seeds))


@dataclass
class Part:
    """One thing an instruction asks: ``kind`` is click, long_press, set (a switch/checkbox to ``wish``),
    pick (a radio) or type (``text`` into a field)."""

    kind: str
    key: str
    referent: str
    wish: Optional[bool] = None
    text: str = ""
    by_id: bool = False  # the referent is the words of the platform id, not a text on screen

    def satisfied(self, e: UIElement) -> bool:
        """Whether the element's state already shows this part done (clicks never do by state)."""
        if self.kind == "set":
            return bool(e.states.checked) == self.wish
        if self.kind == "pick":
            return bool(e.states.checked)
        if self.kind == "type":
            return e.value == self.text
        return False


def referent(e: UIElement) -> str:
    """What a person would call the element: its label with letters, else its description, else its hint,
    without the symbols around it ("★ Favorite" -> "Favorite", "검색…" -> "검색"); "" when nothing."""
    for text in (e.name, e.description, e.hint):
        text = re.sub(r"\s*\(\d+\)", "", text or "")  # a count: "Cart (2)"
        text = re.sub(r"^[\W_]+|[\W_]+$", "", text)
        if re.search(r"[^\W\d_]", text) and len(text) <= 40:
            return text
    return ""


def id_referent(e: UIElement) -> str:
    """The words of the element's platform id ("com.app:id/device_name" -> "device name"), when they hold a
    word of three letters or more: a held-out look may label a control with a synonym the goal does not use,
    and then the id is what the goal's words match."""
    rid = (e.attrs.get("resource-id") or "").rsplit("/", 1)[-1]
    words = re.sub(r"[\W_]+", " ", rid).strip()
    return words if re.search(r"[^\W\d_]{3,}", words) else ""


def _overlay(obs: Observation, app: str) -> Optional[UIElement]:
    """The foreground app's open dialog or menu (not a nag, which the expert dismisses first)."""
    found = None
    for e in obs.elements:
        key = e.attrs.get("sim-key", "")
        if e.role in (Role.dialog, Role.menu) and key.startswith(app + ":") and ":nag" not in key:
            found = e
    return found


def _inside(obs: Observation, e: UIElement, root: UIElement) -> bool:
    p = e.parent
    while p is not None:
        if p == root.id:
            return True
        node = obs.element(p)
        p = node.parent if node is not None else None
    return False


def candidates(obs: Observation, excluded: frozenset[str]) -> list[tuple[UIElement, str]]:
    """The enabled controls an instruction may name, with their referents: the foreground app's (inside its
    dialog or menu when one is open), the taskbar's, the phone's launcher icons and navigation buttons.
    Never a held-out-only key, a nag, or two controls a person could not tell apart by their referent."""
    app = APPS_BY_PACKAGE.get(obs.app, "launcher")
    overlay = _overlay(obs, app)
    found: list[tuple[UIElement, str]] = []
    for e in obs.elements:
        key = e.attrs.get("sim-key", "")
        s = e.states
        if not key or not s.enabled or s.password or normalized_key(key) in excluded or ":nag" in key:
            continue
        if not (s.clickable or s.editable or s.checked is not None):
            continue
        if e.role not in CLICKED + STAYING:
            continue
        if key.startswith(app + ":"):
            if overlay is not None and not _inside(obs, e, overlay):
                continue
        elif overlay is not None or not key.startswith(("taskbar:", "sys:")):
            continue
        ref = referent(e)
        if ref:
            found.append((e, ref))
    seen = Counter(ref.casefold() for _, ref in found)
    return [(e, ref) for e, ref in found if seen[ref.casefold()] == 1]


def _part(e: UIElement, ref: str, rng: random.Random) -> tuple[Part, str]:
    """A part for element ``e`` named ``ref``, and its wording."""
    key = e.attrs["sim-key"]
    if e.role in (Role.switch, Role.checkbox):
        # mostly the change a person would ask for; sometimes what is already so (then nothing to do)
        wish = (not e.states.checked) if rng.random() < 0.85 else bool(e.states.checked)
        return Part("set", key, ref, wish=wish), rng.choice(ON_WORDINGS if wish else OFF_WORDINGS).format(ref=ref)
    if e.role == Role.radio:
        return Part("pick", key, ref), rng.choice(PICK_WORDINGS).format(ref=ref)
    if e.role == Role.text_field:
        text = rng.choice(TEXTS)
        return Part("type", key, ref, text=text), rng.choice(TYPE_WORDINGS).format(ref=ref, text=text)
    if e.role == Role.list_item and rng.random() < 0.2:
        return Part("long_press", key, ref), rng.choice(LONG_WORDINGS).format(ref=ref)
    wordings = BUTTON_WORDINGS if e.role == Role.button else CLICK_WORDINGS
    return Part("click", key, ref), rng.choice(wordings).format(ref=ref)


def instruction(obs: Observation, rng: random.Random, excluded: frozenset[str]) -> Optional[tuple[str, list[Part]]]:
    """A goal naming one to three controls of ``obs`` and its parts, or None when nothing may be named.

    Several parts only among controls that keep the screen (switches, checkboxes, one radio, fields), so
    the episode ends with all of them done; a click may change the page, so it is always alone."""
    found = candidates(obs, excluded)
    if not found:
        return None
    app = APPS_BY_PACKAGE.get(obs.app, "launcher")
    own = [c for c in found if c[0].attrs["sim-key"].startswith(app + ":")]
    pool = own if own and rng.random() < 0.8 else found
    staying = [c for c in pool if c[0].role in STAYING]
    if len(staying) >= 2 and rng.random() < 0.35:
        rng.shuffle(staying)
        chosen, radios, wanted = [], 0, rng.choice((2, 2, 3))
        for c in staying:
            if c[0].role == Role.radio:
                if radios:
                    continue
                radios += 1
            chosen.append(c)
            if len(chosen) == wanted:
                break
    else:
        chosen = [rng.choice(pool)]
    parts, words = [], []
    taken = {ref.casefold() for _, ref in found}  # a referent must tell one control apart
    id_counts = Counter(id_referent(e).casefold() for e, _ in found)
    for e, ref in chosen:
        by_id = id_referent(e)
        # sometimes by the id's words, as a goal matches a control whose label is a synonym it never uses
        use_id = (bool(by_id) and by_id.casefold() not in taken and id_counts[by_id.casefold()] == 1
                  and rng.random() < ID_SHARE)
        part, wording = _part(e, by_id if use_id else ref, rng)
        part.by_id = use_id
        parts.append(part)
        words.append(wording)
    goal = words[0]
    for w in words[1:]:
        join = rng.choice(JOINS)
        goal += join + (w[0].lower() + w[1:] if not join.startswith(". ") and w[:1].isascii() else w)
    return goal + rng.choice((".", "", "")), parts


class AtomicExpert:
    """Labels any state of an atomic-instruction episode: dismiss a nag, then each part in order, then done.

    Reactive like the templates' experts: a part is done when the element's state shows it, or when the
    last executed action (whoever chose it) acted on that element as the part asks. A named element that
    is gone (the learner left the page) raises ``LookupError``: the episode ends there."""

    name = "expert:atomic"

    def __init__(self, parts: list[Part], seed: int = 0):
        self.parts = parts
        self.seed = seed
        self.reset("")

    def reset(self, goal: str) -> None:
        self.index = 0
        self.memory: dict[str, Any] = {}
        self.last_keys: dict[str, str] = {}  # element id -> sim-key on the last screen decided on
        self.seen_steps = 0

    def _acted(self, history: list[HistoryEntry], part: Part) -> bool:
        if len(history) <= self.seen_steps:
            return False
        entry = history[-1]
        self.seen_steps = len(history)
        action = entry.action
        target = getattr(action, "target", None)
        if not entry.ok or not isinstance(target, ElementTarget) or self.last_keys.get(target.id) != part.key:
            return False
        if part.kind == "type":
            return isinstance(action, TypeText) and action.text == part.text
        if part.kind == "long_press":
            return isinstance(action, LongPress)
        return isinstance(action, Click)

    def decide(self, goal: str, observation: Observation, history: list[HistoryEntry]) -> Decision:
        kit = Kit(observation, self.memory, history, seed=self.seed)
        acted = self.index < len(self.parts) and self._acted(history, self.parts[self.index])
        self.last_keys = {e.id: e.attrs.get("sim-key", "") for e in observation.elements}
        if acted:
            self.index += 1
        action = kit.interruption()
        while action is None and self.index < len(self.parts):
            part = self.parts[self.index]
            e = kit.el(part.key)
            if e is None:
                raise LookupError(f"the instruction's {part.referent!r} is no longer on screen")
            if part.satisfied(e):
                self.index += 1
                continue
            if part.kind == "type":
                action = kit.type(e, part.text, clear=True)
            elif part.kind == "long_press":
                action = kit.long_press(e)
            else:
                action = kit.click(e)
        return Decision(action=action or kit.done(), confidence=1.0, raw={"expert": "atomic"})
