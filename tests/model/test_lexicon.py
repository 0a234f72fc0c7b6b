"""The app lexicon (words each app shows), the app head's use of it, and the other goal cues of the network."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from controllers.sim.controller import SimController
from model.features import NUMBER_BINS, Featurizer, Memory, collate
from model.lexicon import scan
from model.modeling_handa import HandaConfig, HandaModel
from model.splits import HELDOUT_TEMPLATES, seen_templates
from model.train import TrainConfig
from controllers.actions import OpenApp
from tasks.base import make_instance
from tasks.expert import PACKAGES

APPS = sorted(PACKAGES.values())


@pytest.fixture(scope="module")
def scanned(tokenizer):
    # as training does, with the lexicon options on (scan's defaults; TrainConfig keeps them off for now)
    return scan(tokenizer, APPS, seen_templates(), seeds=TrainConfig.lexicon_seeds)


@pytest.fixture(scope="module")
def lexicon(scanned):
    return scanned[0]


def _ids(tokenizer, word):
    return tokenizer.backend_tokenizer.encode(" " + word.lower(), add_special_tokens=False).ids


def _settings_page(template: str):
    """The settings app's first page in the held-out look (sim keys exposed, for the test to find rows)."""
    inst = make_instance(template, seed=1, form="phone", split="heldout")
    controller = SimController(inst.device, expose_keys=True)
    controller.execute(OpenApp(app="com.handa.settings"))
    return controller.observe()


def _apps_of(lexicon, tokenizer, word):
    ids = _ids(tokenizer, word)
    assert len(ids) == 1, f"{word!r} is not one token"
    return {APPS[a].rsplit(".", 1)[-1]: round(float(lexicon[a, ids[0]]), 2) for a in np.nonzero(lexicon[:, ids[0]])[0]}


def test_words_land_under_the_apps_that_show_them(lexicon, tokenizer):
    assert _apps_of(lexicon, tokenizer, "bluetooth") == {"settings": 1.0}  # a held-out task's word, seen on screens
    assert _apps_of(lexicon, tokenizer, "cart") == {"shop": 1.0}
    assert _apps_of(lexicon, tokenizer, "연락처") == {"contacts": 1.0}  # the Korean launcher label
    name = _apps_of(lexicon, tokenizer, "name")
    assert len(name) >= 3 and all(w == pytest.approx(1 / len(name), abs=0.01) for w in name.values())
    for package in APPS:  # every app is named by its package's last word
        assert lexicon[APPS.index(package), _ids(tokenizer, package.rsplit(".", 1)[-1])].min() > 0
    assert lexicon.shape == (len(APPS), len(tokenizer))
    assert np.all(lexicon.sum(0) <= 1.0 + 1e-6)  # weights are 1 / (apps showing the token)


def test_user_content_and_numbers_vote_for_no_app(lexicon, tokenizer):
    """A contact's name shows in Messages threads and a day number on the calendar: neither names the app.
    Only fixed controls (ids with few labels) and launcher labels file words."""
    from controllers.sim.device import SimDevice

    messages = APPS.index("com.handa.messages")
    for seed in range(TrainConfig.lexicon_seeds):
        for contact in SimDevice(seed=seed).app("contacts").contacts.values():
            for word in contact.name.split():
                for t in _ids(tokenizer, word):
                    if len(tokenizer.convert_ids_to_tokens(t).lstrip("\u0120")) >= 4:  # whole name pieces
                        assert lexicon[messages, t] == 0, (contact.name, word)
    for number in ("18", "92", "2026", "15"):
        for t in _ids(tokenizer, number):
            assert not lexicon[:, t].any(), number
    assert "calculator" in _apps_of(lexicon, tokenizer, "×")  # a sign that says which app: kept


def test_scan_is_deterministic_and_never_plays_heldout_templates(tokenizer, lexicon, monkeypatch):
    import tasks.base

    played = []
    real = tasks.base.make_instance

    def spy(template_id, **kw):
        played.append((template_id, kw.get("split")))
        return real(template_id, **kw)

    monkeypatch.setattr(tasks.base, "make_instance", spy)
    again = scan(tokenizer, APPS, seen_templates(), seeds=TrainConfig.lexicon_seeds)[0]
    assert np.array_equal(again, lexicon)
    assert played and not {t for t, _ in played} & set(HELDOUT_TEMPLATES)
    assert {s for _, s in played} == {"train"}


def _model(tokenizer, lexicon):
    torch.manual_seed(0)
    cfg = HandaConfig(vocab_size=len(tokenizer), d_model=32, n_layer=1, n_head=2, d_ff=64, apps=APPS,
                      pad_token_id=tokenizer.pad_token_id)
    model = HandaModel(cfg).eval()
    with torch.no_grad():
        model.app_lexicon.copy_(torch.from_numpy(lexicon))
        model.app.weight.zero_()
        model.app.bias.zero_()
    return model


@pytest.mark.parametrize("goal, app", [("Turn on Bluetooth", "settings"), ("연락처 열어줘", "contacts"),
                                       ("Put two of these in my cart", "shop")])
def test_an_untrained_app_head_follows_the_lexicon(tokenizer, lexicon, goal, app):
    model = _model(tokenizer, lexicon)
    obs = SimController(form="phone", seed=1, expose_keys=False).observe()
    feats = Featurizer(tokenizer, apps=APPS)(goal, obs, Memory(), with_image=False)
    with torch.no_grad():
        out = model(**collate([feats.arrays], tokenizer.pad_token_id))
    assert APPS[int(out["app"].argmax(-1))].endswith("." + app)


def test_arithmetic_pushes_the_app_head_by_a_learned_bias(tokenizer, lexicon):
    """The arithmetic context adds ``app_arithmetic`` to the app logits; goals without arithmetic get nothing."""
    model = _model(tokenizer, lexicon)
    calculator = APPS.index("com.handa.calculator")
    with torch.no_grad():
        model.app_lexicon.zero_()
        model.app_arithmetic[calculator] = 20.0
    obs = SimController(form="phone", seed=1, expose_keys=False).observe()
    fz = Featurizer(tokenizer, apps=APPS)
    logits = {}
    for goal in ("18 곱하기 92는 얼마야?", "Turn on Bluetooth"):
        with torch.no_grad():
            out = model(**collate([fz(goal, obs, Memory(), with_image=False).arrays], tokenizer.pad_token_id))
        logits[goal] = out["app"][0]
    assert int(logits["18 곱하기 92는 얼마야?"].argmax()) == calculator
    plain = logits["Turn on Bluetooth"]
    assert float(plain[calculator]) < 1.0 and float(plain.max() - plain.min()) < 1.0  # no push without arithmetic


def test_the_lexicon_is_saved_with_the_model(tokenizer, lexicon, tmp_path):
    model = _model(tokenizer, lexicon)
    model.save_pretrained(str(tmp_path))
    loaded = HandaModel.from_pretrained(str(tmp_path))
    assert torch.equal(loaded.app_lexicon, torch.from_numpy(lexicon))


def test_goal_numbers_flag_slider_bins(tokenizer):
    fz = Featurizer(tokenizer)
    obs = SimController(form="phone", seed=2, expose_keys=False).observe()
    bins = fz("Set the brightness to 40% and volume to 7", obs, Memory(), with_image=False).arrays["goal_bins"]
    assert bins.shape == (NUMBER_BINS,) and set(np.nonzero(bins)[0]) == {7, 40}
    none = fz("Set it to 3.5 or 250 or 2026-12-02", obs, Memory(), with_image=False).arrays["goal_bins"]
    assert not none.any()  # decimals, numbers over 100 and dates name no slider position


def test_goal_tokens_are_marked_when_the_screen_shows_them(tokenizer, lexicon):
    model = _model(tokenizer, lexicon)
    fz = Featurizer(tokenizer, apps=APPS)
    obs = SimController(form="phone", seed=1, expose_keys=False).observe()
    shown = next(e.name for e in obs.elements if e.name and e.states.clickable)  # a launcher label
    feats = fz(f"zqxj {shown}", obs, Memory(), with_image=False)
    batch = collate([feats.arrays], tokenizer.pad_token_id)
    b = batch
    _, _, on_screen, _ = model.elements(model.tok_emb, b["el_tok"], b["el_seg"], b["el_role"], b["el_states"],
                                     b["el_box"], b["el_flags"], b["goal_ids"], b["goal_ids"] != 0)
    n_made_up = len(fz.text.encode("zqxj")[0])
    assert (on_screen[0, :n_made_up] == 0).all()  # a made-up word is on no screen
    assert (on_screen[0, n_made_up:] & 1).all()  # the label's tokens are shown in a label


def test_links_say_where_elements_lead(tokenizer, scanned):
    _, links, _ = scanned
    sound = links["com.handa.settings|sound"]
    volume = str(_ids(tokenizer, "volume")[0])
    assert sound[volume] == 1.0
    # only the Sound row leads to the volume slider: by its id, or by its labels on seeds that hide ids
    from controllers.sim.style import LEXICON
    from model.features import loose

    sound_labels = {f"com.handa.settings|~{loose(label)}" for label in LEXICON["sound"]}
    assert {k for k, leads in links.items() if volume in leads} - {"com.handa.settings|sound"} <= sound_labels
    assert all(0 < w <= 1 for leads in links.values() for w in leads.values())
    # the Sound row is flagged for a goal that names what it leads to, not itself ("volume", not "sound")
    fz = Featurizer(tokenizer, apps=APPS, links=links)
    obs = _settings_page("settings.volume")
    feats = fz("Turn the volume to 15%", obs, Memory(), with_image=False)
    flags = feats.arrays["el_flags"]
    keys = [e.attrs.get("sim-key") for e in feats.elements]
    assert flags[keys.index("settings:sound"), 14] == 1.0
    assert flags[:, 14].argmax() == keys.index("settings:sound")
    plain = Featurizer(tokenizer, apps=APPS)("Turn the volume to 15%", obs, Memory(), with_image=False)
    assert not plain.arrays["el_flags"][:, 14:16].any()  # no links, no flags


def test_context_says_whether_the_app_in_front_is_the_goals(tokenizer, lexicon):
    from controllers.actions import OpenApp

    fz = Featurizer(tokenizer, apps=APPS, lexicon=lexicon)
    controller = SimController(form="phone", seed=1, expose_keys=False)
    goal = "Please turn Bluetooth off"
    assert fz(goal, controller.observe(), Memory(), with_image=False).arrays["ctx"][4] == 1  # the launcher
    controller.execute(OpenApp(app="com.handa.settings"))
    assert fz(goal, controller.observe(), Memory(), with_image=False).arrays["ctx"][4] == 0
    controller.execute(OpenApp(app="com.handa.shop"))
    assert fz(goal, controller.observe(), Memory(), with_image=False).arrays["ctx"][4] == 1
    assert Featurizer(tokenizer, apps=APPS)(goal, controller.observe(), Memory(), with_image=False).arrays["ctx"][4] == 2


def test_names_say_what_an_element_was_called_on_other_seeds(tokenizer, scanned):
    _, _, names = scanned
    called = {tokenizer.decode([int(t)]).strip() for t in names["com.handa.settings|bluetooth"]}
    assert {"bluetooth", "bt"} <= called  # train-look synonyms of the row
    assert "블루투스" not in called  # the held-out synonym was never played
    assert all(0 < w <= 1 for tokens in names.values() for w in tokens.values())
    # a label key (devices without ids) is filed only as an alias of the one id that wore the label
    ids = {key for key in names if "|~" not in key}
    assert all(any(names[key] == names[i] for i in ids) for key in names if "|~" in key)
    assert names["com.handa.settings|~wireless"] == names["com.handa.settings|wifi"]
    assert "com.handa.settings|~save" not in names and "com.handa.notes|~save" not in names  # worn by many ids
    # a row of user content (ids c1, c2, ... wear a new contact's name on every seed): not a name
    assert not any(re.fullmatch(r"com\.handa\.contacts\|c\d+", key) for key in names)
    assert "com.handa.contacts|phone row" in names  # the Phone row of a contact's page is a fixed control
    # "Switch BT on": the held-out look shows "블루투스", but the row's id carries the names it wore
    fz = Featurizer(tokenizer, apps=APPS, names=names)
    obs = _settings_page("settings.bluetooth")
    flags = fz("Switch BT on", obs, Memory(), with_image=False)
    keys = [e.attrs.get("sim-key") for e in flags.elements]
    bt = keys.index("settings:bluetooth")
    assert flags.elements[bt].name == "블루투스"
    assert flags.arrays["el_flags"][bt, 20] == 1.0
    assert flags.arrays["el_flags"][:, 20].argmax() == bt
    plain = Featurizer(tokenizer, apps=APPS)("Switch BT on", obs, Memory(), with_image=False)
    assert not plain.arrays["el_flags"][:, 20:22].any()


def test_clicking_an_element_covers_the_names_it_wore(tokenizer, scanned):
    """Goal coverage ("which goal words has the episode acted on") reads synonyms: clicking "블루투스" covers "BT"."""
    from controllers.actions import Click, ElementTarget

    names = scanned[2]
    obs = _settings_page("settings.bluetooth")
    row = next(e for e in obs.elements if e.attrs.get("sim-key") == "settings:bluetooth")
    bt = _ids(tokenizer, "bt")
    for fz, covered in ((Featurizer(tokenizer, apps=APPS, names=names), True), (Featurizer(tokenizer, apps=APPS), False)):
        target, _ = fz.memory_entry(0, Click(target=ElementTarget(id=row.id)), obs)
        assert (set(bt) <= set(target)) is covered
        memory = Memory()
        memory.push(0, target, [], ok=True, changed=True)
        touched = fz("Switch BT on", obs, memory, with_image=False).arrays["goal_touched"]
        assert bool(touched.any()) is covered


def test_goal_words_the_screen_names_through_the_lexicons(tokenizer, scanned):
    """goal_named marks the goal tokens an element on screen went by elsewhere (1) or leads to (2): "BT" is on a
    screen that says "블루투스", and "switch" and "on" are not named by anything there."""
    _, links, names = scanned
    obs = _settings_page("settings.bluetooth")
    feats = Featurizer(tokenizer, apps=APPS, names=names, links=links)("Switch BT on", obs, Memory(), with_image=False)
    named = {tokenizer.decode([int(t)]).strip(): int(c) for t, c in zip(feats.arrays["goal_ids"], feats.arrays["goal_named"])}
    assert named["bt"] & 1
    assert not named["switch"] & 1
    plain = Featurizer(tokenizer, apps=APPS)("Switch BT on", obs, Memory(), with_image=False)
    assert not plain.arrays["goal_named"].any()
    batch = collate([feats.arrays, plain.arrays], tokenizer.pad_token_id)
    assert batch["goal_named"].shape == batch["goal_ids"].shape
    assert batch["goal_named"][0].tolist()[: len(feats.arrays["goal_named"])] == feats.arrays["goal_named"].tolist()


def test_a_device_without_ids_still_finds_a_control_by_its_other_names(tokenizer, scanned):
    """Seeds with seed % 4 == 3 show no resource ids: "WLAN" still names the switch labelled "Wireless" (a
    label the wifi id wore on the scanned seeds), through the label's alias in the name lexicon."""
    names = scanned[2]
    for seed in range(3, 400, 4):
        inst = make_instance("settings.wifi", seed=seed, form="phone", split="train")
        controller = SimController(inst.device, expose_keys=True)
        controller.execute(OpenApp(app="com.handa.settings"))
        obs = controller.observe()
        row = next(e for e in obs.elements if e.attrs.get("sim-key") == "settings:wifi")
        if row.name == "Wireless":
            break
    else:
        pytest.fail("no seed without ids labels the wifi switch 'Wireless'")
    assert "resource-id" not in row.attrs
    feats = Featurizer(tokenizer, apps=APPS, names=names)("Turn off WLAN", obs, Memory(), with_image=False)
    at = [e.id for e in feats.elements].index(row.id)
    assert feats.arrays["el_flags"][at, 20] == 1.0
    flagged = {e.name for e, f in zip(feats.elements, feats.arrays["el_flags"]) if f[20] and e.app == row.app}
    assert flagged == {"Wireless"}  # the switch and its label text, no other row of the page
    plain = Featurizer(tokenizer, apps=APPS, names={k: v for k, v in names.items() if "|~" not in k})
    assert not plain("Turn off WLAN", obs, Memory(), with_image=False).arrays["el_flags"][at, 20]


def test_toggles_and_bare_marks_lead_nowhere(tokenizer):
    """A switch flips in place: what its click reveals ("Off", "Connected") is no destination, and neither
    is a token of digits or ASCII marks. Left in, "Please turn Bluetooth off." flagged Wi-Fi as leading
    to the goal's "off" -- and the shipped model clicked Wi-Fi."""
    from model.lexicon import _says_something

    settings = [t for t in seen_templates() if t.startswith("settings.")]
    _, raw, _ = scan(tokenizer, APPS, settings, seeds=6, clean_links=False)  # as checkpoints before it
    _, clean, _ = scan(tokenizer, APPS, settings, seeds=6)
    off, volume = str(_ids(tokenizer, "off")[0]), str(_ids(tokenizer, "volume")[0])
    assert off in raw["com.handa.settings|wifi"]
    assert not {"com.handa.settings|wifi", "com.handa.settings|airplane"} & clean.keys()
    assert volume in clean["com.handa.settings|sound"]  # a row that opens a page still leads there

    def marks(links):
        return {t for leads in links.values() for t in leads if not _says_something(tokenizer.decode([int(t)]))}

    assert marks(raw) and not marks(clean)
    obs = _settings_page("settings.bluetooth")
    for links, wifi_flagged in ((raw, True), (clean, False)):
        feats = Featurizer(tokenizer, apps=APPS, links=links)("Please turn Bluetooth off.", obs, Memory(),
                                                               with_image=False)
        keys = [e.attrs.get("sim-key") for e in feats.elements]
        assert bool(feats.arrays["el_flags"][keys.index("settings:wifi"), 14]) is wifi_flagged
