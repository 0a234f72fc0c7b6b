"""Observation + goal + episode memory -> the model's input arrays.

Everything the network sees is built here, so training and inference read the
same thing. The sim-only ``sim-key`` attribute is never read (``attrs`` are
ignored entirely), so a policy trained here sees what a real device gives.

Pruning policy (documented contract, see ``prune``): elements that are
invisible, have no area, lie entirely off screen, or are bare layout (neither
interactive nor carrying any text) are dropped. Of the rest at most
``max_elements`` are kept: interactive elements (clickable, editable,
scrollable, checkable, focused) before elements that carry text; ties keep
tree order, and the kept elements are presented in tree order.
"""
from __future__ import annotations

import math
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Optional

import numpy as np

from controllers.actions import TypeText
from controllers.elements import Observation, Role, UIElement
from model.answers import asked_kinds, shapes
from model.asks import asks
from model.keypad import goal_keys, goal_value, key_of, next_keys, shows_value
from model.months import direction, goal_months, nav_of, shown_month
from model.polarity import wish
from model.quotes import token_groups

ROLES = [r.value for r in Role]
ROLE_INDEX = {r: i for i, r in enumerate(ROLES)}
_UNKNOWN = ROLE_INDEX["unknown"]
# token budget per text field of an element: name, hint, description, value, and the platform id's words
# ("com.app:id/add_to_cart" -> "add to cart"): ids do not change with the language or the label synonym
SEGMENTS = (("name", 10), ("hint", 4), ("description", 10), ("value", 12), ("rid", 6))
SEG_OFFSETS = []
_o = 0
for _name, _n in SEGMENTS:
    SEG_OFFSETS.append(_o)
    _o += _n
ELEMENT_TOKENS = _o
N_STATES = 11
N_BOX = 9
N_TEXTFLAGS = 24  # see Featurizer.__call__: exact, loose, alike, numeric, keypad, link, month, wish, name, answer cues
IMAGE_SIZE = 64
NUMBER_BINS = 101  # whole numbers 0..100 in the goal, one flag each (slider positions; = codec.X_BINS)
_WHOLE = re.compile(r"(?<![\d.\-])\d{1,3}(?![\d.])")
MEMORY_SLOTS = 4
MEMORY_TOKENS = 8
TOUCHED_IDS = 256  # distinct token ids the episode has clicked or typed, remembered for goal coverage
MAX_TEXT_CHARS = 200  # longer strings are cut before tokenizing (the model reads a prefix)
MAX_GOAL_CHARS = 2000  # the same for the goal (its tokens and every cue read from it)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_WORD = re.compile(r"\w+")
ECHO_TOKENS = 6  # per element, goal tokens it was called by / leads to (lexicons), for the model's goal echo
ECHO_MIN_WEIGHT = 0.6  # ... of lexicon weight 1 / (elements sharing the token) above this: "to", "the" lead anywhere
_PREFIX = 5  # a goal word and an element word that share this many leading letters are "alike" (Vibrate/Vibration)


def model_text(text: str) -> str:
    """What the tokenizer reads of a text: lower case, when that keeps every offset (it does but for a few
    letters such as "İ")."""
    low = text.lower()
    return low if len(low) == len(text) else text


@lru_cache(maxsize=65536)  # UI strings repeat from step to step: computed once each
def loose(text: str) -> str:
    """Letters and digits only, case-folded: "Wi-Fi" and "wifi" read the same."""
    return "".join(ch for ch in text.casefold() if ch.isalnum())


@lru_cache(maxsize=65536)
def id_words(resource_id: str) -> str:
    """The readable part of a platform id: "com.app:id/add_to_cart" -> "add to cart"."""
    tail = resource_id.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return re.sub(r"[_\-.]+", " ", tail).strip()


def element_key(e: UIElement) -> str:
    """An element's name across screens and seeds: its app and platform id words, else its loose label."""
    rid = id_words(e.attrs.get("resource-id", ""))
    return f"{e.app}|{rid}" if rid else label_key(e)


def label_key(e: UIElement) -> str:
    """The key an element has on a device that shows no platform ids: its app and loose label."""
    return f"{e.app}|~{loose(e.name or e.description)}"


def element_fields(e: UIElement) -> tuple[str, str, str, str, str]:
    """The element's text fields in ``SEGMENTS`` order."""
    return (e.name, e.hint, e.description, e.value, id_words(e.attrs.get("resource-id", "")))


@lru_cache(maxsize=65536)
def _prefixes(text: str) -> frozenset[str]:
    return frozenset(w[:_PREFIX] for w in _WORD.findall(text.casefold()) if len(w) >= _PREFIX)


def prune(elements: list[UIElement], width: int, height: int, limit: int) -> list[UIElement]:
    """The elements the model reads, in tree order (see the module docstring)."""
    ranked = []
    for order, e in enumerate(elements):
        b = e.bounds
        if not e.states.visible or b.width <= 0 or b.height <= 0:
            continue
        if b.right <= 0 or b.bottom <= 0 or b.left >= width or b.top >= height:
            continue
        s = e.states
        interactive = s.clickable or s.editable or s.scrollable or s.checked is not None or s.focused
        if not interactive and not (e.name or e.value or e.description or e.hint):
            continue  # bare layout: rows, pages, headers (their children carry what matters)
        ranked.append((0 if interactive else 1, order, e))
    if len(ranked) > limit:
        ranked.sort(key=lambda t: (t[0], t[1]))
        ranked = sorted(ranked[:limit], key=lambda t: t[1])
    return [e for _, _, e in ranked]


class TextCache:
    """Tokenize strings once: UI labels repeat from step to step.

    Every text is read lower-cased (``lowercase``, a setting of the model) and as if a space came before
    it: byte-level BPE spells a word after a space ("Ġname") differently from the same word at the start
    of a string, and "Save" differently from "save". So a label, its id and the same word inside the goal
    get the same token ids, which the lexical matching of goal and screen relies on. Offsets stay relative
    to the original text, so copied spans keep their case.
    """

    def __init__(self, tokenizer: Any, size: int = 50000, lowercase: bool = True):
        self.backend = tokenizer.backend_tokenizer
        self.lowercase = lowercase
        self.cache: OrderedDict[str, tuple[list[int], list[tuple[int, int]]]] = OrderedDict()
        self.size = size

    def encode_many(self, texts: list[str]) -> list[tuple[list[int], list[tuple[int, int]]]]:
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            spaced = [" " + (model_text(t) if self.lowercase else t) for t in missing]
            for text, enc in zip(missing, self.backend.encode_batch(spaced, add_special_tokens=False)):
                ids, offsets = [], []
                for i, (a, b) in zip(enc.ids, enc.offsets):
                    if b <= 1:  # the added space alone
                        continue
                    ids.append(i)
                    offsets.append((max(a - 1, 0), b - 1))
                self.cache[text] = (ids, offsets)
            while len(self.cache) > self.size:
                self.cache.popitem(last=False)
        return [self.cache[t] for t in texts]

    def encode(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        return self.encode_many([text])[0]


@dataclass
class Memory:
    """The fixed-size episode state: the last few actions, step count, and counts.

    Updated once per step (``push``) in constant time; the model never re-reads
    the whole history, so a decision at step 30 costs what one at step 1 does.
    """

    verbs: list[int] = field(default_factory=list)
    texts: list[list[int]] = field(default_factory=list)
    typed: list[list[int]] = field(default_factory=list)
    ok: list[int] = field(default_factory=list)
    steps: int = 0
    changed: int = 1
    # goal coverage: token ids of everything clicked or typed so far (bounded), so the model can tell which
    # parts of the goal it has acted on -- the cue for "done" that carries over to tasks it never saw
    touched: dict[int, None] = field(default_factory=dict)

    def push(self, verb: int, target_text: list[int], typed: list[int], ok: bool, changed: bool) -> None:
        if ok:
            for t in target_text + typed:
                self.touched.pop(t, None)
                self.touched[t] = None
            while len(self.touched) > TOUCHED_IDS:
                self.touched.pop(next(iter(self.touched)))
        self.verbs = ([verb] + self.verbs)[:MEMORY_SLOTS]
        self.texts = ([target_text[:MEMORY_TOKENS]] + self.texts)[:MEMORY_SLOTS]
        self.typed = ([typed[:MEMORY_TOKENS]] + self.typed)[:MEMORY_SLOTS]
        self.ok = ([int(ok)] + self.ok)[:MEMORY_SLOTS]
        self.steps += 1
        self.changed = int(changed)

    def copy(self) -> "Memory":
        return Memory(list(self.verbs), [list(t) for t in self.texts], [list(t) for t in self.typed],
                      list(self.ok), self.steps, self.changed, dict(self.touched))


@dataclass
class Features:
    """One step's input (numpy) plus what decoding needs to map outputs back."""

    arrays: dict[str, np.ndarray]
    goal: str
    goal_offsets: list[tuple[int, int]]
    elements: list[UIElement]
    element_offsets: list[list[tuple[int, int, int]]]  # per element: (segment, char start, char end) per token
    screen: tuple[int, int]


def _first_number(text: str) -> Optional[float]:
    m = _NUMBER.search(text)
    return float(m.group()) if m else None


def _element_text(e: UIElement) -> str:
    return (e.name or e.hint or e.description or e.value or id_words(e.attrs.get("resource-id", "")))[:MAX_TEXT_CHARS]


def _goal_weights(tokens: Optional[dict[int, float]], goal_set: Any) -> tuple[float, float]:
    """(strongest, capped half-sum) of a lexicon entry's weights for the goal's tokens; zeros without one."""
    if not tokens:
        return 0.0, 0.0
    weights = [tokens[t] for t in goal_set if t in tokens]
    return max(weights, default=0.0), min(1.0, sum(weights) / 2)


def _echo_row(tokens: Optional[dict[int, float]], goal_set: Any, pad: int) -> list[int]:
    """The goal's tokens in a lexicon entry, strongest first, padded to ``ECHO_TOKENS``."""
    hits = (sorted((t for t in goal_set if tokens.get(t, 0.0) >= ECHO_MIN_WEIGHT), key=lambda t: (-tokens[t], t))
            [:ECHO_TOKENS] if tokens else [])
    return hits + [pad] * (ECHO_TOKENS - len(hits))


def target_element(action: Any, obs: Observation) -> Optional[UIElement]:
    target = getattr(action, "target", None)
    if target is not None and getattr(target, "kind", None) == "element":
        return obs.element(target.id)
    return None


class Featurizer:
    """Turns (goal, observation, memory) into arrays for ``HandaModel``."""

    def __init__(self, tokenizer: Any, max_elements: int = 512, max_goal_tokens: int = 64, apps: tuple = (),
                 lowercase: bool = True, links: Optional[dict[str, dict[str, float]]] = None,
                 lexicon: Optional[np.ndarray] = None, names: Optional[dict[str, dict[str, float]]] = None):
        self.tokenizer = tokenizer
        self.text = TextCache(tokenizer, lowercase=lowercase)
        self.max_elements = max_elements
        self.max_goal_tokens = max_goal_tokens
        self.pad = tokenizer.pad_token_id
        self.goal_cache: dict[str, tuple] = {}
        self.apps = list(apps)  # the packages the app head chooses from, in its order
        self.field_cache: dict[tuple[str, int], tuple] = {}
        # where elements lead (model/lexicon.py): element key -> {token id: weight}
        self.links = {key: {int(t): w for t, w in tokens.items()} for key, tokens in (links or {}).items()}
        # what elements were called across seeds (model/lexicon.py): element key -> {token id: weight}
        self.names = {key: {int(t): w for t, w in tokens.items()} for key, tokens in (names or {}).items()}
        # the app lexicon (apps x vocabulary, model/lexicon.py): is the app in front the one the goal is about
        self.lexicon = lexicon if lexicon is not None and len(self.apps) == len(lexicon) else None
        self.goal_apps: dict[str, frozenset[str]] = {}

    # ------------------------------------------------------------ goal
    def _goal(self, goal: str):
        hit = self.goal_cache.get(goal)
        if hit is None:
            ids, offsets = self.text.encode(goal)
            ids, offsets = ids[: self.max_goal_tokens] or [self.pad], offsets[: self.max_goal_tokens] or [(0, 0)]
            fold = goal.casefold()
            bins = np.zeros(NUMBER_BINS, dtype=np.float32)
            for m in _WHOLE.finditer(goal):
                if int(m.group()) < NUMBER_BINS:
                    bins[int(m.group())] = 1.0
            quote = np.array(token_groups(goal, offsets), dtype=np.int64)
            hit = (np.array(ids, dtype=np.int64), offsets, fold, _first_number(goal), loose(goal), _prefixes(goal),
                   bins, quote)
            if len(self.goal_cache) > 1000:
                self.goal_cache.clear()
            self.goal_cache[goal] = hit
        return hit

    def _field(self, text: str, segment: int) -> tuple[list[int], list[int], list[tuple[int, int, int]]]:
        """One text field as (padded token ids, segment ids, offsets), cached: UI strings repeat."""
        key = (text, segment)
        hit = self.field_cache.get(key)
        if hit is None:
            budget = SEGMENTS[segment][1]
            ids, off = self.text.encode(text[:MAX_TEXT_CHARS]) if text else ([], [])
            k = min(len(ids), budget)
            hit = (list(ids[:k]) + [self.pad] * (budget - k), [segment + 1] * k + [0] * (budget - k),
                   [(segment, a, b) for a, b in off[:k]])
            if len(self.field_cache) > 50000:
                self.field_cache.clear()
            self.field_cache[key] = hit
        return hit

    # ------------------------------------------------------------ main entry
    def __call__(self, goal: str, obs: Observation, memory: Memory, with_image: bool = True) -> Features:
        width, height = obs.screen.width, obs.screen.height
        elements = prune(obs.elements, width, height, self.max_elements)
        goal = goal[:MAX_GOAL_CHARS]
        goal_ids, goal_offsets, goal_fold, goal_num, goal_loose, goal_prefixes, goal_bins, goal_quote = self._goal(goal)
        n = len(elements)
        tok_rows, seg_rows, offsets_out = [], [], []
        roles, states, boxes, flags = [], [], [], []
        fg = obs.app
        area = width * height
        # the calculator key that continues the goal's arithmetic, and the one it starts with (model/keypad.py)
        continue_key, first_key = (next_keys(goal, [e.name for e in elements if not e.states.clickable])
                                   if n else (None, None))
        # the month view's arrows toward the goal's first and last month (model/months.py)
        months = goal_months(goal)
        toward = (0, 0)
        if months:
            shown = next((m for e in elements if not e.states.clickable
                          for m in [shown_month(e.name, e.value)] if m is not None), None)
            toward = (direction(months[0], shown), direction(months[-1], shown))
        goal_set = set(goal_ids.tolist()) if (self.links or self.names) else ()
        wanted = wish(goal)  # the goal's wish for a switch or a box (model/polarity.py)
        kinds = asked_kinds(goal)  # the shapes of answer the goal asks for (model/answers.py)
        value = goal_value(goal)  # what the goal's arithmetic comes to (model/keypad.py)
        named, linked = set(), set()  # goal tokens some element on screen was called by / leads to (lexicons)
        echo_named, echo_linked = [], []  # the same per element (HandaModel's goal echo)
        for e in elements:
            fields = element_fields(e)
            tok_row, seg_row, offs = [], [], []
            for s, text in enumerate(fields):
                ids, segs, off = self._field(text, s)
                tok_row += ids
                seg_row += segs
                offs += off
            tok_rows.append(tok_row)
            seg_rows.append(seg_row)
            offsets_out.append(offs)
            roles.append(ROLE_INDEX.get(e.role.value, _UNKNOWN))
            st = e.states
            states.append((st.enabled, st.visible, st.focused, st.selected, st.checked is True, st.checked is False,
                           st.clickable, st.editable, st.scrollable, st.password, e.app == fg or not e.app))
            b = e.bounds
            l, t = max(b.left, 0) / width, max(b.top, 0) / height
            r, bt = min(b.right, width) / width, min(b.bottom, height) / height
            boxes.append((l, t, r, bt, (l + r) / 2, (t + bt) / 2, r - l, bt - t,
                          math.log(max(b.area, 1) / area) / 10))
            row = [0.0] * N_TEXTFLAGS
            for s, text in enumerate(fields[:4]):
                if text:
                    folded = text.casefold().strip()
                    row[s] = 1.0 if folded and folded in goal_fold else 0.0
            # loose matches of the label and the id: punctuation-blind containment, and alike words
            for k, text in enumerate((fields[0] or fields[2], fields[4])):
                lt = loose(text)
                row[8 + k] = 1.0 if len(lt) >= 2 and lt in goal_loose else 0.0
                row[10 + k] = 1.0 if goal_prefixes & _prefixes(text) else 0.0
            num = _first_number(e.value) if e.value else None
            if num is not None:
                row[4] = 1.0
                row[5] = max(-2.0, min(2.0, num / 100))
                if goal_num is not None:
                    row[6] = max(-2.0, min(2.0, (num - goal_num) / 100))
                    row[7] = 1.0 if abs(num - goal_num) <= 4 else 0.0
            key = element_key(e) if goal_set else ""
            if self.links:  # does this element lead to the goal's words, and how specifically
                row[14], row[15] = _goal_weights(self.links.get(key), goal_set)
                linked.update(t for t in self.links.get(key, ()) if t in goal_set)
            echo_linked.append(_echo_row(self.links.get(key) if self.links else None, goal_set, self.pad))
            if wanted is not None and st.checked is not None:  # already as the goal wants it, or the opposite
                row[18] = 1.0 if st.checked == wanted else 0.0
                row[19] = 1.0 - row[18]
            if self.names:  # the goal calls this element by a name it wore on another seed
                row[20], row[21] = _goal_weights(self.names.get(key), goal_set)
                named.update(t for t in self.names.get(key, ()) if t in goal_set)
            echo_named.append(_echo_row(self.names.get(key) if self.names else None, goal_set, self.pad))
            if kinds and any(kinds & shapes(text) for text in (fields[0], fields[2], fields[3])):
                row[22] = 1.0  # shows the kind of answer the goal asks for ("15:00" for "what time")
            if (value is not None and not (st.clickable and key_of(e.name, e.description))  # a key "7" is no result
                    and any(shows_value(text, value) for text in (fields[0], fields[2], fields[3]) if text)):
                row[23] = 1.0  # shows what the goal's arithmetic comes to
            if toward != (0, 0) and st.clickable:
                nav = nav_of(e.name or e.description)
                row[16] = 1.0 if nav and nav == toward[0] else 0.0
                row[17] = 1.0 if nav and nav == toward[1] else 0.0
            if first_key is not None and st.clickable:
                key = key_of(e.name, e.description)
                row[12] = 1.0 if key is not None and key == continue_key else 0.0
                row[13] = 1.0 if key is not None and key == first_key else 0.0
            flags.append(row)
        el_tok = np.array(tok_rows, dtype=np.int64).reshape(n, ELEMENT_TOKENS)
        el_seg = np.array(seg_rows, dtype=np.int64).reshape(n, ELEMENT_TOKENS)
        el_role = np.array(roles, dtype=np.int64).reshape(n)
        el_states = np.array(states, dtype=np.float32).reshape(n, N_STATES)
        el_box = np.array(boxes, dtype=np.float32).reshape(n, N_BOX)
        el_flags = np.array(flags, dtype=np.float32).reshape(n, N_TEXTFLAGS)
        arrays = {
            "el_named": np.array(echo_named, dtype=np.int64).reshape(n, ECHO_TOKENS),
            "el_linked": np.array(echo_linked, dtype=np.int64).reshape(n, ECHO_TOKENS),
            "goal_ids": goal_ids,
            "el_tok": el_tok, "el_seg": el_seg, "el_role": el_role, "el_states": el_states, "el_box": el_box,
            "el_flags": el_flags,
            "mem_verbs": self._pad_list(memory.verbs, MEMORY_SLOTS, -1),
            "mem_text": self._pad_tokens(memory.texts),
            "mem_typed": self._pad_tokens(memory.typed),
            "mem_ok": self._pad_list(memory.ok, MEMORY_SLOTS, 0),
            "goal_touched": np.array([t in memory.touched for t in goal_ids.tolist()], dtype=np.int64),
            "ctx": np.array([min(memory.steps, 63), memory.changed, obs.screen.width > obs.screen.height,
                             int(bool(elements)), self._in_goal_app(goal, goal_ids, obs.app),
                             int(goal_keys(goal) is not None), int(asks(goal))], dtype=np.int64),
            "app_match": self._app_match(goal_loose),
            "goal_bins": goal_bins,
            "goal_quote": goal_quote,
            # per goal token: 1 an element on screen was called by it on another seed (the name lexicon), 2 one
            # leads to it (the link lexicon), 3 both -- "basket" is on a screen whose button says "Add to bag"
            "goal_named": np.array([(t in named) + 2 * (t in linked) for t in goal_ids.tolist()], dtype=np.int64),
        }
        image = obs.screenshot() if (with_image and obs.has_screenshot) else None
        if image is not None:
            arrays["image"] = image_array(image)
        return Features(arrays, goal, goal_offsets, elements, offsets_out, (width, height))

    def _in_goal_app(self, goal: str, goal_ids: np.ndarray, foreground: str) -> int:
        """0: the app in front is (one of) the goal's likeliest by the app lexicon; 1: another app is;
        2: the lexicon says nothing (no lexicon, or no goal word any app shows)."""
        if self.lexicon is None:
            return 2
        best = self.goal_apps.get(goal)
        if best is None:
            votes = self.lexicon[:, goal_ids].sum(1)
            top = float(votes.max()) if votes.size else 0.0
            best = frozenset(a for a, v in zip(self.apps, votes) if top > 0 and v >= top - 1e-6)
            if len(self.goal_apps) > 1000:
                self.goal_apps.clear()
            self.goal_apps[goal] = best
        if not best:
            return 2
        return 0 if foreground in best else 1

    def _app_match(self, goal_loose: str) -> np.ndarray:
        """Per app the model can open: whether the goal names it (its package's last word, plural-blind)."""
        out = np.zeros(max(len(self.apps), 1), dtype=np.float32)
        for i, package in enumerate(self.apps):
            word = loose(package.rsplit(".", 1)[-1])
            stem = word[:-1] if word.endswith("s") and len(word) > 4 else word
            out[i] = 1.0 if stem and stem in goal_loose else 0.0
        return out

    def _pad_list(self, values: list[int], size: int, fill: int) -> np.ndarray:
        out = np.full(size, fill, dtype=np.int64)
        out[: len(values)] = values[:size]
        return out

    def _pad_tokens(self, rows: list[list[int]]) -> np.ndarray:
        out = np.full((MEMORY_SLOTS, MEMORY_TOKENS), self.pad, dtype=np.int64)
        for i, row in enumerate(rows[:MEMORY_SLOTS]):
            out[i, : len(row)] = row[:MEMORY_TOKENS]
        return out

    # ------------------------------------------------------------ memory updates
    def memory_entry(self, verb: int, action: Any, obs: Observation) -> tuple[list[int], list[int]]:
        """(target text tokens, typed text tokens) of an executed action, for ``Memory.push``."""
        e = target_element(action, obs)
        target_ids = self.text.encode(_element_text(e))[0] if e is not None else []
        if e is not None and self.names:  # the names it wore elsewhere: "BT" is covered by clicking "블루투스"
            called = self.names.get(element_key(e))
            if called:
                target_ids = target_ids + [t for t in called if t not in target_ids]
        typed = self.text.encode(action.text[:MAX_TEXT_CHARS])[0] if isinstance(action, TypeText) else []
        return target_ids, typed


def image_array(image: Any) -> np.ndarray:
    """A screenshot as a small uint8 array (3, 64, 64); the aspect ratio is not kept (positions are normalized)."""
    from PIL import Image

    small = image.convert("RGB").resize((IMAGE_SIZE, IMAGE_SIZE), Image.BILINEAR, reducing_gap=2.0)
    return np.asarray(small, dtype=np.uint8).transpose(2, 0, 1).copy()


def collate(arrays: list[dict[str, np.ndarray]], pad: int) -> dict[str, "Any"]:
    """Pad a list of ``Features.arrays`` into one batch of tensors."""
    import torch

    b = len(arrays)
    n = max((a["el_tok"].shape[0] for a in arrays), default=0)
    t = max(a["goal_ids"].shape[0] for a in arrays)
    goal = np.full((b, t), pad, dtype=np.int64)
    touched = np.zeros((b, t), dtype=np.int64)
    quote = np.zeros((b, t), dtype=np.int64)
    named = np.zeros((b, t), dtype=np.int64)
    el_tok = np.full((b, n, ELEMENT_TOKENS), pad, dtype=np.int64)
    el_seg = np.zeros((b, n, ELEMENT_TOKENS), dtype=np.int64)
    el_role = np.zeros((b, n), dtype=np.int64)
    el_states = np.zeros((b, n, N_STATES), dtype=np.float32)
    el_box = np.zeros((b, n, N_BOX), dtype=np.float32)
    el_flags = np.zeros((b, n, N_TEXTFLAGS), dtype=np.float32)
    el_named = np.full((b, n, ECHO_TOKENS), pad, dtype=np.int64)
    el_linked = np.full((b, n, ECHO_TOKENS), pad, dtype=np.int64)
    el_mask = np.zeros((b, n), dtype=bool)
    has_image = np.zeros(b, dtype=bool)
    images = None
    if any("image" in a for a in arrays):
        images = np.zeros((b, 3, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    for i, a in enumerate(arrays):
        k = a["el_tok"].shape[0]
        goal[i, : a["goal_ids"].shape[0]] = a["goal_ids"]
        touched[i, : a["goal_ids"].shape[0]] = a["goal_touched"]
        if "goal_quote" in a:
            quote[i, : a["goal_ids"].shape[0]] = a["goal_quote"]
        if "goal_named" in a:
            named[i, : a["goal_ids"].shape[0]] = a["goal_named"]
        el_tok[i, :k], el_seg[i, :k], el_role[i, :k] = a["el_tok"], a["el_seg"], a["el_role"]
        el_states[i, :k], el_box[i, :k], el_flags[i, :k] = a["el_states"], a["el_box"], a["el_flags"]
        el_mask[i, :k] = True
        if "el_named" in a:  # arrays from before the goal echo lack them (nothing then echoes)
            el_named[i, :k], el_linked[i, :k] = a["el_named"], a["el_linked"]
        if "image" in a:
            images[i] = a["image"]
            has_image[i] = True
    batch = {
        "goal_ids": torch.from_numpy(goal), "goal_touched": torch.from_numpy(touched),
        "goal_quote": torch.from_numpy(quote), "goal_named": torch.from_numpy(named),
        "el_tok": torch.from_numpy(el_tok), "el_seg": torch.from_numpy(el_seg),
        "el_role": torch.from_numpy(el_role), "el_states": torch.from_numpy(el_states),
        "el_box": torch.from_numpy(el_box), "el_flags": torch.from_numpy(el_flags),
        "el_named": torch.from_numpy(el_named), "el_linked": torch.from_numpy(el_linked),
        "el_mask": torch.from_numpy(el_mask), "has_image": torch.from_numpy(has_image),
        "mem_verbs": torch.from_numpy(np.stack([a["mem_verbs"] for a in arrays]).astype(np.int64)),
        "mem_text": torch.from_numpy(np.stack([a["mem_text"] for a in arrays]).astype(np.int64)),
        "mem_typed": torch.from_numpy(np.stack([a["mem_typed"] for a in arrays]).astype(np.int64)),
        "mem_ok": torch.from_numpy(np.stack([a["mem_ok"] for a in arrays]).astype(np.int64)),
        "ctx": torch.from_numpy(np.stack([a["ctx"] for a in arrays]).astype(np.int64)),
        "app_match": torch.from_numpy(np.stack([a["app_match"] for a in arrays])),
    }
    if all("goal_bins" in a for a in arrays):
        batch["goal_bins"] = torch.from_numpy(np.stack([a["goal_bins"] for a in arrays]))
    if images is not None:
        batch["image"] = torch.from_numpy(images)
    return batch
