import json

import pytest

from agent.loop import Agent
from agent.recording import Recorder, RecordingError, TaskRef, load_recording
from agent.replay import replay
from controllers.sim import SimController
from tasks.base import make_instance
from tasks.expert import ExpertPolicy


def record(tmp_path, task, seed, form="phone"):
    inst = make_instance(task, seed=seed, form=form)
    rec = Recorder(tmp_path, secrets=inst.secrets)
    rec.start(goal=inst.goal, policy="expert", platform="sim",
              task=TaskRef(id=task, seed=seed, form=form))
    Agent(SimController(inst.device), ExpertPolicy(inst), rec, judge=inst.is_successful).run(inst.goal)
    return load_recording(rec.path)


@pytest.mark.parametrize("task, form", [("settings.quiet_mode", "phone"), ("settings.rename_device", "desktop"),
                                        ("login.sign_in", "phone"), ("webform.signup", "desktop")])
def test_replay_reaches_the_recorded_final_state(tmp_path, task, form):
    rec = record(tmp_path, task, 4, form)
    report = replay(rec)
    assert report.final_state_matches and report.diverged_at is None and report.success is True


def test_replay_notices_a_changed_recording(tmp_path):
    rec = record(tmp_path, "settings.rename_device", 4)
    lines = (rec.path / "steps.jsonl").read_text().splitlines()
    step = json.loads(lines[3])
    assert step["action"]["type"] == "type"
    step["action"]["text"] = "something else"
    lines[3] = json.dumps(step, ensure_ascii=False)
    (rec.path / "steps.jsonl").write_text("\n".join(lines) + "\n")
    report = replay(load_recording(rec.path))
    assert not report.final_state_matches


def test_replay_needs_a_sim_recording(tmp_path):
    rec = Recorder(tmp_path)
    rec.start(goal="g", policy="p", platform="android")
    rec.finish(__import__("agent.recording", fromlist=["Outcome"]).Outcome())
    with pytest.raises(RecordingError, match="only sim"):
        replay(load_recording(rec.path))
