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


def test_replay_compares_off_screen_state_and_every_screen(tmp_path):
    """Same final screen, different app state: replay must not call that a match."""
    from agent.policies import ScriptedPolicy
    from controllers.actions import Click, OpenApp, System, element

    inst = make_instance("settings.wifi", seed=5)
    ctl = SimController(inst.device)
    ctl.execute(OpenApp(app="settings"))
    obs = ctl.observe()
    wifi = next(e for e in obs.elements if e.attrs.get("sim-key") == "settings:wifi")
    bt = next(e for e in obs.elements if e.attrs.get("sim-key") == "settings:bluetooth")
    fresh = make_instance("settings.wifi", seed=5)
    rec = Recorder(tmp_path)
    rec.start(goal="g", policy="scripted", platform="sim", task=TaskRef(id="settings.wifi", seed=5))
    script = [OpenApp(app="settings"), Click(target=element(wifi.id)), System(button="home")]
    Agent(SimController(fresh.device), ScriptedPolicy(script), rec).run("g")
    assert replay(load_recording(rec.path)).final_state_matches
    lines = (rec.path / "steps.jsonl").read_text().splitlines()
    step = json.loads(lines[1])
    step["action"]["target"]["id"] = bt.id
    lines[1] = json.dumps(step, ensure_ascii=False)
    (rec.path / "steps.jsonl").write_text("\n".join(lines) + "\n")
    report = replay(load_recording(rec.path))
    assert not report.final_state_matches and report.diverged_at == 2


def test_replay_refuses_unknown_tasks_cleanly(tmp_path):
    rec = record(tmp_path, "settings.wifi", 1)
    m = json.loads((rec.path / "manifest.json").read_text())
    m["task"]["id"] = "no.such.task"
    (rec.path / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(RecordingError, match="cannot rebuild"):
        replay(load_recording(rec.path))
    m["task"]["form"] = "tablet"
    (rec.path / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(RecordingError, match="invalid manifest"):
        load_recording(rec.path)
