"""The app lexicon: which words each app shows, read off the seen templates before training.

A goal seldom says "open com.handa.contacts"; it says "Find Minji and call her" or "turn
on dark mode". Which app that is, is a fact about the apps' screens, not about the
templates' wordings: so before training, the experts of the seen templates are played
for a few seeds (train split only) and every token an app's screens show -- labels,
hints, descriptions, id words, never typed or user values -- of its *fixed controls* is
filed under that app, together with the launcher label that opened it and the package's own
name. A fixed control is an element with a platform id that was shown on at least two device
seeds and wore at most ``MAX_NAMES`` distinct labels (counting "Cart (2)" and "Cart (3)" as one): rows of user content (contacts, threads,
events, the calculator's display) wear a new label on every seed, and a contact's name in a
message thread must not say "messages". A token counts for an app only if it was shown on
at least two device seeds and has a letter or a sign such as "×" (numbers and ASCII marks say
nothing of the app that shows them), and weighs 1 / (number of apps showing it), so "save" says little and "bluetooth" says
settings.

The result is a (apps x vocabulary) matrix, saved with the model as a buffer; the app
head adds a weighted vote of the goal's tokens from it (see ``HandaModel.heads``). A
word a learned per-word vote never saw in a goal ("vibrate", only on a held-out
template) still votes for its app, because the settings screens show it.

The same scan also files *where elements lead* (the link lexicon, like the docs an
exploring agent writes about each control): the tokens a click or long press on an
element brought on screen, under the element's key (its app and platform id, or its
label when it has none). "Turn the volume to 15%" names no row of the settings list, but
the row that leads to "Media volume" is known; two element flags carry that (see
``model.features``). Kept: elements met in at least two episodes, and tokens they
revealed in at least two; each weighs 1 / (elements of its app that lead to it, counting id keys and label keys apart).
A switch or a box flips in place and leads nowhere (its "Off" must not make "turn X off" point at it),
and a token of digits or ASCII marks says nothing of a destination (the goal's "." or "2026"): both are
left out (``clean_links``).

And it files *what elements are called* (the name lexicon): every label an element with a
platform id wore across the scanned seeds. The sim draws labels from synonyms, so the
Bluetooth row was seen as "Bluetooth" and as "BT": a goal that says "BT" still names that
row when it reads "블루투스" today. Kept: ids shown on at least two device seeds that wore
at most ``MAX_NAMES`` distinct labels (rows of user content, whose labels are names and
dates, wear many), and of those the labels worn on at least two seeds (a contact row's id
wears a new name on each seed); each token weighs 1 / (ids of its app that wore it). A device
that shows no ids has only labels to go by, so a label worn by exactly one such id (on two
seeds or more) is filed as well, under the label's key, with that id's names: "Wireless" on a
phone without ids still goes by "WLAN".
"""
from __future__ import annotations

import re
from collections import defaultdict
from typing import Any, Iterable

import numpy as np

from model.features import MAX_TEXT_CHARS, SEGMENTS, TextCache, element_fields, element_key, label_key, loose, prune

# the element fields filed under an app: labels, hints, descriptions and id words -- not values
_VALUE = [name for name, _ in SEGMENTS].index("value")
MAX_NAMES = 4  # an id that wore more distinct labels than this shows content, not a fixed control
_DIGITS = re.compile(r"\d+")


def _shown_words(e: Any) -> list[str]:
    return [t[:MAX_TEXT_CHARS] for i, t in enumerate(element_fields(e)) if t and i != _VALUE]


def scan(tokenizer: Any, apps: list[str], templates: Iterable[str], seeds: int = 3, lowercase: bool = True,
         max_elements: int = 512, label_names: bool = True, clean_links: bool = True
         ) -> tuple[np.ndarray, dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """(app lexicon, link lexicon, name lexicon) from playing each template's expert for ``seeds`` seeds.

    The app lexicon is a (len(apps), vocabulary) matrix; the link and name lexicons map an element key
    to {token id (as text, for JSON): weight}. Deterministic: fixed seeds, forms taken in turn. Experts read
    the sim-only keys; nothing from the held-out split (templates, themes, synonyms) is ever played.
    ``label_names`` files the labels of named ids too (see the module docstring); off, the name lexicon
    holds id keys only, as in checkpoints made before it. ``clean_links`` keeps out of the link lexicon
    what a toggle reveals and tokens without a letter or sign (see the module docstring); off, as in
    checkpoints made before it.
    """
    from controllers.actions import Click, LongPress
    from controllers.sim.controller import SimController
    from tasks import load_all
    from tasks.base import make_instance
    from tasks.expert import ExpertPolicy

    registry = load_all()
    text = TextCache(tokenizer, lowercase=lowercase)
    index = {a: i for i, a in enumerate(apps)}
    launcher: set[tuple[int, int]] = set()  # (app, token) of the launcher labels that opened an app
    # (app, id key) -> token -> device seeds it was shown on; filed under the app only for fixed controls
    shown: dict[tuple[int, str], dict[int, set[int]]] = defaultdict(lambda: defaultdict(set))
    episode = 0
    revealed: dict[tuple[str, int], set[int]] = defaultdict(set)  # (element key, token) -> episodes
    met: dict[str, set[int]] = defaultdict(set)  # element key -> episodes it was clicked in
    # id key -> label -> device seeds it wore it on (a seed fixes a device's words and contents, whatever
    # the template), and id key -> seeds showing it
    labels: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    worn: dict[str, set[int]] = defaultdict(set)
    looks: dict[str, set[str]] = defaultdict(set)  # id key -> the distinct labels it wore ("" for none)
    # label key -> id key -> device seeds an element with that id wore that label: a device without ids shows
    # "Wireless" with nothing else to go by, and the name lexicon knows what the id that wore it was called
    aliases: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))

    def tokens_of(obs: Any) -> set[int]:
        out: set[int] = set()
        for e in prune(obs.elements, obs.screen.width, obs.screen.height, max_elements):
            for ids, _ in text.encode_many(_shown_words(e)):
                out.update(ids)
        return out

    lettered: dict[int, bool] = {}  # token -> whether its text has a letter or a sign

    def says_something(t: int) -> bool:
        if t not in lettered:
            lettered[t] = _says_something(tokenizer.decode([t]))
        return lettered[t]

    def file(app_i: int, key: str, strings: list[str], seed: int) -> None:
        for string, (ids, offsets) in zip(strings, text.encode_many(strings)):
            for t, (a, b) in zip(ids, offsets):
                if _says_something(string[a:b]):  # "18" on a day button says nothing of calendars; "×" does
                    shown[(app_i, key)][t].add(seed)

    for template_id in sorted(templates):
        template = registry[template_id]
        for s in range(seeds):
            episode += 1
            inst = make_instance(template_id, seed=s, form=template.forms[s % len(template.forms)], split="train")
            controller = SimController(inst.device)
            expert = ExpertPolicy(inst)
            expert.reset(inst.goal)
            obs = controller.observe()
            for _ in range(template.steps_hint * 3 + 6):
                for e in prune(obs.elements, obs.screen.width, obs.screen.height, max_elements):
                    key, label = element_key(e), (e.name or e.description or e.hint)[:MAX_TEXT_CHARS]
                    if "|~" in key:
                        continue  # no id: no telling a fixed control from content
                    if e.app in index:
                        file(index[e.app], key, _shown_words(e), s)
                    looks[key].add(_DIGITS.sub("#", label))  # "Cart (2)" and "Cart (3)" are one look
                    if label:
                        labels[key][label].add(s)
                        if loose(e.name or e.description):
                            aliases[label_key(e)][key].add(s)
                    worn[key].add(s)
                try:
                    action = expert.decide(inst.goal, obs, []).action
                except Exception:  # an expert that cannot go on here: what was seen so far counts
                    break
                if action is None or action.type in ("done", "answer", "fail"):
                    break
                before = obs
                controller.execute(action)
                obs = controller.observe()
                if isinstance(action, (Click, LongPress)) and getattr(action.target, "id", None) is not None:
                    clicked = before.element(action.target.id)
                    # a switch or a box flips in place, it leads nowhere: "Wi-Fi" must not lead to "off"
                    if clicked is not None and not (clean_links and clicked.states.checked is not None):
                        key = element_key(clicked)
                        met[key].add(episode)
                        for t in tokens_of(obs) - tokens_of(before):
                            if not clean_links or says_something(t):
                                revealed[(key, t)].add(episode)
                # the launcher (or desktop) label that opened an app names that app
                if isinstance(action, Click) and obs.app != before.app and obs.app in index:
                    target = getattr(action.target, "id", None)
                    element = before.element(target) if target is not None else None
                    if element is not None:
                        for ids, _ in text.encode_many(_shown_words(element)):
                            launcher.update((index[obs.app], t) for t in ids)
    lexicon = np.zeros((len(apps), len(tokenizer)), dtype=np.float32)
    for (app_i, key), tokens in shown.items():
        if len(worn[key]) >= 2 and len(looks[key]) <= MAX_NAMES:  # a fixed control
            for token, seen in tokens.items():
                if len(seen) >= 2:
                    lexicon[app_i, token] = 1.0
    for app_i, token in launcher:
        lexicon[app_i, token] = 1.0
    for app_i, package in enumerate(apps):  # the package's own name: "com.handa.contacts" -> contacts
        for ids, _ in text.encode_many([package.rsplit(".", 1)[-1]]):
            lexicon[app_i, ids] = 1.0
    shared = lexicon.sum(0, keepdims=True)
    lexicon = np.where(lexicon > 0, lexicon / np.maximum(shared, 1.0), 0.0).astype(np.float32)
    # links: kept when met twice and revealed twice; weight 1 / (keys of the same app and kind leading to the
    # token). Kinds: id keys, label keys -- a device shows ids on every element or on none, so the Sound row
    # keyed by its id does not compete with the same row keyed by its labels on seeds without ids
    kept = [(key, t) for (key, t), eps in revealed.items() if len(eps) >= 2 and len(met[key]) >= 2]
    leading: dict[tuple[str, int], int] = defaultdict(int)
    for key, t in kept:
        leading[(_group(key), t)] += 1
    links: dict[str, dict[str, float]] = {}
    for key, t in sorted(kept):
        links.setdefault(key, {})[str(t)] = round(1.0 / leading[(_group(key), t)], 3)
    return lexicon, links, _names(text, labels, worn, aliases if label_names else {})


def _says_something(piece: str) -> bool:
    """A token's text has a letter or a sign such as "×" or "★" (not only digits, spaces, ASCII marks)."""
    return any(ch.isalpha() or ord(ch) > 127 and not ch.isspace() and not ch.isdigit() for ch in piece)


def _group(key: str) -> str:
    """The app of an element key, and whether the key is its id or its label."""
    app, rest = key.split("|", 1)
    return f"{app}|{'label' if rest.startswith('~') else 'id'}"


def _names(text: TextCache, labels: dict[str, dict[str, set[int]]], worn: dict[str, set[int]],
           aliases: dict[str, dict[str, set[int]]]) -> dict[str, dict[str, float]]:
    """The name lexicon: id key -> {token: 1 / (ids of the same app that wore the token)}; and label key ->
    the entry of the one id with names that wore that label, on at least two seeds (a label worn by several
    such ids names none of them)."""
    tokens: dict[str, set[int]] = {}
    for key in sorted(labels):
        recurring = sorted(label for label, seeds in labels[key].items() if len(seeds) >= 2)
        if len(worn[key]) >= 2 and len(labels[key]) <= MAX_NAMES and recurring:
            tokens[key] = {t for ids, _ in text.encode_many(recurring) for t in ids}
    sharing: dict[tuple[str, int], int] = defaultdict(int)
    for key, ids in tokens.items():
        for t in ids:
            sharing[(key.split("|", 1)[0], t)] += 1
    out = {key: {str(t): round(1.0 / sharing[(key.split("|", 1)[0], t)], 3) for t in sorted(ids)}
           for key, ids in tokens.items()}
    for alias in sorted(aliases):  # ids of content (a row's "label" text) wear it too, but have no names
        wearers = [key for key in aliases[alias] if key in out]
        if len(wearers) == 1 and len(aliases[alias][wearers[0]]) >= 2:
            out[alias] = out[wearers[0]]
    return out
