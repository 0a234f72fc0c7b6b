"""Train the in-house model from the sim's experts, DAgger-style.

Demonstrations are generated on the fly: a seen template, a fresh seed, a
random phone or desktop look. Early on the expert drives (behaviour cloning,
with a few random perturbations so recovery states are seen); then the model
itself drives more and more of each episode while the expert labels every
state it reaches (DAgger), so the states the model's own mistakes lead to are
in the data. Experts read the sim-only keys; the model's features never do.

Runs as one process, or unchanged under ``torchrun --nproc_per_node N``
(DDP over gloo): each rank generates its own episodes, gradients are averaged.
A run is deterministic for a seed and a number of ranks as long as it completes
its step schedule (``--minutes`` is a wall-clock cap that stops early).
"""
from __future__ import annotations

import json
import os
import random
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch

from controllers.actions import Click, Direction, ElementTarget, Scroll, System, SystemButton
from controllers.policy import HistoryEntry
from model.atomic import AtomicExpert, Part, heldout_only_keys, instruction
from model.codec import CodecError, Target, encode, verb_of
from model.features import SEGMENTS, Featurizer, Memory, collate, element_key
from model.lexicon import scan
from model.policy import Tried
from model.splits import seen_templates

SCALES = (0.75, 1.0, 1.0, 1.0, 1.25, 1.5, 2.0)
# words around a goal that change nothing: people phrase requests freely, and a model that keys on a
# template's exact wording would not follow a new one
GOAL_PREFIXES = ("Please ", "Can you ", "Hey, ", "Quick one: ", "I'd like you to ", "부탁해: ", "Task: ")
GOAL_SUFFIXES = (" please", ", thanks", " now", ".", " 부탁해", " for me", "!")


def augment_goal(goal: str, rng: random.Random, rate: float) -> str:
    """The goal, sometimes wrapped in filler words (never changing the words a task types or answers)."""
    if rng.random() >= rate:
        return goal
    r = rng.random()
    if r < 0.4:
        return rng.choice(GOAL_PREFIXES) + goal
    base = goal[:-1] if goal.endswith(".") else goal  # only a full stop goes: "!" may belong to a typed text
    if r < 0.8:
        return base + rng.choice(GOAL_SUFFIXES)
    return rng.choice(GOAL_PREFIXES) + base + rng.choice(GOAL_SUFFIXES)


@dataclass
class TrainConfig:
    steps: int = 3800
    batch_size: int = 48           # global: split across ranks under torchrun
    lr: float = 2e-3
    weight_decay: float = 0.01
    warmup: int = 200
    seed: int = 0
    minutes: Optional[float] = None
    bc_fraction: float = 0.2       # the first part of the schedule: the expert drives every roll-in
    learner_final: float = 0.5     # chance the model drives a step at the end of the schedule
    perturb: float = 0.04          # random actions during roll-ins, to visit recovery states
    image_rate: float = 0.3        # samples that carry a screenshot
    screenshot_only_rate: float = 0.06  # episodes with the tree removed (point targets on a grid)
    goal_augment: float = 0.3      # episodes whose goal is wrapped in filler words
    word_noise: float = 0.2        # episodes where some goal tokens are swapped for random ones (robust to
    word_noise_rate: float = 0.12  # words never seen in training, such as a held-out setting's name)
    name_noise: float = 0.0        # episodes where the goal's words that name the app's controls read as
                                   # unknown tokens while the match cues stay (see NameNoise); off by default:
                                   # two time-capped runs with 0.25 (and ema) were not better than the shipped one
    recolor: float = 0.5           # episodes whose screenshots get their colour channels shuffled or inverted
    relabel: float = 0.25          # episodes where some controls wear made-up labels (as a held-out synonym
    relabel_rate: float = 0.5      # would): the share of labelled controls with an id that get one
    decoy_rate: float = 0.3        # of those, the share that wear a word of the goal instead (see Relabel)
    buffer: int = 150_000
    length_buckets: int = 2        # > 1: batches of samples of similar length (see _Member.draw): less
                                   # padding, more steps in a capped run; 1: one uniform draw
    samples_per_step: int = 12     # fresh samples generated per update (per rank)
    d_model: int = 128
    n_layer: int = 3
    n_head: int = 4
    d_ff: int = 256
    save_every: int = 500          # also save along the way (rank 0), so a stopped run leaves a checkpoint
    threads: int = 0               # 0: torch's default (one per core, split between ranks)
    lexicon_seeds: int = 12        # expert episodes per seen template scanned for the lexicons (seeds 3, 7, 11 hide ids)
    lowercase: bool = True         # the model reads texts lower-cased (tokenizer, features)
    bf16: bool = True              # bfloat16 matmuls in the training forward pass where the CPU has bfloat16
                                   # instructions (``fast_bf16``; ~1.5x faster there, float32 elsewhere);
                                   # weights, optimizer and inference stay float32
    named_goal: bool = False       # the goal tokens read which of them the screen names through the lexicons
    label_names: bool = False      # the name lexicon also files labels (for devices that show no ids)
    clean_links: bool = False      # the link lexicon leaves out toggles and tokens without a letter (lexicon.py)
    shared_swap: float = 0.0       # episodes (without made-up labels) where a goal word that names a control
                                   # becomes a made-up word in the goal and on screen alike (see SharedSwap)
    identity_bound: float = 0.0    # > 0: bound what an element's learned vector adds to its target score and
                                   # add an identity-free scorer (HandaConfig.identity_bound), so match cues can
                                   # overrule a learned "never the target"; off: capped runs were not better
    id_noise: float = 0.0          # episodes where the controls' ids read as unknown tokens (see IdNoise);
                                   # off: a capped run with it was not better
    dropout: float = 0.0           # residual dropout in the transformer blocks (HandaConfig.dropout); off:
                                   # a capped run with 0.1 was not better
    members: int = 1               # > 1: train that many networks apart (own seeds, own episodes) and save
                                   # them as one HandaEnsemble that averages their decisions; 1: within one
                                   # budget, members with half the batch each lost more than averaging won
    share_episodes: bool = False   # with members > 1: every process's fresh samples (of every member's
                                   # roll-ins) go into every member's buffer, so members differ by their
                                   # initial weights and batches but each sees all the data generated; off:
                                   # 2 members so trained drew level with one network, not past it (README)
    ema: float = 0.0               # > 0 (e.g. 0.998): save an exponential moving average of the weights
                                   # instead of the last step's (0, the default, as the shipped checkpoint)
    atomic: float = 0.0            # episodes whose goal is an instruction naming controls on a screen that a
                                   # seen template's expert reached ("Turn Wi-Fi off", model/atomic.py); off:
                                   # capped runs with 0.25 and 0.3 were not better (README)
    atomic_swap: float = 0.3       # of those, the share where the named controls' words become made-up words
                                   # in the goal and on screen alike (SharedSwap)
    goal_echo: bool = True         # every element hears the goal's contextual vectors at the words that name
                                   # it (its own, its lexicon names, where it leads; HandaModel.echo_maps);
                                   # the shipped checkpoint has it


class WeightAverage:
    """An exponential moving average of a model's weights, kept in a second copy of the model.

    Early on the average follows the weights closely (the decay ramps up as ``(1 + n) / (10 + n)``), so a
    short run still saves a trained model. Buffers (the app lexicon) are fixed before training starts, so the
    copy made here keeps them."""

    def __init__(self, model: torch.nn.Module, decay: float):
        import copy

        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        self.model.requires_grad_(False)
        self.updates = 0

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for mine, theirs in zip(self.model.parameters(), model.parameters()):
            mine.lerp_(theirs.detach(), 1.0 - d)


def fast_bf16() -> bool:
    """Whether this CPU has bfloat16 instructions (AVX512-BF16 or AMX). Without them torch emulates
    bfloat16 matmuls, measured ~45x slower than float32 on an AVX2-only CPU; with them ~1.5x faster."""
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)


def _ddp() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("gloo")
    rank = torch.distributed.get_rank() if world > 1 else 0
    return rank, world


def recolor_fn(rng: random.Random) -> Callable[[np.ndarray], np.ndarray]:
    """A colour change for one episode's screenshots: themes the model never saw must not look foreign."""
    order = rng.sample(range(3), 3)
    invert = rng.random() < 0.4

    def apply(image: np.ndarray) -> np.ndarray:
        out = image[order]
        return (255 - out) if invert else np.ascontiguousarray(out)

    return apply


_LATIN = ("ba", "ko", "ri", "sen", "tu", "ve", "lo", "ma", "quin", "dra", "fe", "zo", "pil", "nu", "gar", "shi")


def made_up_word(rng: random.Random) -> str:
    """A label no screen shows: Latin syllables or Hangul syllables (1-2 words)."""
    def word() -> str:
        if rng.random() < 0.5:
            return "".join(rng.choice(_LATIN) for _ in range(rng.randint(2, 3))).capitalize()
        return "".join(chr(0xAC00 + rng.randrange(11172)) for _ in range(rng.randint(2, 3)))
    return word() if rng.random() < 0.7 else f"{word()} {word()}"


def goal_words(goal: str) -> list[str]:
    """The goal's own words outside its quotes: letters only, three or more (two in Hangul: "note", "메모")."""
    from model.quotes import quoted_spans

    text = goal
    for a, b in reversed(quoted_spans(goal)):
        text = text[:a] + " " * (b - a) + text[b:]
    return sorted({w for w in re.findall(r"[^\W\d_]{2,}", text) if len(w) >= 3 or not w.isascii()})


class Relabel:
    """One episode's made-up labels: each labelled control with a platform id keeps its real label or, with
    ``rate``, wears a made-up one -- the same one all episode, as a label synonym training never showed
    would. Ids stay, so the model learns to follow the id and the name lexicon when the label is unknown.
    With ``names`` (the name lexicon) only the controls it knows are renamed: a contact's row keeps its name,
    as nothing else would tell which contact it is.

    With ``decoys`` (the goal's words, ``goal_words``), a ``decoy_rate`` share of the renamed controls wear
    one of them instead: a held-out look may call the body field of a note "Note" while the goal says "the
    note", and only the field's value and id tell that the title field is the one to rename. A label that
    happens to be a goal word must not outweigh everything else."""

    def __init__(self, rng: random.Random, rate: float, names: Optional[dict] = None,
                 decoys: tuple[str, ...] = (), decoy_rate: float = 0.0):
        self.rng, self.rate = rng, rate
        self.names = names  # when given, only controls the name lexicon knows (not rows of user content)
        self.decoys, self.decoy_rate = list(decoys), decoy_rate
        self.labels: dict[str, str] = {}

    def _new_label(self) -> str:
        if self.decoys and self.rng.random() < self.decoy_rate:
            return self.rng.choice(self.decoys).capitalize()
        return made_up_word(self.rng)

    def __call__(self, obs: Any) -> Any:
        changed = []
        for e in obs.elements:
            s = e.states
            control = e.name and e.attrs.get("resource-id") and (s.clickable or s.checked is not None)
            if control and (self.names is None or element_key(e) in self.names):  # the key only when needed
                if e.name not in self.labels:
                    self.labels[e.name] = self._new_label() if self.rng.random() < self.rate else e.name
                if self.labels[e.name] != e.name:
                    e = e.model_copy(update={"name": self.labels[e.name]})
            changed.append(e)
        return obs.model_copy(update={"elements": changed})


def noise_tokens(ids: np.ndarray, rng: random.Random, rate: float, vocab: int) -> np.ndarray:
    """Goal token ids with a few swapped for random ones (specials kept: the first ids are <pad>, <unk>, <sep>)."""
    out = ids.copy()
    for i in range(len(out)):
        if rng.random() < rate:
            out[i] = rng.randrange(3, vocab)
    return out


class NameNoise:
    """One episode's stand-ins for the goal's words that name a control: each such token (outside quotes)
    becomes one random token, the same all episode. The cues computed from the real goal (exact and loose
    matches, the name and link lexicons) stay as they are, so the model learns to follow them when a goal
    names a control in words it never read in a goal -- as "Switch BT on" is for a held-out template --
    instead of keying on the words of the templates it trained on. Only inside an app: which app to open
    is the app lexicon's vote over the real words."""

    def __init__(self, rng: random.Random, vocab: int):
        self.rng, self.vocab = rng, vocab
        self.stand_ins: dict[int, int] = {}

    def __call__(self, ids: np.ndarray, quote: np.ndarray, named: set[int]) -> np.ndarray:
        out = ids.copy()
        for i, t in enumerate(ids.tolist()):
            if t in named and (i >= len(quote) or quote[i] == 0):
                if t not in self.stand_ins:
                    self.stand_ins[t] = self.rng.randrange(3, self.vocab)
                out[i] = self.stand_ins[t]
        return out


_RID_SEGMENT = [name for name, _ in SEGMENTS].index("rid") + 1  # as el_seg numbers it (0: padding)


class IdNoise:
    """One episode's stand-ins for the tokens of the controls' platform ids (``resource-id``): each becomes one
    random token, the same all episode. What the ids feed elsewhere stays (the name and link lexicons and the
    id's loose match with the goal are read from the real tree), so the model learns to rank controls by
    those cues and by how the goal matches their labels rather than by remembering which ids training clicked
    -- a control that only ever was a distractor (the Bluetooth switch, when toggling it is a held-out task)
    otherwise carries a "never the target" prior in its id."""

    def __init__(self, rng: random.Random, vocab: int):
        self.rng, self.vocab = rng, vocab
        self.stand_ins: dict[int, int] = {}

    def __call__(self, el_tok: np.ndarray, el_seg: np.ndarray) -> np.ndarray:
        out = el_tok.copy()
        where = np.nonzero(el_seg == _RID_SEGMENT)
        for i, j in zip(*where):
            t = int(el_tok[i, j])
            if t not in self.stand_ins:
                self.stand_ins[t] = self.rng.randrange(3, self.vocab)
            out[i, j] = self.stand_ins[t]
        return out


def _flat(values: Any) -> str:
    """Every string inside ``values`` (a task's params: dicts, lists, numbers), joined."""
    if isinstance(values, dict):
        return " ".join(_flat(v) for v in values.values())
    if isinstance(values, (list, tuple, set)):
        return " ".join(_flat(v) for v in values)
    return str(values) if values is not None else ""


class SharedSwap:
    """One episode's made-up word for each goal word that names a control, in the goal and on screen alike:
    "Turn on Bluetooth" reads "Turn on Korisen" and the switch says "Korisen" too, as a held-out look's
    synonym that its goal also uses ("Please turn 블루투스 off" on a screen that says 블루투스). No lexicon
    knows the word, so only the match of goal and screen tells which control it is: the model learns to
    follow that match, not only the lexicons or the controls training clicked most. Quoted parts of the
    goal stay, and so do the words of the task's ``values`` (its params: text to type, names to find); ids and
    values on screen stay too. ``names``: the words that name controls (lower case)."""

    def __init__(self, rng: random.Random, goal: str, names: set[str], values: Any = ()):
        # never a word of the task's own values (what gets typed, searched or answered: "Call me when
        # you're free" is copied from the goal as it is), only of the wording around them
        kept = {w.casefold() for w in re.findall(r"\w+", _flat(values))}
        chosen = sorted(({w.casefold() for w in goal_words(goal)} & names) - kept, key=len, reverse=True)
        self.words = {w: made_up_word(rng) for w in chosen}
        self.pattern = (re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, chosen)) + r")(?!\w)", re.IGNORECASE)
                        if chosen else None)

    def __bool__(self) -> bool:
        return self.pattern is not None

    def text(self, text: str) -> str:
        if self.pattern is None or not text:
            return text
        return self.pattern.sub(lambda m: self.words.get(m.group(0).casefold(), m.group(0)), text)

    def goal(self, goal: str) -> str:
        from model.quotes import quoted_spans

        out, last = [], 0
        for a, b in quoted_spans(goal):
            out += [self.text(goal[last:a]), goal[a:b]]
            last = b
        return "".join(out + [self.text(goal[last:])])

    def __call__(self, obs: Any) -> Any:
        shown = []
        for e in obs.elements:  # copied only where a text changes: this runs on every training step
            texts = {"name": self.text(e.name), "description": self.text(e.description), "hint": self.text(e.hint)}
            changed = texts != {"name": e.name, "description": e.description, "hint": e.hint}
            shown.append(e.model_copy(update=texts) if changed else e)
        return obs.model_copy(update={"elements": shown})


def control_words(featurizer: Featurizer) -> set[str]:
    """The words (lower case) of the labels the name lexicon knows controls by, for ``SharedSwap``."""
    tokens = {t for entry in featurizer.names.values() for t in entry}
    words: set[str] = set()
    for t in tokens:
        word = featurizer.tokenizer.decode([t]).strip().casefold()
        if re.fullmatch(r"[^\W\d_]+", word) and (len(word) >= 3 or not word.isascii()):
            words.add(word)
    return words


class Collector:
    """Plays episodes on the sim and returns labelled samples."""

    def __init__(self, featurizer: Featurizer, apps: list[str], cfg: TrainConfig, rng: random.Random,
                 templates: list[str]):
        from tasks import load_all

        self.registry = load_all()
        self.featurizer = featurizer
        self.apps = apps
        self.cfg = cfg
        self.rng = rng
        self.templates = templates
        # per app: the tokens its controls were called by (the name lexicon), for NameNoise when it is on
        self.named: dict[str, set[int]] = {}
        for key, tokens in (featurizer.names.items() if cfg.name_noise > 0 else ()):
            self.named.setdefault(key.split("|", 1)[0], set()).update(tokens)
        self.control_words = control_words(featurizer) if cfg.shared_swap > 0 else set()
        self.excluded = heldout_only_keys() if cfg.atomic > 0 else frozenset()  # never named by an instruction
        self.misses = 0
        self.expert_errors = 0
        self.samples = 0
        self.episodes = 0

    def _perturbation(self, obs: Any) -> Any:
        rng = self.rng
        clickable = [e for e in obs.elements if e.states.clickable and e.states.enabled]
        r = rng.random()
        if clickable and r < 0.6:
            return Click(target=ElementTarget(id=rng.choice(clickable).id))
        if r < 0.8:
            bodies = [e for e in obs.elements if e.states.scrollable]
            return Scroll(direction=Direction(rng.choice(["up", "down"])), amount=0.6,
                          target=ElementTarget(id=rng.choice(bodies).id) if bodies else None)
        return System(button=SystemButton.back)

    def _instruction(self, inst: Any, controller: Any, expert: Any) -> Optional[tuple[str, list[Part]]]:
        """Play the template's expert part of the way (no samples), then an instruction for that screen."""
        rng = self.rng
        history: list[HistoryEntry] = []
        for step in range(rng.randint(0, inst.template.steps_hint)):
            obs = controller.observe()
            try:
                action = expert.decide(inst.goal, obs, history).action
            except Exception:
                return None
            if action is None or action.type in ("done", "answer"):
                break
            result = controller.execute(action)
            history.append(HistoryEntry(step=step, action=action, ok=result.ok, error=result.error))
        return instruction(controller.observe(), rng, self.excluded)

    def episode(self, runner: Optional[Any], learner_rate: float) -> list[tuple[dict, dict]]:
        from controllers.sim.controller import SimController
        from tasks.base import make_instance
        from tasks.expert import ExpertPolicy

        rng, cfg = self.rng, self.cfg
        atomic = cfg.atomic > 0 and rng.random() < cfg.atomic  # drawn only when on, as name noise below
        template_id = rng.choice(self.templates)
        template = self.registry[template_id]
        inst = make_instance(template_id, seed=rng.randrange(1 << 30), form=rng.choice(template.forms),
                             split="train", scale=rng.choice(SCALES))
        controller = SimController(inst.device)  # keys exposed: the expert reads them, the features do not
        expert = ExpertPolicy(inst)
        expert.reset(inst.goal)
        task_goal, limit = inst.goal, template.steps_hint * 3 + 6
        parts: list[Part] = []
        if atomic:
            made = self._instruction(inst, controller, expert)
            if made is None:
                self.episodes += 1
                return []
            task_goal, parts = made
            expert = AtomicExpert(parts, seed=inst.seed)
            limit = 2 * len(parts) + 3
        memory = Memory()
        history: list[HistoryEntry] = []
        screenshot_only = rng.random() < cfg.screenshot_only_rate
        goal = augment_goal(task_goal, rng, cfg.goal_augment)
        recolor = recolor_fn(rng) if rng.random() < cfg.recolor else None
        noisy = rng.random() < cfg.word_noise
        # drawn only when on, so a run without it plays exactly the episodes it did before it existed
        renamed = (NameNoise(rng, len(self.featurizer.tokenizer))
                   if cfg.name_noise > 0 and rng.random() < cfg.name_noise else None)
        relabel = (Relabel(rng, cfg.relabel_rate, self.featurizer.names, goal_words(inst.goal), cfg.decoy_rate)
                   if rng.random() < cfg.relabel else None)
        if atomic:  # an instruction names controls by their labels: made-up ones would hide them
            relabel = None
        ids = (IdNoise(rng, len(self.featurizer.tokenizer))  # drawn only when on (as name noise)
               if cfg.id_noise > 0 and rng.random() < cfg.id_noise else None)
        swap = None  # drawn only when on (as name noise)
        if atomic:
            if rng.random() < cfg.atomic_swap:
                # only words shown on screen: an id's words stay what the goal says (SharedSwap keeps ids)
                named = {w.casefold() for p in parts if not p.by_id for w in goal_words(p.referent)}
                swap = SharedSwap(rng, task_goal, named, [p.text for p in parts]) or None
        elif cfg.shared_swap > 0 and relabel is None and rng.random() < cfg.shared_swap:
            swap = SharedSwap(rng, inst.goal, self.control_words, inst.params) or None
        if swap is not None:
            goal = swap.goal(goal)
        out = []
        tried = Tried()
        pending = None  # the last action, folded into the memory once its effect is seen (as the policy does)
        for step in range(limit):
            obs = controller.observe()
            fp = obs.fingerprint()
            if pending is not None:
                verb, target_ids, typed, ok, before = pending
                memory.push(verb, target_ids, typed, ok, changed=fp != before)
                pending = None
            try:
                label = expert.decide(task_goal, obs, history).action
                if label is None:
                    raise ValueError("the expert gave no action")
            except Exception:  # an expert bug in a state only a learner reaches: keep what came before
                self.expert_errors += not atomic  # an instruction's control gone (the learner left): no bug
                break
            shown = relabel(obs) if relabel is not None else obs  # what the model reads of the tree
            if swap is not None:
                shown = swap(shown)
            seen = obs.model_copy(update={"elements": []}) if screenshot_only else shown
            with_image = screenshot_only or rng.random() < cfg.image_rate
            feats = self.featurizer(goal, seen, memory, with_image=with_image)
            if recolor is not None and "image" in feats.arrays:
                feats.arrays["image"] = recolor(feats.arrays["image"])
            if noisy:
                feats.arrays["goal_ids"] = noise_tokens(feats.arrays["goal_ids"], rng, cfg.word_noise_rate,
                                                        len(self.featurizer.tokenizer))
            if ids is not None:
                feats.arrays["el_tok"] = ids(feats.arrays["el_tok"], feats.arrays["el_seg"])
            if renamed is not None and obs.app in self.named:
                feats.arrays["goal_ids"] = renamed(feats.arrays["goal_ids"], feats.arrays["goal_quote"],
                                                   self.named[obs.app])
            try:
                target = encode(label, obs, feats, screenshot_only=screenshot_only, apps=self.apps)
                out.append((feats.arrays, target.as_dict()))
            except CodecError:
                self.misses += 1
            r = rng.random()
            by_model = False
            if r < cfg.perturb and obs.elements:
                action = self._perturbation(obs)
            elif runner is not None and r < cfg.perturb + learner_rate:
                try:
                    action = runner.act(goal, seen, memory, with_image=with_image, tried=tried.get(fp), feats=feats)[0]
                    by_model = True
                except Exception:  # whatever the half-trained model emits, the episode goes on
                    action = label
            else:
                action = label
            if action.type in ("done", "answer"):
                break
            result = controller.execute(action)
            history.append(HistoryEntry(step=step, action=action, ok=result.ok, error=result.error))
            target_ids, typed = self.featurizer.memory_entry(verb_of(action), action, shown)
            if by_model:  # as in use: the policy remembers what it tried itself on each screen
                tried.add(fp, action)
            pending = (verb_of(action), target_ids, typed, result.ok, fp)
        self.samples += len(out)
        self.episodes += 1
        return out


def compact(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A buffered sample's integer arrays as int16 where the values fit (token ids, segments, roles): the
    buffer holds tens of thousands of samples. ``collate`` widens them again."""
    out = {}
    for key, a in arrays.items():
        if a.dtype == np.int64 and (a.size == 0 or (int(a.min()) >= -32768 and int(a.max()) <= 32767)):
            a = a.astype(np.int16)
        out[key] = a
    return out


def _labels(targets: list[dict]) -> dict[str, torch.Tensor]:
    out = {}
    for key in Target.__dataclass_fields__:
        values = [t[key] for t in targets]
        dtype = torch.float32 if key in ("cell_dx", "cell_dy") else torch.int64
        out[key] = torch.tensor(values, dtype=dtype)
    return out


def build_tokenizer(out: Path, seed: int, lowercase: bool = True) -> Any:
    from model.tokenizer import build, load

    if (out / "tokenizer.json").is_file():
        return load(out)
    return build(out, seed=seed, lowercase=lowercase)


class _Member:
    """One ensemble member's training on this process: its network, optimizer, roll-ins and replay buffer."""

    def __init__(self, index: int, model: torch.nn.Module, cfg: TrainConfig, featurizer: Featurizer,
                 apps: list[str], rng: random.Random, tokenizer: Any, ddp: bool, group: Any = None):
        from model.policy import Runner

        self.index, self.model, self.cfg, self.rng = index, model, cfg, rng
        model.train()
        self.average = WeightAverage(model, cfg.ema) if cfg.ema > 0 else None  # before DDP wraps the model
        self.saved = self.average.model if self.average is not None else model  # what the checkpoint holds
        self.net = (torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=True, process_group=group)
                    if ddp else model)
        self.opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay,
                                     betas=(0.9, 0.98))
        self.collector = Collector(featurizer, apps, cfg, rng, seen_templates())
        self.runner = Runner(model, tokenizer)
        self.pad = tokenizer.pad_token_id
        self.buffer: list[tuple[dict, dict]] = []
        self.cursor = 0
        self.losses: dict[str, float] = {}

    def add(self, samples: list[tuple[dict, dict]]) -> None:
        for s in samples:
            s = (compact(s[0]), s[1])
            if len(self.buffer) < self.cfg.buffer:
                self.buffer.append(s)
            else:
                self.buffer[self.cursor] = s
                self.cursor = (self.cursor + 1) % self.cfg.buffer

    def collect(self, learner_rate: float) -> list[tuple[dict, dict]]:
        """Fresh samples from new episodes (the model drives ``learner_rate`` of the steps), compacted."""
        fresh: list[tuple[dict, dict]] = []
        counted = 0  # an episode that yields no sample counts as one, so the loop always ends
        while counted < self.cfg.samples_per_step:
            samples = self.collector.episode(self.runner if learner_rate > 0 else None, learner_rate)
            fresh += [(compact(a), t) for a, t in samples]
            counted += max(1, len(samples))
        return fresh

    def step(self, batch_size: int, lr: float, learner_rate: float, use_bf16: bool) -> float:
        """Play fresh episodes (the model drives ``learner_rate`` of the steps), then one update; the loss."""
        self.add(self.collect(learner_rate))
        return self.update(batch_size, lr, use_bf16)

    def draw(self, batch_size: int) -> list[tuple[dict, dict]]:
        """A batch from the replay buffer, uniformly at random. With ``length_buckets`` k > 1: k batches' worth
        drawn, sorted by sequence length (goal tokens + elements) and one of the k slices taken, so a batch pads
        to a length its samples nearly share (padding measured 1.58x the real tokens of a random batch of 24,
        1.16x with k = 4) while every sample is still as likely to be drawn."""
        k = max(1, self.cfg.length_buckets)
        pool = [self.buffer[self.rng.randrange(len(self.buffer))] for _ in range(batch_size * k)]
        if k == 1:
            return pool
        pool.sort(key=lambda s: s[0]["goal_ids"].shape[0] + s[0]["el_role"].shape[0])
        part = self.rng.randrange(k)
        return pool[part * batch_size:(part + 1) * batch_size]

    def update(self, batch_size: int, lr: float, use_bf16: bool) -> float:
        """One optimizer step on a batch drawn from the replay buffer; the loss."""
        items = self.draw(batch_size)
        batch = collate([a for a, _ in items], self.pad)
        labels = _labels([t for _, t in items])
        for group in self.opt.param_groups:
            group["lr"] = lr
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
            result = self.net(labels=labels, **batch)
        self.opt.zero_grad(set_to_none=True)
        result["loss"].backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        if self.average is not None:
            self.average.update(self.model)
        for k, v in result["losses"].items():
            self.losses[k] = 0.98 * self.losses.get(k, v) + 0.02 * v
        return float(result["loss"].detach())


def _shared_step(trainers: list[_Member], world: int, batch_size: int, lr: float, learner_rate: float,
                 use_bf16: bool) -> float:
    """One step with pooled episodes: each member on this process plays its share, the samples of every
    process are gathered (in rank order, so a run stays deterministic), and every member adds them all
    to its buffer before its own update. The first member's loss."""
    fresh = [s for t in trainers for s in t.collect(learner_rate)]
    if world > 1:
        parts: list[Any] = [None] * world
        torch.distributed.all_gather_object(parts, fresh)
        fresh = [s for part in parts for s in part]
    for t in trainers:
        t.add(fresh)
    return [t.update(batch_size, lr, use_bf16) for t in trainers][0]


def _members_of(rank: int, world: int, members: int) -> tuple[list[int], int]:
    """Which members this process trains, and how many processes share each member (DDP among them).

    More processes than members: each member gets ``world // members`` of them (rank r trains member
    r % members). Fewer: each process trains ``members // world`` or so of the members, one after the other."""
    if world >= members:
        if world % members:
            raise ValueError(f"{world} processes cannot be shared evenly by {members} ensemble members")
        return [rank % members], world // members
    return [m for m in range(members) if m % world == rank], 1


def _gather_ensemble(saved: dict[int, torch.nn.Module], config: Any, rank: int, world: int) -> Optional[Any]:
    """The ensemble of every member's weights, on rank 0 (None elsewhere). Every rank must call this: the
    members trained elsewhere come over as broadcasts from the first process that trains them."""
    from model.modeling_handa import HandaEnsemble

    ensemble = HandaEnsemble(config) if rank == 0 else None
    template = next(iter(saved.values()))
    for m in range(config.members):
        src = m % world
        if src == 0 and rank != 0:
            continue  # rank 0 has this one already
        state = (saved[m] if rank == src else template).state_dict()
        received = {}
        for key, value in state.items():
            tensor = value.detach().clone() if rank == src else torch.empty_like(value)
            if src != 0:
                torch.distributed.broadcast(tensor, src)
            received[key] = tensor
        if ensemble is not None:
            ensemble.members[m].load_state_dict(received)
    return ensemble


def train(out_dir: Path | str, cfg: TrainConfig, progress: Optional[Callable[[dict], None]] = None) -> dict:
    """Train and save a checkpoint (model, tokenizer, training.json) into ``out_dir``; returns the summary.

    With ``cfg.members`` > 1 the checkpoint is a ``HandaEnsemble``: each member is trained apart, on its own
    episodes from its own seeds (under torchrun, on its own share of the processes), and the members are
    put together at the end."""
    from model.modeling_handa import HandaConfig, HandaEnsembleConfig, HandaModel
    from tasks.expert import PACKAGES

    rank, world = _ddp()
    members = max(1, cfg.members)
    mine, sharing = _members_of(rank, world, members)
    if cfg.threads or world > 1:
        torch.set_num_threads(cfg.threads or max(1, (os.cpu_count() or 2) // world))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if rank == 0:
        tokenizer = build_tokenizer(out, cfg.seed, cfg.lowercase)
    if world > 1:
        torch.distributed.barrier()
    tokenizer = build_tokenizer(out, cfg.seed, cfg.lowercase)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    apps = sorted(PACKAGES.values())
    # what the seen templates' screens show, per app, and where their elements lead (model/lexicon.py)
    lexicon, links, names = scan(tokenizer, apps, seen_templates(), seeds=cfg.lexicon_seeds,
                                 lowercase=cfg.lowercase, label_names=cfg.label_names,
                                 clean_links=cfg.clean_links)
    sizes = dict(vocab_size=len(tokenizer), d_model=cfg.d_model, n_layer=cfg.n_layer, n_head=cfg.n_head,
                 d_ff=cfg.d_ff, apps=apps, pad_token_id=tokenizer.pad_token_id, lowercase=cfg.lowercase,
                 links=links, names=names, named_goal=cfg.named_goal, identity_bound=cfg.identity_bound,
                 dropout=cfg.dropout, goal_echo=cfg.goal_echo)
    mcfg = HandaConfig(**sizes)
    featurizer = Featurizer(tokenizer, max_elements=mcfg.max_elements, max_goal_tokens=mcfg.max_goal_tokens,
                            apps=apps, lowercase=cfg.lowercase, links=links, lexicon=lexicon, names=names)
    # processes that train the same member share its gradients (DDP); each member's group, made on every rank
    groups = {}
    if world > 1 and sharing > 1 and members > 1:
        for m in range(members):
            groups[m] = torch.distributed.new_group([r for r in range(world) if r % members == m])
    trainers = []
    for m in mine:
        torch.manual_seed(cfg.seed + 1009 * m)  # the same initial weights on every process of a member
        model = HandaModel(mcfg)
        with torch.no_grad():
            model.app_lexicon.copy_(torch.from_numpy(lexicon))
        rng = random.Random(cfg.seed * 7919 + 104_729 * m + rank // members)
        trainers.append(_Member(m, model, cfg, featurizer, apps, rng, tokenizer, ddp=sharing > 1,
                                group=groups.get(m)))

    def lr_at(step: int) -> float:
        if step < cfg.warmup:
            return cfg.lr * (step + 1) / cfg.warmup
        p = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
        return cfg.lr * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * min(p, 1.0))))

    def save() -> None:
        if members == 1:
            if rank == 0:
                trainers[0].saved.save_pretrained(str(out))
            return
        ensemble = _gather_ensemble({t.index: t.saved for t in trainers},
                                    HandaEnsembleConfig(members=members, **sizes), rank, world)
        if ensemble is not None:
            ensemble.save_pretrained(str(out))

    per_rank = max(1, cfg.batch_size // sharing)  # the batch is each member's: its processes split it
    use_bf16 = cfg.bf16 and fast_bf16()
    start = time.monotonic()
    for t in trainers:
        while len(t.buffer) < per_rank * 8:
            t.add(t.collector.episode(None, 0.0))
    truncated = False
    step = 0
    for step in range(cfg.steps):
        over = cfg.minutes is not None and time.monotonic() - start > cfg.minutes * 60
        if members > 1 and world > 1:
            # members do not share gradients, so nothing keeps the processes in step: they agree every 25
            # steps whether time is up (and so stop, and save, at the same step)
            if step % 25:
                over = False
            else:
                flag = torch.tensor([int(over)])
                torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
                over = bool(flag.item())
        if over:
            truncated = True
            break
        frac = step / cfg.steps
        learner_rate = 0.0 if frac < cfg.bc_fraction else cfg.learner_final * min(
            1.0, (frac - cfg.bc_fraction) / max(1e-6, 0.5 - cfg.bc_fraction))
        if cfg.share_episodes and members > 1:
            loss = _shared_step(trainers, world, per_rank, lr_at(step), learner_rate, use_bf16)
        else:
            loss = [t.step(per_rank, lr_at(step), learner_rate, use_bf16) for t in trainers][0]
        if cfg.save_every and (step + 1) % cfg.save_every == 0 and step + 1 < cfg.steps:
            save()  # a usable checkpoint along the way
        if progress is not None and rank == 0 and (step % 50 == 0 or step == cfg.steps - 1):
            progress({"step": step + 1, "steps": cfg.steps, "loss": loss,
                      "elapsed": time.monotonic() - start, "episodes": trainers[0].collector.episodes,
                      "samples": trainers[0].collector.samples, "learner_rate": learner_rate})
    done_steps = step + (0 if truncated else 1)
    first = trainers[0]
    summary = {
        "steps": done_steps, "planned_steps": cfg.steps, "truncated_by_time": truncated, "world_size": world,
        "members": members, "bf16": use_bf16,
        "seconds": round(time.monotonic() - start, 1), "episodes_per_rank": sum(t.collector.episodes for t in trainers),
        "samples_per_rank": sum(t.collector.samples for t in trainers),
        "buffer_per_member": len(first.buffer),  # more than its own samples when episodes are shared
        "codec_misses_per_rank": sum(t.collector.misses for t in trainers),
        "expert_errors_per_rank": sum(t.collector.expert_errors for t in trainers),
        "final_losses": {k: round(v, 4) for k, v in first.losses.items()},
        "parameters": sum(p.numel() for p in first.model.parameters()) * members,
        "config": asdict(cfg), "templates": seen_templates(),
    }
    save()
    if rank == 0:
        tokenizer.save_pretrained(str(out))
        (out / "training.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    if world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return summary


def main() -> None:
    """Entry point for ``torchrun -m model.train`` (same options as ``handa model train``)."""
    import argparse

    p = argparse.ArgumentParser(description="Train Handa's in-house model (see `handa model train --help`).")
    p.add_argument("--out", default="model/checkpoint")
    p.add_argument("--steps", type=int, default=TrainConfig.steps)
    p.add_argument("--minutes", type=float, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    p.add_argument("--members", type=int, default=TrainConfig.members)
    p.add_argument("--share-episodes", action="store_true",
                   help="with --members: every member learns from every process's episodes")
    p.add_argument("--tiny", action="store_true", help="a very small network (for tests of the machinery)")
    args = p.parse_args()
    cfg = TrainConfig(steps=args.steps, minutes=args.minutes, seed=args.seed, batch_size=args.batch_size,
                      members=args.members, share_episodes=args.share_episodes)
    if args.tiny:
        cfg.d_model, cfg.n_layer, cfg.n_head, cfg.d_ff, cfg.samples_per_step, cfg.warmup = 32, 1, 2, 64, 4, 2
        cfg.lexicon_seeds = 1
    if int(os.environ.get("RANK", "0")) != 0:
        train(args.out, cfg)
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    with Progress(TextColumn("[bold]training"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True)) as bar:
        task = bar.add_task("training", total=cfg.steps, info="")
        summary = train(args.out, cfg, progress=lambda s: bar.update(
            task, completed=s["step"], info=f"loss {s['loss']:.3f} · {s['episodes']} episodes"))
    print(json.dumps({k: v for k, v in summary.items() if k not in ("config", "templates")}), flush=True)


if __name__ == "__main__":
    main()
