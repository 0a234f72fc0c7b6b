"""Training: a short run makes a loadable checkpoint, is deterministic, and runs under torchrun (DDP, gloo)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from model.policy import CHECKPOINT
from model.train import TrainConfig, _members_of, fast_bf16, train

ROOT = Path(__file__).resolve().parents[2]
TINY = dict(steps=3, batch_size=8, samples_per_step=4, d_model=32, n_layer=1, n_head=2, d_ff=64, warmup=2,
            lexicon_seeds=1)


def _with_tokenizer(path: Path) -> Path:
    """A run folder that already holds the shipped tokenizer (building one takes a few seconds more)."""
    path.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(CHECKPOINT / name, path / name)
    return path


def test_short_run_is_deterministic_and_loadable(tmp_path):
    from model.policy import InHousePolicy

    a = train(_with_tokenizer(tmp_path / "a"), TrainConfig(seed=3, **TINY))
    train(_with_tokenizer(tmp_path / "b"), TrainConfig(seed=3, **TINY))
    train(_with_tokenizer(tmp_path / "c"), TrainConfig(seed=4, **TINY))
    assert a["steps"] == 3 and not a["truncated_by_time"]
    assert a["bf16"] is fast_bf16()  # bfloat16 only where the CPU has the instructions for it
    wa, wb, wc = (load_file(str(tmp_path / x / "model.safetensors")) for x in "abc")
    assert all((wa[k] == wb[k]).all() for k in wa)
    assert any(not (wa[k] == wc[k]).all() for k in wa)
    policy = InHousePolicy(tmp_path / "a")
    from controllers.sim.controller import SimController

    decision = policy.decide("Turn on Wi-Fi", SimController(seed=1, expose_keys=False).observe(), [])
    assert decision.action is not None or decision.error


def test_bfloat16_only_where_the_cpu_has_bfloat16_instructions(monkeypatch):
    """Emulated bfloat16 (an AVX2-only CPU) measured ~45x slower than float32: training must not use it."""
    import torch

    for avx512_bf16, amx, fast in ((False, False, False), (True, False, True), (False, True, True)):
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda v=avx512_bf16: v, raising=False)
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda v=amx: v, raising=False)
        assert fast_bf16() is fast


def test_minutes_cap_stops_early(tmp_path):
    summary = train(_with_tokenizer(tmp_path / "m"), TrainConfig(seed=1, minutes=0.001, **{**TINY, "steps": 500}))
    assert summary["truncated_by_time"] and summary["steps"] < 500
    assert (tmp_path / "m" / "model.safetensors").is_file()


@pytest.mark.parametrize("members,share", [(1, False), (2, False), (2, True)])
def test_torchrun_two_processes(tmp_path, members, share):
    """One member: DDP over both processes. Two: each process trains its own member, and rank 0 saves both;
    sharing episodes, each member's buffer also holds the other process's samples."""
    out = _with_tokenizer(tmp_path / "ddp")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m",
           "model.train", "--out", str(out), "--steps", "3", "--batch-size", "8", "--tiny", "--members", str(members)]
    cmd += ["--share-episodes"] if share else []
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    import json

    summary = json.loads((out / "training.json").read_text())
    assert summary["world_size"] == 2 and summary["steps"] == 3 and summary["members"] == members
    assert (summary["buffer_per_member"] > summary["samples_per_rank"]) is share
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == ("handa" if members == 1 else "handa_ensemble")
    weights = load_file(str(out / "model.safetensors"))
    if members == 2:  # the member rank 1 trained came over to rank 0, and it is not a copy of member 0
        assert any(not torch.equal(weights[k], weights[k.replace("members.0.", "members.1.", 1)])
                   for k in weights if k.startswith("members.0.") and "lexicon" not in k)


def test_members_sharing_episodes_learn_from_each_others_roll_ins(tmp_path):
    runs = [train(_with_tokenizer(tmp_path / x), TrainConfig(seed=3, members=2, share_episodes=True, **TINY))
            for x in "ab"]
    # one process: each member's buffer holds its own samples and the other member's
    assert runs[0]["buffer_per_member"] > runs[0]["samples_per_rank"] / 2
    apart = train(_with_tokenizer(tmp_path / "c"), TrainConfig(seed=3, members=2, **TINY))
    assert apart["buffer_per_member"] < runs[0]["buffer_per_member"]
    wa, wb, wc = (load_file(str(tmp_path / x / "model.safetensors")) for x in "abc")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)  # deterministic
    assert any(not torch.equal(wa[k], wc[k]) for k in wa)  # and trained on other data than apart


def test_members_share_the_processes():
    assert _members_of(0, 1, 1) == ([0], 1) and _members_of(1, 2, 1) == ([0], 2)
    assert _members_of(0, 2, 2) == ([0], 1) and _members_of(1, 2, 2) == ([1], 1)
    assert _members_of(3, 4, 2) == ([1], 2)  # 4 processes, 2 members: two DDP pairs
    assert _members_of(0, 1, 3) == ([0, 1, 2], 1)  # one process trains every member in turn
    assert _members_of(1, 2, 3) == ([1], 1) and _members_of(0, 2, 3) == ([0, 2], 1)
    with pytest.raises(ValueError, match="evenly"):
        _members_of(0, 3, 2)


def test_an_ensemble_run_is_deterministic_and_its_members_differ(tmp_path):
    from model.modeling_handa import HandaEnsemble
    from model.policy import InHousePolicy

    summaries = [train(_with_tokenizer(tmp_path / x), TrainConfig(seed=3, members=2, **TINY)) for x in "ab"]
    assert summaries[0]["members"] == 2 and summaries[0]["steps"] == 3
    wa, wb = (load_file(str(tmp_path / x / "model.safetensors")) for x in "ab")
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    assert any(not torch.equal(wa[k], wa[k.replace("members.0.", "members.1.", 1)])
               for k in wa if k.startswith("members.0.") and "lexicon" not in k)
    policy = InHousePolicy(tmp_path / "a")
    assert isinstance(policy.runner.model, HandaEnsemble)
    from controllers.sim.controller import SimController

    decision = policy.decide("Turn on Wi-Fi", SimController(seed=1, expose_keys=False).observe(), [])
    assert decision.action is not None or decision.error


def test_goal_augmentation_never_changes_what_is_typed():
    import random

    from model.train import augment_goal

    rng = random.Random(3)
    goal = "Send 'Running late!' to 김하은."
    seen = {augment_goal(goal, rng, 1.0) for _ in range(200)}
    assert len(seen) > 5
    assert all("'Running late!' to 김하은" in g for g in seen)
    assert augment_goal(goal, rng, 0.0) == goal


def test_recolor_shuffles_or_inverts_channels_only():
    import random

    import numpy as np

    from model.train import recolor_fn

    image = np.random.default_rng(0).integers(0, 256, size=(3, 64, 64), dtype=np.uint8)
    outs = [recolor_fn(random.Random(s))(image) for s in range(40)]
    assert all(o.shape == image.shape and o.dtype == np.uint8 for o in outs)
    assert any(not np.array_equal(o, image) for o in outs)
    for o in outs:  # every output channel is an input channel, as is or inverted
        assert all(any(np.array_equal(c, image[k]) or np.array_equal(c, 255 - image[k]) for k in range(3)) for c in o)


def test_word_noise_swaps_a_few_tokens_and_keeps_specials_out():
    import random

    import numpy as np

    from model.train import noise_tokens

    ids = np.arange(100, 200, dtype=np.int64)
    out = noise_tokens(ids, random.Random(1), 0.2, 4096)
    changed = (out != ids).sum()
    assert 5 <= changed <= 40 and out.dtype == ids.dtype and (out >= 3).all()
    assert np.array_equal(noise_tokens(ids, random.Random(1), 0.0, 4096), ids)


def test_relabel_gives_controls_with_ids_made_up_labels_for_the_whole_episode():
    import random

    from controllers.actions import OpenApp
    from controllers.sim.controller import SimController
    from model.train import Relabel

    controller = SimController(form="phone", seed=1)
    controller.execute(OpenApp(app="com.handa.settings"))
    obs = controller.observe()
    assert Relabel(random.Random(0), 0.0)(obs).elements == obs.elements  # rate 0: the screen as it is
    relabel = Relabel(random.Random(0), 1.0)
    once, again = relabel(obs), relabel(obs)
    assert [e.name for e in once.elements] == [e.name for e in again.elements]  # the same all episode
    changed = 0
    for real, shown in zip(obs.elements, once.elements):
        assert (shown.id, shown.attrs, shown.bounds, shown.states, shown.role) == \
            (real.id, real.attrs, real.bounds, real.states, real.role)  # only the label changes
        control = real.attrs.get("resource-id") and (real.states.clickable or real.states.checked is not None)
        if real.name and control:
            assert shown.name != real.name
            changed += 1
        else:
            assert shown.name == real.name  # texts, values and controls without ids keep their labels
    assert changed >= 5
    # about half at rate 0.5, and never a label some element already wears
    half = Relabel(random.Random(1), 0.5)(obs)
    made_up = [s.name for r, s in zip(obs.elements, half.elements) if s.name != r.name]
    assert 0 < len(made_up) < changed and not set(made_up) & {e.name for e in obs.elements}


def test_relabel_with_the_name_lexicon_renames_only_the_controls_it_knows():
    import random

    from controllers.actions import OpenApp
    from controllers.sim.controller import SimController
    from model.features import element_key
    from model.train import Relabel

    controller = SimController(form="phone", seed=1)
    controller.execute(OpenApp(app="com.handa.contacts"))
    obs = controller.observe()
    known = {element_key(e): {} for e in obs.elements if e.states.clickable and e.name}
    rows = [e for e in obs.elements if e.states.clickable and e.name and e.attrs.get("resource-id")]
    row = rows[-1]
    known.pop(element_key(row))  # one control the lexicon does not know: it keeps its label
    shown = Relabel(random.Random(0), 1.0, names=known)(obs)
    after = {e.id: e.name for e in shown.elements}
    assert after[row.id] == row.name
    assert sum(after[e.id] != e.name for e in rows) == len(rows) - 1


def test_goal_words_leave_out_quotes_numbers_and_short_words():
    from model.train import goal_words

    assert goal_words('Rename the note "Flight" to "Car service"') == ["Rename", "note", "the"]
    assert goal_words("'여행 준비' 메모를 고정 해제해줘") == ["고정", "메모를", "해제해줘"]
    assert goal_words("What is 91 × 85?") == ["What"]
    assert goal_words("") == []


def test_relabel_decoys_are_words_of_the_goal():
    import random

    from controllers.actions import OpenApp
    from controllers.sim.controller import SimController
    from model.train import Relabel

    controller = SimController(form="phone", seed=1)
    controller.execute(OpenApp(app="com.handa.settings"))
    obs = controller.observe()
    decoys = ("Note", "Subject")
    shown = Relabel(random.Random(0), 1.0, decoys=decoys, decoy_rate=1.0)(obs)
    renamed = [s.name for r, s in zip(obs.elements, shown.elements) if s.name != r.name]
    assert renamed and set(renamed) <= set(decoys)
    names = []
    for seed in range(10):
        mixed = Relabel(random.Random(seed), 1.0, decoys=decoys, decoy_rate=0.3)(obs)
        names += [s.name for r, s in zip(obs.elements, mixed.elements) if s.name != r.name]
    share = sum(n in decoys for n in names) / len(names)
    assert 0.1 < share < 0.6  # about 0.3 of the renamed controls wear a goal word, the rest made-up ones


def test_weight_average_follows_the_weights_with_a_ramped_decay():
    import torch

    from model.train import WeightAverage

    net = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        net.weight.fill_(0.0)
    average = WeightAverage(net, decay=0.9)
    with torch.no_grad():
        net.weight.fill_(1.0)
    average.update(net)  # decay min(0.9, 2/11): mostly the new weights
    assert torch.allclose(average.model.weight, torch.full((1, 2), 1 - 2 / 11))
    for _ in range(200):
        average.update(net)
    assert torch.allclose(average.model.weight, torch.ones(1, 2), atol=1e-6)
    assert not average.model.weight.requires_grad and net.weight.requires_grad
    with torch.no_grad():
        net.weight.fill_(3.0)
    average.update(net)  # the full decay now: one update moves a tenth of the way
    assert torch.allclose(average.model.weight, torch.full((1, 2), 1.2))


def test_name_noise_swaps_named_words_alike_all_episode_and_keeps_quotes():
    import random

    import numpy as np

    from model.train import NameNoise

    noise = NameNoise(random.Random(0), vocab=1000)
    ids = np.array([5, 40, 41, 40, 7])
    quote = np.array([0, 0, 0, 1, 0])  # the second 40 is inside a quoted part: typed text stays
    first = noise(ids, quote, named={40, 7})
    assert first[0] == 5 and first[2] == 41 and first[3] == 40  # not named, or quoted
    assert first[1] != 40 and first[4] != 7 and 3 <= first[1] < 1000
    again = noise(np.array([7, 40]), np.array([0, 0]), named={40, 7})
    assert again.tolist() == [first[4], first[1]]  # the same stand-in for a word all episode
    assert ids.tolist() == [5, 40, 41, 40, 7]  # the featurizer's cached array is never changed


def test_weight_average_and_name_noise_options_train_a_loadable_checkpoint(tmp_path):
    plain = train(_with_tokenizer(tmp_path / "plain"), TrainConfig(seed=5, **TINY))
    both = train(_with_tokenizer(tmp_path / "both"), TrainConfig(seed=5, ema=0.9, name_noise=1.0, **TINY))
    assert plain["steps"] == both["steps"] == 3
    wp, wb = (load_file(str(tmp_path / x / "model.safetensors")) for x in ("plain", "both"))
    assert wp.keys() == wb.keys()
    assert any(not (wp[k] == wb[k]).all() for k in wp)  # the average (and the noised goals) changed the weights
    from model.policy import InHousePolicy

    assert InHousePolicy(tmp_path / "both").model_id.startswith("handa-inhouse@")


def test_named_goal_and_label_names_options_train_a_loadable_checkpoint(tmp_path):
    """Off by default (the shipped checkpoint has no goal_named table and no label keys); on, the table is
    trained and saved, and the saved config says so, so from_pretrained builds the same network."""
    from model.modeling_handa import HandaModel

    train(_with_tokenizer(tmp_path / "named"), TrainConfig(seed=5, named_goal=True, label_names=True, **{**TINY, "lexicon_seeds": 3}))  # names: 2+ seeds
    weights = load_file(str(tmp_path / "named" / "model.safetensors"))
    assert "goal_named.weight" in weights
    assert weights["goal_named.weight"].std() > 0
    loaded = HandaModel.from_pretrained(str(tmp_path / "named"))
    assert loaded.config.named_goal and loaded.goal_named is not None
    assert any("|~" in key for key in loaded.config.names)  # label keys, for devices without ids
    assert not any("|~" in key for key in HandaModel.from_pretrained(str(CHECKPOINT)).config.names)
    assert HandaModel.from_pretrained(str(CHECKPOINT)).goal_named is None


def test_shared_swap_renames_a_control_word_in_the_goal_and_on_screen_alike():
    import random

    from controllers.actions import OpenApp
    from controllers.sim.controller import SimController
    from model.train import SharedSwap

    controller = SimController(form="phone", seed=1)
    controller.execute(OpenApp(app="com.handa.settings"))
    obs = controller.observe()
    wifi = next(e for e in obs.elements if e.attrs.get("resource-id", "").endswith("/bluetooth"))
    word = wifi.name
    swap = SharedSwap(random.Random(0), f"Please turn {word} off and type '{word}'", {word.casefold(), "please"})
    assert swap
    new = swap.words[word.casefold()]
    assert new.casefold() != word.casefold()
    # the goal's own words change, its quoted text (what gets typed) does not
    assert swap.goal(f"Please turn {word} off and type '{word}'") == \
        f"{swap.words['please']} turn {new} off and type '{word}'"
    shown = swap(obs)
    renamed = [s for r, s in zip(obs.elements, shown.elements) if s.name != r.name]
    assert renamed and all(s.name.replace(new, word) == r.name for r, s in zip(obs.elements, shown.elements))
    assert all((s.id, s.attrs, s.value, s.states) == (r.id, r.attrs, r.value, r.states)
               for r, s in zip(obs.elements, shown.elements))
    again = SharedSwap(random.Random(0), f"Please turn {word} off", {word.casefold(), "please"})
    assert again.words == swap.words  # deterministic for the episode's generator
    assert not SharedSwap(random.Random(0), "Open the calculator", {word.casefold()})  # nothing to swap
    # a word of the task's own values (text to type, a name to find) is copied as it is: never swapped
    typed = SharedSwap(random.Random(0), f"Text Mina: turn {word} off", {word.casefold(), "mina"},
                       {"to": "Mina", "body": [f"turn {word} off"]})
    assert not typed


def test_shared_swap_episodes_still_label_every_step(tmp_path):
    """With the swap in every episode, the expert still labels each state (samples are made, codec misses
    stay rare): typed text comes from quotes, which stay."""
    import random

    from model.features import Featurizer
    from model.lexicon import scan
    from model.splits import seen_templates
    from model.train import Collector, control_words
    from tasks.expert import PACKAGES
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast.from_pretrained(str(CHECKPOINT))
    apps = sorted(PACKAGES.values())
    templates = [t for t in seen_templates() if t.startswith(("settings.", "contacts.", "notes."))]
    lexicon, links, names = scan(tokenizer, apps, templates, seeds=3)
    featurizer = Featurizer(tokenizer, apps=apps, links=links, lexicon=lexicon, names=names)
    words = control_words(featurizer)
    assert "airplane" in words and all(w.isalpha() and (len(w) >= 3 or not w.isascii()) for w in words)
    collector = Collector(featurizer, apps, TrainConfig(shared_swap=1.0, relabel=0.0), random.Random(2), templates)
    samples = [s for _ in range(24) for s in collector.episode(None, 0.0)]
    assert len(samples) > 60 and collector.misses <= 0.05 * len(samples)


def test_id_noise_hides_the_ids_and_nothing_else():
    import random

    import numpy as np

    from controllers.sim.controller import SimController
    from model.features import SEGMENTS, Featurizer, Memory
    from model.train import IdNoise
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast.from_pretrained(str(CHECKPOINT))
    featurizer = Featurizer(tokenizer, apps=[])
    controller = SimController(form="phone", seed=1)
    feats = featurizer("Turn Bluetooth off", controller.observe(), Memory()).arrays
    tok, seg = feats["el_tok"], feats["el_seg"]
    rid = seg == [name for name, _ in SEGMENTS].index("rid") + 1
    assert rid.sum() > 10
    noise = IdNoise(random.Random(0), len(tokenizer))
    out = noise(tok, seg)
    assert np.array_equal(out[~rid], tok[~rid])  # names, hints, descriptions and values stay
    assert (out[rid] != tok[rid]).mean() > 0.9
    # one stand-in per token, all episode: equal ids still read alike, different ones apart
    again = noise(tok, seg)
    assert np.array_equal(again, out)
    pairs = {(int(a), int(b)) for a, b in zip(tok[rid], out[rid])}
    assert len({a for a, _ in pairs}) == len(pairs)
    assert IdNoise(random.Random(0), len(tokenizer))(tok, seg).tolist() == out.tolist()  # deterministic


def test_id_noise_episodes_read_stand_ins_for_ids():
    import random

    import numpy as np

    from model.features import SEGMENTS, Featurizer
    from model.train import Collector
    from tasks.expert import PACKAGES
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast.from_pretrained(str(CHECKPOINT))
    apps = sorted(PACKAGES.values())
    featurizer = Featurizer(tokenizer, apps=apps)
    rid = [name for name, _ in SEGMENTS].index("rid") + 1
    def rid_tokens(id_noise: float) -> list[int]:
        collector = Collector(featurizer, apps, TrainConfig(id_noise=id_noise), random.Random(5), ["settings.wifi"])
        samples = [s for _ in range(3) for s in collector.episode(None, 0.0)]
        assert samples
        return [int(t) for arrays, _ in samples for t in np.asarray(arrays["el_tok"])[np.asarray(arrays["el_seg"]) == rid]]

    real = set(rid_tokens(0.0))  # the settings screens' id tokens
    noisy = rid_tokens(1.0)  # the same screens (one template), ids read through stand-ins
    assert len(noisy) > 50 and sum(t in real for t in noisy) < 0.1 * len(noisy)


def test_length_buckets_draw_batches_of_similar_length_and_every_sample_alike():
    import random

    from model.train import _Member

    member = _Member.__new__(_Member)  # only the buffer and the draw: no network needed
    member.cfg = TrainConfig(length_buckets=4)
    member.rng = random.Random(0)
    lengths = [3 + (i * 37) % 90 for i in range(400)]
    member.buffer = [({"goal_ids": torch.zeros(5), "el_role": torch.zeros(n)}, {"i": i}) for i, n in enumerate(lengths)]

    def spread(batches):
        return sum(max(b) - min(b) for b in batches) / len(batches)

    bucketed = [[s[0]["el_role"].shape[0] for s in member.draw(24)] for _ in range(300)]
    member.cfg = TrainConfig(length_buckets=1)
    plain = [[s[0]["el_role"].shape[0] for s in member.draw(24)] for _ in range(300)]
    assert spread(bucketed) < 0.5 * spread(plain)
    # short and long samples are drawn as often as with plain draws
    mean = lambda batches: sum(map(sum, batches)) / sum(map(len, batches))  # noqa: E731
    assert abs(mean(bucketed) - mean(plain)) < 3


def test_length_buckets_option_trains_a_loadable_checkpoint(tmp_path):
    from model.policy import InHousePolicy

    summary = train(_with_tokenizer(tmp_path / "lb"), TrainConfig(seed=2, length_buckets=2, **TINY))
    assert summary["steps"] == 3 and summary["config"]["length_buckets"] == 2
    assert InHousePolicy(tmp_path / "lb").runner.model.config.d_model == 32


def test_atomic_option_trains_a_loadable_checkpoint(tmp_path):
    from model.policy import InHousePolicy

    # with the echo and length buckets off as well: the defaults (on) are trained by every other tiny run
    summary = train(_with_tokenizer(tmp_path / "at"),
                    TrainConfig(seed=2, atomic=0.5, goal_echo=False, length_buckets=1, **TINY))
    assert summary["steps"] == 3 and summary["config"]["atomic"] == 0.5 and summary["expert_errors_per_rank"] == 0
    assert InHousePolicy(tmp_path / "at").runner.model.config.d_model == 32
