"""The goal's wish for a switch or a box, and the element flags that compare it with what the screen shows."""
from __future__ import annotations

import pytest

from controllers.actions import OpenApp
from controllers.sim.controller import SimController
from model.features import Featurizer, Memory
from model.polarity import wish
from tasks.base import make_instance


@pytest.mark.parametrize("goal, want", [
    ("Switch BT on", True),
    ("Set 블루투스 to off", False),
    ("Please turn Location services off.", False),
    ("Turn on Wi-Fi and set brightness to 40%", True),
    ("Bluetooth 켜줘", True),
    ("무음으로 해줘: 음량 0, 진동 끄기", False),
    ("Mute the phone: volume to 0 and vibration off", False),
    ("양식에서 뉴스레터 구독 해제해줘", False),
    ("양식에서 뉴스레터 구독 체크해줘", True),
    ("Make sure the form's newsletter box is unticked", False),
    ("Unsubscribe from the newsletter in the form", False),
    ("Notifications on for mina — password is x1", True),
    ("Sign in as a (password b) and tick 'remember me'", True),
    ("Star the file a.txt in Docs", True),
    # no wish: nothing said, or both ways at once
    ("Add an event 'Lunch' on Monday at 3", None),
    ("Compute 3 + 4 on the calculator", None),
    ("Turn the volume to 15%", None),
    ("Turn on Wi-Fi and turn off Bluetooth", None),
    ("What is on my calendar on Monday?", None),  # "is on" that is no state
    ("장바구니 체크아웃 해줘", None),  # check-out ticks nothing
    ("Make sure Wi-Fi is on", True),
    ("Wi-Fi is off, and so is Bluetooth", False),
    ("", None),
])
def test_the_wish_is_read_off_the_wording(goal, want):
    assert wish(goal) is want


@pytest.mark.parametrize("template", ["settings.wifi", "settings.bluetooth", "settings.location", "settings.vibrate",
                                      "settings.airplane", "login.notifications", "webform.newsletter"])
def test_every_wording_of_the_switch_templates_says_its_wish(template):
    from tasks import load_all

    for wording in range(len(load_all()[template].goals)):
        for seed in range(4):
            inst = make_instance(template, seed=seed, wording=wording)
            assert wish(inst.goal) is inst.params["on"], inst.goal


def test_flags_compare_each_switch_with_the_wish(tokenizer):
    fz = Featurizer(tokenizer)
    inst = make_instance("settings.bluetooth", seed=2, split="heldout")
    controller = SimController(inst.device, expose_keys=True)
    controller.execute(OpenApp(app="com.handa.settings"))
    obs = controller.observe()
    for goal, want in (("Set Bluetooth to off", False), ("Switch Bluetooth on", True)):
        feats = fz(goal, obs, Memory(), with_image=False)
        flags = feats.arrays["el_flags"]
        switches = [i for i, e in enumerate(feats.elements) if e.states.checked is not None]
        assert switches
        for i, e in enumerate(feats.elements):
            if e.states.checked is None:
                assert flags[i, 18] == flags[i, 19] == 0
            else:
                assert flags[i, 18] == float(e.states.checked is want)
                assert flags[i, 19] == 1.0 - flags[i, 18]
    plain = fz("Open the settings", obs, Memory(), with_image=False)
    assert not plain.arrays["el_flags"][:, 18:20].any()  # no wish, no flags
