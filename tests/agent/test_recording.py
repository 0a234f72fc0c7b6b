import gzip
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from agent.loop import Agent
from agent.policies import ScriptedPolicy
from agent.recording import Manifest, RecordingError, Recorder, StepRecord, load_recording, safe_member
from agent.viewer import render_html, write_html
from controllers.actions import Click, OpenApp, TypeText, element
from controllers.sim import SimController
from tasks.base import make_instance
from tasks.expert import ExpertPolicy

ROOT = Path(__file__).resolve().parents[2]


def record_task(tmp_path, task="settings.rename_device", seed=3, **kw):
    inst = make_instance(task, seed=seed)
    rec = Recorder(tmp_path, secrets=inst.secrets, **kw)
    rec.start(goal=inst.goal, policy="expert", platform="sim")
    result = Agent(SimController(inst.device), ExpertPolicy(inst), rec, judge=inst.is_successful).run(inst.goal)
    return inst, result, load_recording(result.recording)


def test_recording_files_and_models_round_trip(tmp_path):
    inst, result, rec = record_task(tmp_path)
    assert rec.complete and rec.warnings == []
    m = Manifest.model_validate_json((rec.path / "manifest.json").read_text())
    assert m == rec.manifest and m.goal == inst.goal and m.version == 1
    for step in rec.steps:
        assert StepRecord.model_validate_json(step.model_dump_json()) == step
        assert (rec.path / step.observation.screenshot).read_bytes()[:4] == b"\x89PNG"
        tree = rec.tree(step)
        assert len(tree) == step.observation.elements and tree[0].id == 0
    executed = [s for s in rec.steps if s.result is not None]
    assert all(s.result.ok and s.result.points for s in executed if s.action["type"] == "click")
    assert set(rec.steps[0].timings_ms) >= {"observe", "decide", "execute", "settle", "record"}


def test_korean_survives_recording(tmp_path):
    inst, result, rec = record_task(tmp_path, seed=5)
    typed = [s.action["text"] for s in rec.steps if s.action and s.action["type"] == "type"]
    assert typed == [inst.params["name"]]
    assert inst.params["name"] in (rec.path / "steps.jsonl").read_text(encoding="utf-8")


def test_webp_and_no_screenshots(tmp_path):
    _, _, rec = record_task(tmp_path / "a", image_format="webp")
    assert rec.steps[0].observation.screenshot.endswith(".webp")
    _, _, rec = record_task(tmp_path / "b", screenshots=False)
    assert rec.steps[0].observation.screenshot is None
    assert "no screenshot" in render_html(rec)


def test_typed_secrets_are_masked_everywhere(tmp_path):
    secret = "s3cr3t-비밀"
    ctl = SimController(seed=4)
    ctl.device.launch("settings")
    ctl.device.app("settings").go("about")
    obs = ctl.observe()
    row = next(e for e in obs.elements if e.attrs.get("sim-key") == "settings:device_name")
    ctl.execute(Click(target=element(row.id)))
    field = next(e for e in ctl.observe().elements if e.attrs.get("sim-key") == "settings:rename_field")
    rec = Recorder(tmp_path)
    rec.start(goal="type the secret", policy="scripted", platform="sim")
    script = [TypeText(text=secret, target=element(field.id), clear=True, secret=True), OpenApp(app="settings")]
    result = Agent(ctl, ScriptedPolicy(script), rec).run("type the secret")
    blobs = []
    for f in Path(result.recording).iterdir():
        data = f.read_bytes()
        blobs.append(gzip.decompress(data) if f.name.endswith(".gz") else data)
    assert all(secret.encode() not in b for b in blobs)
    loaded = load_recording(result.recording)
    assert loaded.steps[0].action["text"] == "••••••" and loaded.steps[0].secret_ref
    # the field showing the secret was blacked out in the next screenshot
    from PIL import Image

    img = Image.open(loaded.path / loaded.steps[1].observation.screenshot)
    tree = loaded.tree(loaded.steps[1])
    shown = next(e for e in tree if e.attrs.get("sim-key") == "settings:rename_field")
    assert shown.value == "••••••"
    assert img.getpixel(shown.bounds.center) == (0, 0, 0)


def test_registered_secrets_are_masked_in_goal_and_outcome(tmp_path):
    rec = Recorder(tmp_path, secrets={"pin": "Pq-4321-zz"})
    rec.start(goal="unlock with Pq-4321-zz", policy="scripted", platform="sim")
    Agent(SimController(seed=1), ScriptedPolicy([{"type": "answer", "text": "pin was Pq-4321-zz"}]), rec).run("g")
    text = (rec.path / "manifest.json").read_text() + (rec.path / "steps.jsonl").read_text()
    assert "Pq-4321-zz" not in text and "••••••" in text


KILL_SCRIPT = textwrap.dedent("""
    import sys, time
    from agent.loop import Agent
    from agent.policies import ScriptedPolicy
    from agent.recording import Recorder
    from controllers.sim import SimController
    from controllers.policy import Decision
    from controllers.actions import OpenApp, System

    class Slow(ScriptedPolicy):
        def decide(self, goal, obs, history):
            time.sleep(0.05)
            return super().decide(goal, obs, history)

    rec = Recorder(sys.argv[1], session="killed")
    rec.start(goal="forever 김민준", policy="slow", platform="sim")
    actions = [OpenApp(app="settings"), System(button="home")] * 1000
    Agent(SimController(seed=1), Slow(actions), rec, max_steps=2000, no_progress_limit=0).run("forever")
""")


def test_sigkill_mid_episode_leaves_a_readable_recording(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(tmp_path)], env=env, cwd=ROOT)
    steps = tmp_path / "killed" / "steps.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline:
        if steps.exists() and steps.read_text().count("\n") >= 5:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    rec = load_recording(tmp_path / "killed")
    assert not rec.complete and rec.manifest.outcome is None
    assert len(rec.steps) >= 5
    assert [s.index for s in rec.steps] == list(range(len(rec.steps)))
    for s in rec.steps:
        assert (rec.path / s.observation.screenshot).stat().st_size > 0
        rec.tree(s)
    assert any("did not finish" in w for w in rec.warnings)
    assert "forever 김민준" in render_html(rec)


def test_truncated_last_line_of_a_killed_run_is_tolerated(tmp_path):
    _, _, rec = record_task(tmp_path)
    m = json.loads((rec.path / "manifest.json").read_text())
    m["status"] = "running"
    (rec.path / "manifest.json").write_text(json.dumps(m))
    with open(rec.path / "steps.jsonl", "a") as f:
        f.write('{"index": 99, "time": 1, "obs')
    again = load_recording(rec.path)
    assert len(again.steps) == len(rec.steps)
    assert any("incomplete last line" in w for w in again.warnings)


@pytest.mark.parametrize("mutate, message", [
    (lambda p: (p / "manifest.json").unlink(), "no manifest"),
    (lambda p: (p / "manifest.json").write_text("{not json"), "not valid JSON"),
    (lambda p: (p / "manifest.json").write_text('{"format": "other"}'), "not a handa-recording"),
    (lambda p: (p / "manifest.json").write_text(
        (p / "manifest.json").read_text().replace('"version": 1', '"version": 7')), "version 7"),
    (lambda p: (p / "steps.jsonl").write_text('{"index": "x"}\n' + (p / "steps.jsonl").read_text()), "line 1"),
    (lambda p: (p / "steps.jsonl").write_text((p / "steps.jsonl").read_text().replace(
        '"step-0001.png"', '"../../etc/passwd"')), "refusing"),
    (lambda p: (p / "steps.jsonl").write_text((p / "steps.jsonl").read_text().replace(
        '"step-0001.png"', '"/etc/passwd"')), "refusing"),
])
def test_corrupt_or_hostile_recordings_get_clear_errors(tmp_path, mutate, message):
    _, _, rec = record_task(tmp_path)
    mutate(rec.path)
    with pytest.raises(RecordingError, match=message):
        load_recording(rec.path)


def test_safe_member_refuses_escapes(tmp_path):
    for name in ("../x", "a/b", "/etc/passwd", "..", "", "x\\..\\y"):
        with pytest.raises(RecordingError):
            safe_member(tmp_path, name)
    assert safe_member(tmp_path, "step-0001.png") == (tmp_path / "step-0001.png").resolve()


def test_view_writes_one_self_contained_page(tmp_path):
    inst, result, rec = record_task(tmp_path)
    out = write_html(rec, tmp_path / "page.html")
    page = out.read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == len(rec.steps)
    assert "<circle" in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert page.count('class="tree"') == len(rec.steps)
    assert "src=\"http" not in page and "<link" not in page


def test_view_escapes_hostile_text(tmp_path):
    rec = Recorder(tmp_path)
    rec.start(goal="<script>alert(1)</script>", policy="scripted", platform="sim")
    Agent(SimController(seed=1), ScriptedPolicy([{"type": "answer", "text": "</script><img onerror=x>"}]),
          rec).run("g")
    page = render_html(load_recording(rec.path))
    assert "<script>alert(1)" not in page and "<img onerror" not in page


def test_task_passwords_never_reach_the_disk(tmp_path):
    """The login password appears in the goal and is typed: every file must show the mask instead."""
    inst, result, rec = record_task(tmp_path, task="login.sign_in", seed=2)
    assert result.success
    password = inst.params["pw"]
    for f in rec.path.iterdir():
        data = f.read_bytes()
        data = gzip.decompress(data) if f.name.endswith(".gz") else data
        assert password.encode() not in data, f.name
    assert rec.manifest.secret_names == ["pw"]
    typed = [s for s in rec.steps if s.action and s.action["type"] == "type" and s.action.get("secret")]
    assert typed and all(s.secret_ref == "pw" for s in typed)


def test_recorded_screenshot_shows_the_screen_before_the_action(tmp_path):
    """Screenshots are lazy; the recorder runs after the action, yet must store what the policy saw."""
    from PIL import Image

    from controllers.sim.render import render_scene

    inst = make_instance("settings.wifi", seed=3)
    ctl = SimController(inst.device)
    rec = Recorder(tmp_path)
    rec.start(goal=inst.goal, policy="expert", platform="sim")
    seen = []

    class Spy(ExpertPolicy):
        def decide(self, goal, obs, history):
            seen.append(render_scene(inst.device).tobytes())  # the screen right now, before acting
            return super().decide(goal, obs, history)

    result = Agent(ctl, Spy(inst), rec, judge=inst.is_successful).run(inst.goal)
    assert result.success
    steps = load_recording(rec.path).steps
    for step, expected in zip(steps, seen):
        assert Image.open(rec.path / step.observation.screenshot).convert("RGB").tobytes() == expected
    assert seen[0] != seen[1]
