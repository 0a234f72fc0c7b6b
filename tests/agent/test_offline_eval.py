"""``handa eval``: offline scoring of a policy on recordings (issue #6)."""
import gzip
import json
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from agent.cli_eval import eval_cmd
from agent.loop import Agent
from agent.offline_eval import (TAP_DISTANCE, OfflineEvaluator, find_recordings, normalize_text, same_app,
                                score_step, token_f1)
from agent.policies import ScriptedPolicy
from agent.recording import Masker, Recorder, TaskRef, load_recording
from controllers.actions import (SECRET_MASK, Answer, Click, Done, Drag, Key, LongPress, OpenApp, Scroll, System,
                                 TypeText, element, point, select)
from controllers.elements import ElementStates, Observation, Rect, ScreenFrame, UIElement
from controllers.policy import Decision
from controllers.sim import SimController
from tasks.base import make_instance
from tasks.expert import ExpertPolicy

app = typer.Typer()
app.command("eval")(eval_cmd)


@app.command("other")
def _other() -> None:  # a second command, so `eval` is a subcommand as it is under `handa`
    pass


runner = CliRunner()

EPISODES = [  # (task, seed, form): a toggle, typing, a typed secret, an answer, a slider point
    ("settings.wifi", 1, "phone"),
    ("contacts.add_contact", 2, "phone"),
    ("login.sign_in", 3, "phone"),
    ("contacts.read_phone", 4, "desktop"),
    ("settings.volume", 5, "phone"),
]


def record_expert(root: Path, task: str, seed: int, form: str) -> Path:
    inst = make_instance(task, seed=seed, form=form)
    ctl = SimController(inst.device)
    rec = Recorder(root, secrets=inst.secrets)
    rec.start(goal=inst.goal, policy=f"expert:{task}", platform="sim", device=f"sim-{form}", screen=ctl.screen,
              task=TaskRef(id=task, seed=seed, form=form, params=inst.params))
    result = Agent(ctl, ExpertPolicy(inst), rec, judge=inst.is_successful).run(inst.goal)
    assert result.success, (task, result)
    return rec.path


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("recs")
    return {task: record_expert(root / task.split(".")[0], task, seed, form) for task, seed, form in EPISODES}


@pytest.fixture(scope="module")
def rec_dir(recordings) -> Path:
    return next(iter(recordings.values())).parents[1]


def invoke(*args: str):
    return runner.invoke(app, ["eval", *args])


def last_json(result) -> dict:
    return json.loads([line for line in result.stdout.splitlines() if line.startswith("{")][-1])


def scripted(tmp_path: Path, actions: list) -> Path:
    path = tmp_path / "script.json"
    path.write_text(json.dumps(actions, ensure_ascii=False), encoding="utf-8")
    return path


# ---------------------------------------------------------------- end to end


def test_the_expert_reproduces_itself_perfectly(rec_dir, recordings):
    r = invoke(str(rec_dir), "--policy", "expert", "--json")
    assert r.exit_code == 0, r.output
    data = last_json(r)
    total_steps = sum(len(load_recording(p).steps) for p in recordings.values())
    assert data["episodes"] == len(EPISODES) and data["steps"] == total_steps and data["skipped"] == 0
    for key in ("action_type_accuracy", "target_accuracy", "text_match", "text_f1", "step_success"):
        assert data[key] == 1.0, key
    assert data["counts"]["target_scored"] >= 8 and data["counts"]["text_scored"] >= 5
    assert {r["task"] for r in data["recordings"]} == {t for t, _, _ in EPISODES}
    for rec in data["recordings"]:
        assert rec["step_success"] == 1.0 and all(s["step"] and not s["reasons"] for s in rec["details"])
    assert "per step" in r.stderr and "summary" in r.stderr and "✓" in r.stderr


def test_json_fields(rec_dir):
    r = invoke(str(rec_dir), "--policy", "expert", "--json", "--no-steps")
    data = last_json(r)
    for key in ("episodes", "steps", "action_type_accuracy", "target_accuracy", "text_match", "text_f1",
                "step_success", "skipped", "mean_latency_ms", "median_latency_ms", "recordings",
                "skipped_recordings", "policy"):
        assert key in data, key
    assert data["policy"] == "expert" and data["mean_latency_ms"] >= 0
    rec = data["recordings"][0]
    for key in ("recording", "session", "task", "goal", "steps", "skipped", "step_success", "details"):
        assert key in rec, key
    step = rec["details"][0]
    for key in ("index", "recorded", "predicted", "action_type", "target", "text", "text_f1", "step", "reasons",
                "latency_ms"):
        assert key in step, key
    assert "per step" not in r.stderr  # --no-steps


def test_wrong_script_scores_low_with_per_field_reasons(tmp_path, recordings):
    rec = load_recording(recordings["settings.wifi"])
    recorded = [s.action for s in rec.steps]
    assert [a["type"] for a in recorded] == ["open_app", "click", "done"]
    wifi = recorded[1]["target"]["id"]
    script = scripted(tmp_path, [{"type": "open_app", "app": "com.handa.contacts"},
                                 {"type": "long_press", "target": {"kind": "element", "id": wifi}},
                                 {"type": "done", "status": "failure"}])
    r = invoke(str(rec.path), "--policy", "scripted", "--script", str(script), "--json")
    assert r.exit_code == 0, r.output
    data = last_json(r)
    assert data["steps"] == 3 and data["step_success"] == 0.0
    assert data["action_type_accuracy"] == pytest.approx(2 / 3, abs=1e-3) and data["target_accuracy"] == 1.0
    s0, s1, s2 = data["recordings"][0]["details"]
    assert s0["action_type"] and not s0["fields"] and any(x.startswith("app:") for x in s0["reasons"])
    assert not s1["action_type"] and s1["target"] is True
    assert s1["reasons"] == ["type: predicted long_press, recorded click"]
    assert s2["action_type"] and any("status: predicted failure, recorded success" in x for x in s2["reasons"])


def test_typing_mistakes_are_scored_field_by_field(tmp_path, recordings):
    rec = load_recording(recordings["contacts.add_contact"])
    acts = [s.action for s in rec.steps]
    assert [a["type"] for a in acts] == ["open_app", "click", "type", "type", "click", "done"]
    name, number = acts[2], acts[3]
    script = scripted(tmp_path, [
        {"type": "open_app", "app": "CONTACTS"},  # same app: case-insensitive, package vs name
        {"type": "click", "target": {"kind": "point", "x": 0.02, "y": 0.02}},  # far off the recorded button
        {**name, "text": name["text"].split()[0]},  # half the name: text wrong, F1 2/3
        {**number, "target": name["target"]},  # right text, wrong field
        {"type": "scroll", "direction": "down"},
        {"type": "done", "status": "success"},
    ])
    r = invoke(str(rec.path), "--policy", "scripted", "--script", str(script), "--json")
    data = last_json(r)
    d = data["recordings"][0]["details"]
    assert [s["step"] for s in d] == [True, False, False, False, False, True]
    assert d[1]["action_type"] and d[1]["target"] is False and "outside recorded" in d[1]["reasons"][0]
    assert d[2]["target"] is True and d[2]["text"] is False and d[2]["text_f1"] == pytest.approx(2 / 3, abs=1e-3)
    assert d[3]["text"] is True and d[3]["target"] is False
    assert not d[4]["action_type"] and d[4]["target"] is False
    assert data["text_match"] == 0.5 and data["text_f1"] == pytest.approx((2 / 3 + 1) / 2, abs=1e-3)
    assert data["step_success"] == pytest.approx(2 / 6, abs=1e-3)


def test_inhouse_runs_and_keeps_secrets(rec_dir):
    r = invoke(str(rec_dir), "--policy", "inhouse", "--json")
    assert r.exit_code == 0, r.output
    data = last_json(r)
    assert data["episodes"] == len(EPISODES) and data["steps"] > 0
    for key in ("action_type_accuracy", "target_accuracy", "text_match", "text_f1", "step_success"):
        assert 0.0 <= data[key] <= 1.0, key
    assert data["mean_latency_ms"] > 0
    password = make_instance("login.sign_in", seed=3, form="phone").params["pw"]
    assert password not in r.output


@pytest.fixture(scope="module")
def inhouse():
    return OfflineEvaluator("inhouse")


def test_inhouse_memory_is_teacher_forced(inhouse, recordings):
    """The model's episode memory must hold the recorded actions, not its own guesses."""
    rec = load_recording(recordings["contacts.add_contact"])
    result = inhouse.evaluate_recording(rec)
    assert result.steps == len(rec.steps) and 0.0 <= result.step_success <= 1.0
    policy = inhouse.shared
    last_action, last_obs = policy._last
    assert last_action.type == "done" and last_obs.fingerprint() == rec.steps[-1].observation.fingerprint
    click = rec.steps[1]
    tried = policy.tried.get(click.observation.fingerprint)
    assert tried and tried[-1].model_dump(mode="json", exclude_none=True) == click.action


def test_inhouse_reproduces_its_own_live_run(tmp_path, inhouse):
    """Recorded as `handa run` records the model (no sim keys, screenshots, a masked password in the goal): the
    rebuilt observations, screenshots, goal and history must make it decide exactly as it did live."""
    inst = make_instance("login.sign_in", seed=3)
    ctl = SimController(inst.device, expose_keys=False)
    rec = Recorder(tmp_path, secrets=inst.secrets)
    rec.start(goal=inst.goal, policy="inhouse", platform="sim", device="sim-phone", screen=ctl.screen,
              task=TaskRef(id="login.sign_in", seed=3, params=inst.params))
    Agent(ctl, inhouse.shared, rec, judge=inst.is_successful, max_steps=12).run(inst.goal)
    recording = load_recording(rec.path)
    assert "pw" in recording.manifest.secret_names and inst.params["pw"] not in recording.manifest.goal
    result = inhouse.evaluate_recording(recording)
    assert result.steps == len(recording.steps) >= 3
    assert result.step_success == 1.0, [(s.recorded, s.predicted) for s in result.details if not s.step]
    assert not result.warnings


def test_expert_output_never_shows_the_password(recordings):
    r = invoke(str(recordings["login.sign_in"]), "--policy", "expert", "--json")
    data = last_json(r)
    typed = [s for s in data["recordings"][0]["details"] if SECRET_MASK in s["recorded"]]
    assert typed and all(s["step"] and SECRET_MASK in s["predicted"] for s in typed)
    password = make_instance("login.sign_in", seed=3, form="phone").params["pw"]
    assert password not in r.output


def test_a_dir_finds_recordings_at_any_depth(tmp_path, recordings):
    deep = tmp_path / "a" / "b"
    shutil.copytree(recordings["settings.wifi"], deep / "one")
    shutil.copytree(recordings["settings.volume"], tmp_path / "two")
    found = find_recordings([tmp_path])
    assert sorted(p.name for p in found) == ["one", "two"]
    r = invoke(str(tmp_path), "--policy", "expert", "--json")
    assert r.exit_code == 0 and last_json(r)["episodes"] == 2
    # a recording given itself, twice, is evaluated once
    assert len(find_recordings([deep / "one", deep / "one"])) == 1


def test_unreadable_recordings_are_reported_not_fatal(tmp_path, recordings):
    shutil.copytree(recordings["settings.wifi"], tmp_path / "good")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "manifest.json").write_text("{ not json")
    shutil.copytree(recordings["contacts.add_contact"], tmp_path / "bad_tree")
    (tmp_path / "bad_tree" / "step-0002.tree.json.gz").write_bytes(b"not gzip at all")
    r = invoke(str(tmp_path), "--policy", "expert", "--json")
    assert r.exit_code == 0, r.output
    data = last_json(r)
    assert [Path(s["recording"]).name for s in data["skipped_recordings"]] == ["broken"]
    assert "not valid JSON" in data["skipped_recordings"][0]["reason"] and "broken" in r.stderr
    bad = next(x for x in data["recordings"] if x["session"] and Path(x["recording"]).name == "bad_tree")
    assert [s["index"] for s in bad["skipped_steps"]] == [2] and "unreadable" in bad["skipped_steps"][0]["reason"]
    assert bad["skipped"] == 1 and data["skipped"] == 1 and data["episodes"] == 2


def test_usage_errors_and_nothing_to_evaluate(tmp_path, recordings):
    assert invoke(str(tmp_path / "nowhere"), "--policy", "expert").exit_code == 2
    assert invoke(str(recordings["settings.wifi"]), "--policy", "oracle").exit_code == 2
    assert invoke(str(recordings["settings.wifi"]), "--policy", "scripted").exit_code == 2
    assert invoke().exit_code == 2
    (tmp_path / "empty").mkdir()
    r = invoke(str(tmp_path / "empty"), "--policy", "expert", "--json")
    assert r.exit_code == 1 and last_json(r)["steps"] == 0 and "no step could be evaluated" in r.stderr


def record_scripted_without_keys(root: Path) -> Path:
    """A non-expert run as `handa run` records it: sim keys stripped; its first decision is refused."""
    inst = make_instance("settings.wifi", seed=7)
    rec = Recorder(root)
    rec.start(goal=inst.goal, policy="scripted", platform="sim", task=TaskRef(id="settings.wifi", seed=7))
    script = [Click(target=element(999)), OpenApp(app="settings"), Done()]
    Agent(SimController(inst.device, expose_keys=False), ScriptedPolicy(script), rec).run(inst.goal)
    return rec.path


def test_expert_needs_sim_keys(tmp_path):
    path = record_scripted_without_keys(tmp_path)
    r = invoke(str(path), "--policy", "expert", "--json")
    assert r.exit_code == 1
    data = last_json(r)
    assert data["episodes"] == 0 and "sim keys" in data["skipped_recordings"][0]["reason"]
    assert "sim keys" in r.stderr


def test_refused_steps_are_skipped_and_history_is_the_recorded_one(tmp_path, recordings):
    path = record_scripted_without_keys(tmp_path)
    seen = []

    class Spy:
        name = "spy"

        def reset(self, goal):
            seen.append(("reset", goal))

        def decide(self, goal, observation, history):
            image = observation.screenshot()
            seen.append((len(observation.elements), [(h.action.type if h.action else None, h.ok) for h in history],
                         image.size if image is not None else None,
                         any("sim-key" in e.attrs for e in observation.elements)))
            return Decision(action=Done())

    evaluator = OfflineEvaluator("scripted", script=scripted(tmp_path, [{"type": "done"}]))
    evaluator.shared = Spy()
    report = evaluator.run([path, recordings["settings.wifi"]])
    first, second = report.recordings
    assert first.skipped == 1 and first.skipped_steps[0].index == 0 and "refused" in first.skipped_steps[0].reason
    assert first.steps == 2 and report.skipped == 1
    # step 1 saw the refused step 0 in its history; step 2 also the recorded open_app
    assert seen[1][1] == [(None, False)] and seen[2][1] == [(None, False), ("open_app", True)]
    assert seen[1][0] > 0 and seen[1][2] is not None  # the stored tree and screenshot
    assert not any(s[3] for s in seen if s[0] != "reset")  # sim keys never reach a non-expert policy
    assert second.details[-1].step and not second.details[0].step  # done matches done only


@pytest.mark.parametrize("form, with_screen", [("phone", False), ("desktop", True)])
def test_rebuilt_observation_matches_the_live_one(tmp_path, form, with_screen):
    from agent.offline_eval import rebuild_observation
    from agent.recording import Outcome

    inst = make_instance("contacts.read_phone", seed=4, form=form)
    ctl = SimController(inst.device)
    ctl.execute(OpenApp(app="contacts"))
    live = ctl.observe()
    rec = Recorder(tmp_path)
    rec.start(goal=inst.goal, policy="expert", platform="sim", screen=ctl.screen if with_screen else None,
              task=TaskRef(id="contacts.read_phone", seed=4, form=form))
    rec.step(0, live, action=Done())
    rec.finish(Outcome())
    recording = load_recording(rec.path)
    obs = rebuild_observation(recording, recording.steps[0])
    assert obs.fingerprint() == live.fingerprint() and obs.elements == live.elements
    assert (obs.window_bounds, obs.device, obs.screen, obs.app, obs.window) == \
        (live.window_bounds, live.device, live.screen, live.app, live.window)
    assert obs.screenshot().tobytes() == live.screenshot().convert("RGB").tobytes()
    stripped = rebuild_observation(recording, recording.steps[0], keep_sim_keys=False)
    assert not any("sim-key" in e.attrs for e in stripped.elements)
    window_click = Click(target=point(0.5, 0.5, frame="window"))  # resolves against the rebuilt window box
    assert score_step(window_click, Click(target=point(0.5, 0.5, frame="window")), obs).step


# ---------------------------------------------------------------- the scorer on hand-built pairs


def obs_with(*elements: UIElement, width: int = 400, height: int = 800) -> Observation:
    return Observation(platform="sim", screen=ScreenFrame(width=width, height=height), elements=list(elements))


BUTTON = UIElement(id=1, role="button", name="OK", bounds=Rect(left=100, top=100, right=200, bottom=150),
                   children=[2])
LABEL = UIElement(id=2, role="text", name="OK", bounds=Rect(left=120, top=110, right=180, bottom=140), parent=1)
OTHER = UIElement(id=3, role="button", name="Cancel", bounds=Rect(left=250, top=100, right=350, bottom=150))
FIELD = UIElement(id=4, role="text_field", bounds=Rect(left=0, top=300, right=400, bottom=350),
                  states=ElementStates(focused=True, editable=True))
OBS = obs_with(BUTTON, LABEL, OTHER, FIELD)


def px(x: int, y: int):
    return point(x / 399, y / 799)


def test_inside_the_box_counts():
    rec = Click(target=element(1))
    assert score_step(rec, Click(target=element(1)), OBS).step
    assert score_step(rec, Click(target=px(105, 145)), OBS).target  # a point inside the box
    assert score_step(rec, Click(target=element(2)), OBS).target  # the label inside the button
    assert score_step(rec, Click(target=select(text="OK", role="button")), OBS).target  # a selector
    miss = score_step(rec, Click(target=element(3)), OBS)
    assert miss.target is False and not miss.step and "outside recorded #1's box" in miss.reasons[0]
    assert score_step(rec, Click(target=px(99, 120)), OBS).target is False  # one pixel left of it
    gone = score_step(rec, Click(target=element(42)), OBS)
    assert gone.target is False and not gone.valid and any(x.startswith("refused") for x in gone.reasons)


def test_points_without_an_element_use_the_distance_threshold():
    rec = Click(target=px(200, 400))
    near = 0.9 * TAP_DISTANCE
    assert score_step(rec, Click(target=px(200 + round(near * 400), 400)), OBS).target
    far = score_step(rec, Click(target=px(200, 400 + round(1.2 * TAP_DISTANCE * 800))), OBS)
    assert far.target is False and "of the screen from the recorded" in far.reasons[0]
    assert score_step(rec, Click(target=element(3)), OBS).target is False  # (300, 125) is far from (200, 400)


def test_type_click_long_press_done_answer_are_distinct():
    assert not score_step(Click(target=element(1)), LongPress(target=element(1)), OBS).action_type
    s = score_step(Done(), Answer(text="yes"), OBS)
    assert not s.action_type and not s.step and s.text is None
    a = score_step(Answer(text="42"), Done(), OBS)
    assert not a.action_type and a.text is False and a.text_f1 == 0.0


def test_text_normalization_and_f1():
    assert normalize_text("  Hello\t\n  WORLD ") == "hello world" and normalize_text("Straße") == "strasse"
    assert token_f1("hello big world", "hello world") == pytest.approx(0.8)
    assert token_f1("", "") == 1.0 and token_f1("a", "b") == 0.0
    rec = TypeText(text="Call me  when you're FREE", target=element(4))
    ok = score_step(rec, TypeText(text="call me when you're free", target=element(4)), OBS)
    assert ok.text and ok.text_f1 == 1.0 and ok.step
    part = score_step(rec, TypeText(text="call me later", target=element(4)), OBS)
    assert part.text is False and part.text_f1 == pytest.approx(2 * (2 / 3) * (2 / 5) / (2 / 3 + 2 / 5), abs=1e-3)
    assert score_step(Answer(text="010-1234"), Answer(text=" 010-1234 "), OBS).step


def test_type_without_target_means_the_focused_field():
    rec = TypeText(text="hi", target=element(4))
    assert score_step(rec, TypeText(text="hi"), OBS).target
    assert score_step(rec, TypeText(text="hi"), obs_with(BUTTON, FIELD.model_copy(
        update={"states": ElementStates(editable=True)}))).target is False
    assert score_step(TypeText(text="hi"), TypeText(text="hi", target=element(3)), OBS).target is None  # not scored


def test_essential_fields():
    down = Scroll(direction="down", target=element(1))
    up = score_step(down, Scroll(direction="up", target=element(1)), OBS)
    assert up.action_type and up.target and not up.fields and not up.step
    assert up.reasons == ["direction: predicted up, recorded down"]
    assert score_step(down, Scroll(direction="down"), OBS).step  # the page vs its body
    assert score_step(Key(keys=["ctrl", "a"]), Key(keys=["a", "ctrl"]), OBS).step
    assert not score_step(Key(keys=["ctrl", "a"]), Key(keys=["ctrl", "c"]), OBS).step
    assert not score_step(System(button="back"), System(button="home"), OBS).step
    assert score_step(OpenApp(app="com.handa.settings"), OpenApp(app="Settings"), OBS).step
    assert not score_step(OpenApp(app="com.handa.settings"), OpenApp(app="contacts"), OBS).step
    assert not score_step(Done(status="success"), Done(status="infeasible"), OBS).step
    assert not score_step(Click(target=element(1)), Click(target=element(1), count=2), OBS).step
    assert same_app("Notes", "com.handa.notes") and not same_app("notes", "keynotes")
    drag = Drag(start=element(1), end=element(3))
    assert score_step(drag, Drag(start=element(2), end=element(3)), OBS).step
    both = score_step(drag, Drag(start=element(3), end=element(1)), OBS)
    assert both.target is False and len([x for x in both.reasons if x.startswith("target")]) == 2


def test_secrets_compare_masked_and_are_never_reported():
    recorded = TypeText(text=SECRET_MASK, target=element(4), secret=True)  # as the recording stores it
    flagged = score_step(recorded, TypeText(text="hunter2", target=element(4), secret=True), OBS)
    assert flagged.step and "hunter2" not in flagged.model_dump_json()
    masker = Masker({"pw": "hunter2"})
    unflagged = score_step(recorded, TypeText(text="hunter2", target=element(4)), OBS, masker=masker)
    assert unflagged.text and "hunter2" not in unflagged.model_dump_json()
    wrong = score_step(TypeText(text="hello", target=element(4)),
                       TypeText(text="my hunter2", target=element(4)), OBS, masker=masker)
    assert wrong.text is False and "hunter2" not in wrong.model_dump_json() and SECRET_MASK in wrong.predicted
    err = score_step(recorded, None, OBS, masker=masker, error="model output: hunter2")
    assert not err.step and "hunter2" not in err.model_dump_json()


def test_an_invalid_stored_tree_skips_only_its_step(tmp_path, recordings):
    """A tree that unpacks but holds no valid elements: that step is skipped with the reason, the rest scored."""
    shutil.copytree(recordings["settings.wifi"], tmp_path / "r")
    (tmp_path / "r" / "step-0001.tree.json.gz").write_bytes(gzip.compress(b"[{\"id\": -1}]"))
    report = OfflineEvaluator("expert").run([tmp_path / "r"])
    res = report.recordings[0]
    assert [s.index for s in res.skipped_steps] == [1] and res.steps == 2
