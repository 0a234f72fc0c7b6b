import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from agent.cli import app

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def last_json(output: str) -> dict:
    return json.loads([line for line in output.splitlines() if line.startswith("{")][-1])


def test_run_json_and_exit_code_zero(tmp_path):
    r = runner.invoke(app, ["run", "--policy", "expert", "--task", "settings.wifi", "--seed", "3", "--record-dir", str(tmp_path), "--json"])
    assert r.exit_code == 0, r.output
    data = last_json(r.stdout)
    assert data["success"] is True and data["reason"] == "done" and data["steps"] >= 2
    assert Path(data["recording"]).is_dir()


def test_failed_task_exits_one(tmp_path):
    script = tmp_path / "s.json"
    script.write_text(json.dumps([{"type": "done", "status": "success"}]))
    r = runner.invoke(app, ["run", "--task", "settings.wifi", "--policy", "scripted", "--script", str(script),
                            "--no-record", "--json"])
    assert r.exit_code == 1
    assert last_json(r.stdout)["success"] is False


def test_usage_errors_exit_two(tmp_path):
    assert runner.invoke(app, ["run"]).exit_code == 2
    assert runner.invoke(app, ["run", "--task", "no.such.task"]).exit_code == 2
    assert runner.invoke(app, ["run", "goal text", "--policy", "expert"]).exit_code == 2
    assert runner.invoke(app, ["run", "goal", "--policy", "scripted"]).exit_code == 2
    assert runner.invoke(app, ["run", "goal", "--platform", "mars"]).exit_code == 2
    assert runner.invoke(app, ["run", "--task", "settings.wifi", "--secret", "novalue"]).exit_code == 2


def test_free_goal_with_a_scripted_policy(tmp_path):
    script = tmp_path / "s.json"
    script.write_text(json.dumps([{"type": "open_app", "app": "설정"}, {"type": "answer", "text": "열었어요"}]))
    r = runner.invoke(app, ["run", "설정 열어줘", "--policy", "scripted", "--script", str(script),
                            "--record-dir", str(tmp_path / "r"), "--json", "--form", "desktop"])
    assert r.exit_code == 0, r.output
    data = last_json(r.stdout)
    assert data["answer"] == "열었어요"


def test_tasks_list_and_show():
    r = runner.invoke(app, ["tasks", "list", "--json"])
    data = json.loads(r.stdout)
    assert all({"id", "app", "steps_hint"} <= set(d) for d in data)
    assert r.exit_code == 0 and len(data) >= 15
    r = runner.invoke(app, ["tasks", "show", "settings.brightness", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["id"] == "settings.brightness"
    assert runner.invoke(app, ["tasks", "show", "nope"]).exit_code == 2
    assert "settings.wifi" in runner.invoke(app, ["tasks", "list"]).stdout


def test_schema_actions_is_json_schema():
    r = runner.invoke(app, ["schema", "actions"])
    schema = json.loads(r.stdout)
    assert r.exit_code == 0 and schema["title"] == "HandaAction"
    variants = schema.get("oneOf") or schema.get("anyOf")
    assert variants and len(variants) == 12


def test_view_and_replay(tmp_path):
    r = runner.invoke(app, ["run", "--policy", "expert", "--task", "settings.brightness", "--seed", "2", "--record-dir", str(tmp_path),
                            "--json"])
    rec = last_json(r.stdout)["recording"]
    page = tmp_path / "p.html"
    r = runner.invoke(app, ["view", rec, "-o", str(page)])
    assert r.exit_code == 0 and page.read_text().startswith("<!doctype html>")
    r = runner.invoke(app, ["replay", rec, "--json"])
    assert r.exit_code == 0, r.output
    assert last_json(r.stdout)["final_state_matches"] is True
    assert runner.invoke(app, ["view", str(tmp_path / "missing")]).exit_code == 2
    assert runner.invoke(app, ["replay", str(tmp_path / "missing")]).exit_code == 2
    assert runner.invoke(app, ["view", rec, "-o", str(tmp_path / "no" / "such" / "dir.html")]).exit_code == 1


def test_console_script_help_and_exit_codes():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "agent", "--help"], capture_output=True, text=True, env=env, cwd=ROOT)
    assert r.returncode == 0 and "run" in r.stdout and "replay" in r.stdout
    r = subprocess.run([sys.executable, "-m", "agent", "run", "--help"], capture_output=True, text=True, env=env,
                       cwd=ROOT)
    assert "Exit status" in r.stdout
    r = subprocess.run([sys.executable, "-m", "agent", "run", "--task", "x.y"], capture_output=True, text=True,
                       env=env, cwd=ROOT)
    assert r.returncode == 2 and "unknown task" in r.stderr


def test_secrets_are_masked_in_the_live_log_and_json(tmp_path):
    script = tmp_path / "s.json"
    script.write_text(json.dumps([{"type": "answer", "text": "the code is Zq-9876-xy"}]))
    r = runner.invoke(app, ["run", "say Zq-9876-xy", "--policy", "scripted", "--script", str(script), "--secret",
                            "code=Zq-9876-xy", "--record-dir", str(tmp_path / "r"), "--json"])
    assert r.exit_code == 0
    assert "Zq-9876-xy" not in r.output
    rec = Path(last_json(r.stdout)["recording"])
    assert all("Zq-9876-xy" not in f.read_text(errors="ignore") for f in rec.iterdir() if f.suffix in (".json", ".jsonl"))
