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
              task=TaskRef(id=task, seed=seed, form=form, params=inst.params))
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


# ---------------------------------------------------------------- modes, other looks, divergence and repair

import gzip  # noqa: E402

from typer.testing import CliRunner  # noqa: E402

from agent.cli import app  # noqa: E402

# (template, form, recorded seed, another look): multi-step templates; the looks differ in screen size, theme
# and label synonyms (the recorded seeds keep platform ids, which a relabelled control is found again by)
RELOOKS = [("contacts.add_contact", "phone", 1, 6), ("shop.buy_and_ship", "phone", 1, 6),
           ("login.sign_in", "phone", 1, 6), ("webform.signup", "desktop", 1, 2)]


def test_a_look_seed_changes_the_looks_and_keeps_the_world():
    base = make_instance("contacts.add_contact", seed=1)
    other = make_instance("contacts.add_contact", seed=1, look_seed=6)
    same = make_instance("contacts.add_contact", seed=1, look_seed=1)
    assert other.params == base.params and other.goal == base.goal
    from controllers.sim.device import _plain

    def data(device):  # every app's state but the calculator's key symbols (its clear key wears a label)
        return {k: _plain({n: v for n, v in vars(a).items() if n not in ("device", "style", "rng", "sym")})
                for k, a in device.apps.items()}

    assert data(other.device) == data(base.device) and other.device.clock == base.device.clock
    assert other.device.size != base.device.size
    assert other.device.style.theme.name != base.device.style.theme.name
    assert other.device.style.label("save") != base.device.style.label("save")
    # the look of seed 6 is the look a device seeded 6 has
    assert other.device.size == make_instance("contacts.add_contact", seed=6).device.size
    assert SimController(same.device).observe().fingerprint() == SimController(base.device).observe().fingerprint()


@pytest.mark.parametrize("task, form, seed, look", RELOOKS)
def test_robust_replay_survives_another_look_where_exact_fails(tmp_path, task, form, seed, look):
    rec = record(tmp_path, task, seed, form)
    assert rec.manifest.outcome.success

    exact_same = replay(rec, "exact")
    assert exact_same.ok and exact_same.diverged_at is None and exact_same.success is True

    exact_other = replay(rec, "exact", look_seed=look)
    assert not exact_other.ok and exact_other.diverged_at == 0
    assert exact_other.message.startswith("diverged at step 1: the screen differs from the recording (screen ")
    assert exact_other.steps[0].status == "differs"

    robust = replay(rec, "robust", look_seed=look)
    assert robust.ok and robust.success is True and robust.divergence is None, robust.message
    assert robust.mode == "robust" and robust.look_seed == look
    acted = [s for s in rec.steps if s.action and s.action["type"] not in ("done", "answer")]
    assert [s.status for s in robust.steps] == ["matched"] * len(acted) + ["terminal"]
    targets = [t for s in robust.steps for t in s.targets]
    assert targets and all(t.found and t.kind == "element" and t.score >= 0.45 for t in targets)
    # found again although the label changed: by platform id, neighbours and place, not by the text alone
    assert any(t.recorded.split("'")[1] != t.live.split("'")[1] for t in targets)

    robust_same = replay(rec, "robust")
    assert robust_same.ok and robust_same.final_state_matches
    assert all(s.screen_similarity == 1.0 for s in robust_same.steps)


def test_robust_replay_resupplies_the_secret_and_never_shows_it(tmp_path):
    rec = record(tmp_path, "login.sign_in", 1)
    password = make_instance("login.sign_in", seed=1).params["pw"]
    report = replay(rec, "robust", look_seed=6)
    assert report.ok
    assert any(s.action.startswith("type '••••••'") for s in report.steps)
    assert password not in report.model_dump_json()


def _tamper(rec, step_index: int, label: str = "Frobnicate"):
    """Make a recorded step's target an element no look of the app has."""
    step = rec.steps[step_index]
    f = rec.file(step.observation.tree)
    tree = json.loads(gzip.decompress(f.read_bytes()))
    el = tree[step.action["target"]["id"]]
    el["name"] = el["description"] = label
    el["attrs"]["resource-id"] = f"com.handa.contacts:id/{label.lower()}"
    f.write_bytes(gzip.compress(json.dumps(tree, ensure_ascii=False).encode()))
    return load_recording(rec.path)


def test_robust_replay_stops_where_a_target_is_gone(tmp_path):
    rec = record(tmp_path, "contacts.add_contact", 1)
    assert rec.steps[1].action["type"] == "click"
    rec = _tamper(rec, 1)
    for look in (None, 6):
        report = replay(rec, "robust", look_seed=look)
        assert not report.ok and report.success is False
        d = report.divergence
        assert d.step == 1 and d.reason == "target_not_found" and report.diverged_at == 1
        assert d.recorded == "button 'Frobnicate' (com.handa.contacts:id/frobnicate)"
        assert len(d.candidates) == 3 and all(c.score < 0.45 for c in d.candidates)
        assert report.message.startswith("diverged at step 2: the recorded element target button 'Frobnicate'")
        assert "best: #" in report.message
        assert [s.status for s in report.steps] == ["matched", "diverged"]
        assert report.executed == 1  # nothing ran after the divergence (the button lay in no scrolling list)


def test_repair_hands_the_step_to_the_expert_and_goes_on(tmp_path):
    rec = _tamper(record(tmp_path, "contacts.add_contact", 1), 1)
    report = replay(rec, "robust", look_seed=6, repair=True, policy="expert")
    assert report.ok and report.success is True and report.divergence is None, report.message
    assert report.repaired == 1 and report.repair_policy == "expert"
    statuses = [s.status for s in report.steps]
    assert statuses[:3] == ["matched", "diverged", "repaired"]
    repaired = report.steps[2]
    assert repaired.repaired and repaired.index == 1 and repaired.action.startswith("click #")
    # the recorded steps after the repaired one were found on the new screen and replayed
    assert statuses[3:] == ["matched", "matched", "matched", "terminal"]
    assert "1 repaired" in report.message


def test_after_a_repair_that_did_the_step_another_way_the_replay_resumes_at_the_next_step(tmp_path):
    from controllers.actions import Click, point
    from controllers.policy import Decision

    class TapsAdd:
        """Taps the contacts' add button by its point: a repair the replay cannot tie to the recorded target."""

        name = "taps-add"

        def decide(self, goal, observation, history):
            e = next(e for e in observation.elements if e.resource_id == "com.handa.contacts:id/add")
            (cx, cy), w, h = e.bounds.center, observation.screen.width, observation.screen.height
            return Decision(action=Click(target=point(cx / (w - 1), cy / (h - 1))))

    rec = _tamper(record(tmp_path, "contacts.add_contact", 1), 1)
    report = replay(rec, "robust", look_seed=6, repair=True, policy=TapsAdd())
    assert report.ok and report.repaired == 1, report.message
    assert [(s.index, s.status) for s in report.steps] == [
        (0, "matched"), (1, "diverged"), (1, "repaired"), (1, "skipped"), (2, "matched"), (3, "matched"),
        (4, "matched"), (5, "terminal")]


def test_repair_gives_up_after_its_budget(tmp_path):
    from controllers.actions import Wait
    from controllers.policy import Decision

    class Idle:
        name = "idle"

        def decide(self, goal, observation, history):
            return Decision(action=Wait(seconds=0))

    rec = _tamper(record(tmp_path, "contacts.add_contact", 1), 1)
    report = replay(rec, "robust", repair=True, policy=Idle(), max_repairs=3)
    assert not report.ok and report.repaired == 3
    assert report.divergence.step == 1 and "gave up after 3 repairs" in report.message


def test_robust_replay_maps_point_targets_through_the_element_under_them(tmp_path):
    rec = record(tmp_path, "contacts.add_contact", 1)
    lines = (rec.path / "steps.jsonl").read_text().splitlines()
    step = json.loads(lines[1])
    p = step["result"]["points"][0]
    w, h = step["observation"]["width"], step["observation"]["height"]
    step["action"]["target"] = {"kind": "point", "x": p["x"] / (w - 1), "y": p["y"] / (h - 1), "frame": "screen"}
    lines[1] = json.dumps(step, ensure_ascii=False)
    (rec.path / "steps.jsonl").write_text("\n".join(lines) + "\n")
    rec = load_recording(rec.path)
    assert replay(rec, "exact").ok
    report = replay(rec, "robust", look_seed=6)
    assert report.ok, report.message
    t = report.steps[1].targets[0]
    assert t.kind == "point" and t.found and t.recorded.startswith("button") and "(com.handa.contacts:id/add)" in t.live


def test_replay_rejects_unknown_modes_and_repair_without_robust(tmp_path):
    rec = record(tmp_path, "settings.wifi", 1)
    with pytest.raises(ValueError, match="unknown replay mode"):
        replay(rec, "fuzzy")
    with pytest.raises(ValueError, match="--repair needs --mode robust"):
        replay(rec, "exact", repair=True)


def test_replay_warns_when_another_seed_changes_the_task(tmp_path):
    rec = record(tmp_path, "contacts.add_contact", 1)
    report = replay(rec, "robust", seed=2)
    assert any("parameters differ" in w for w in report.warnings)
    assert report.seed == 2 and not report.ok  # the recorded name and number are not this instance's


def test_cli_replay_modes_and_exit_codes(tmp_path):
    runner = CliRunner()
    rec = record(tmp_path, "contacts.add_contact", 1)
    path = str(rec.path)

    def run(*args):
        return runner.invoke(app, ["replay", path, *args])

    r = run()
    assert r.exit_code == 0, r.output
    r = run("--mode", "exact", "--look-seed", "6", "--json")
    assert r.exit_code == 1
    data = json.loads(r.stdout.strip().splitlines()[-1])
    assert data["mode"] == "exact" and data["diverged_at"] == 0 and not data["ok"]
    r = run("--mode", "robust", "--look-seed", "6", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout.strip().splitlines()[-1])
    assert data["ok"] and data["success"] and [s["status"] for s in data["steps"]][-1] == "terminal"
    assert "matched" in r.stderr and "screen 1.00" in " ".join(r.stderr.split())

    _tamper(rec, 1)
    r = run("--mode", "robust", "--look-seed", "6")
    assert r.exit_code == 1
    err = " ".join(r.stderr.split())
    assert "diverged at step 2" in err and "Frobnicate" in err and "best live candidates" in err
    r = run("--mode", "robust", "--look-seed", "6", "--repair", "--policy", "expert", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout.strip().splitlines()[-1])["repaired"] == 1
    assert "repaired" in r.stderr

    assert run("--repair").exit_code == 2
    assert run("--mode", "fuzzy").exit_code == 2
    assert run("--mode", "robust", "--repair", "--policy", "scripted").exit_code == 2
    assert runner.invoke(app, ["replay", str(tmp_path / "nope")]).exit_code == 2


def test_cli_replay_refuses_an_expert_repair_without_a_task(tmp_path):
    from agent.policies import ScriptedPolicy
    from controllers.actions import OpenApp

    rec = Recorder(tmp_path)
    rec.start(goal="open settings", policy="scripted", platform="sim", task=TaskRef(id="", seed=2))
    Agent(SimController(seed=2), ScriptedPolicy([OpenApp(app="settings")]), rec).run("open settings")
    runner = CliRunner()
    r = runner.invoke(app, ["replay", str(rec.path), "--mode", "robust", "--repair", "--policy", "expert"])
    assert r.exit_code == 2 and "the expert repairs only recordings of a sim task" in " ".join(r.stderr.split())
    # without a task, robust replay holds when it reaches the recording's end without diverging
    r = runner.invoke(app, ["replay", str(rec.path), "--mode", "robust", "--look-seed", "5", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout.strip().splitlines()[-1])
    assert data["success"] is None and [s["status"] for s in data["steps"]] == ["matched", "terminal"]
