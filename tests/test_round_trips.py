"""Every pydantic model of the contract and the recording format survives JSON and back."""
import pytest

from agent.loop import EpisodeResult, StepEvent, StopReason
from agent.recording import Manifest, ObservationRef, Outcome, StepRecord, TaskRef
from agent.replay import ReplayReport, StepMatch
from controllers.actions import Click, Selector, TypeText, element
from controllers.base import ActionResult
from controllers.coords import PixelPoint
from controllers.elements import ElementStates, Observation, Platform, Rect, Role, ScreenFrame, UIElement
from controllers.policy import Decision, HistoryEntry

SCREEN = ScreenFrame(width=1080, height=2400, scale_factor=2.75)
ELEMENT = UIElement(id=3, role=Role.switch, name="와이파이", description="Wi-Fi", value="on", hint="h",
                    bounds=Rect(left=1, top=2, right=300, bottom=90),
                    states=ElementStates(checked=True, clickable=True, focused=True), parent=0, children=[4, 5],
                    app="com.x", window="Settings", attrs={"resource-id": "com.x:id/wifi", "class": "Switch"})

MODELS = [
    ELEMENT,
    SCREEN,
    Observation(platform=Platform.android, screen=SCREEN, elements=[ELEMENT], app="com.x", window="W",
                window_bounds=Rect(left=0, top=0, right=1080, bottom=2400), device="emulator-5554",
                warnings=["tree truncated"]),
    Selector(text_contains="저장", role=Role.button, below=Selector(text="Name"), index=1),
    ActionResult(ok=True, points=[PixelPoint(x=5, y=6)], element_id=3, duration_ms=1.5, info={"effect": "x"}),
    Decision(action=Click(target=element(3)), confidence=0.9, scores={"click": 0.9}, raw={"logits": [1, 2]}),
    Decision(action=None, error="unparseable", raw="garbage"),
    HistoryEntry(step=2, action=TypeText(text="김민준"), ok=False, error="no focus"),
    StepEvent(index=1, description="click #3", ok=True, ms=2.0),
    EpisodeResult(success=True, reason=StopReason.answer, steps=4, answer="010-1234-5678", recording="/r/x"),
    TaskRef(id="contacts.add_contact", seed=7, form="desktop", split="heldout", scale=1.5, params={"name": "김민준"}),
    Outcome(success=False, reason="no_progress", steps=9, message="stuck", final_state="abc"),
    Manifest(session="s", platform="sim", device="sim-phone", screen=SCREEN, goal="목표", policy="expert",
             model="inhouse-v1", task=TaskRef(id="settings.wifi"), started=1.0, ended=2.0, status="finished",
             outcome=Outcome(success=True, reason="done", steps=2), secret_names=["pw"]),
    StepRecord(index=0, time=1.0, observation=ObservationRef(screenshot="step-0000.png", tree="step-0000.tree.json.gz",
                                                             app="a", fingerprint="f", elements=3, width=10, height=20),
               action={"type": "click", "target": {"kind": "element", "id": 1}}, decision={"confidence": 1.0},
               result=ActionResult(ok=True), after_fingerprint="g", timings_ms={"observe": 1.0}),
    ReplayReport(recording="r", executed=2, steps=[StepMatch(index=0, screen_matches=True, ok=True)],
                 final_state_matches=True, success=True, recorded_success=True, message="m"),
]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: type(m).__name__)
def test_round_trip(model):
    again = type(model).model_validate_json(model.model_dump_json())
    assert again == model
    assert type(model).model_validate(model.model_dump(mode="json")) == model
