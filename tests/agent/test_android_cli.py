"""`handa run --platform android` and `handa android ...` through the real uiautomator2 client on the simulated phone."""
import json
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.recording import load_recording

runner = CliRunner()


@pytest.fixture(autouse=True)
def no_adb_daemon(monkeypatch):
    monkeypatch.setenv("ADBUTILS_ADB_PATH", "/bin/false")


def last_json(output: str):
    return json.loads([line for line in output.splitlines() if line.startswith(("{", "["))][-1])


@pytest.mark.parametrize("task", ["settings.wifi", "contacts.add_contact"])
def test_the_sim_expert_solves_tasks_through_uiautomator2(tmp_path, task):
    r = runner.invoke(app, ["run", "--platform", "android", "--task", task, "--seed", "3", "--policy", "expert",
                            "--record-dir", str(tmp_path), "--json"])
    assert r.exit_code == 0, r.output
    result = last_json(r.stdout)
    assert result["success"] is True
    rec = load_recording(result["recording"])
    assert rec.complete and rec.manifest.platform == "android" and rec.manifest.device == "android:emulator-5554"
    assert rec.steps[0].observation.elements > 5 and rec.file(rec.steps[0].observation.screenshot).exists()


def test_the_inhouse_model_drives_the_simulated_phone(tmp_path):
    r = runner.invoke(app, ["run", "--platform", "android", "--task", "settings.wifi", "--seed", "5",
                            "--record-dir", str(tmp_path), "--max-steps", "6", "--json"])
    assert r.exit_code in (0, 1), r.output
    rec = load_recording(last_json(r.stdout)["recording"])
    assert rec.complete and rec.manifest.policy == "inhouse" and rec.steps
    for step in rec.steps:  # observations the model saw carry no sim-only keys
        tree = rec.tree(step)
        assert tree and not any("sim-key" in e.attrs for e in tree)


def test_a_task_needs_the_simulated_phone_and_a_missing_device_is_a_clear_error():
    assert runner.invoke(app, ["run", "--platform", "android", "--task", "settings.wifi", "--device", "X"]).exit_code == 2
    r = runner.invoke(app, ["run", "do it", "--platform", "android", "--device", "nope", "--adb-port", "1",
                            "--no-record"])
    assert r.exit_code == 1 and "nope" in r.output


def test_android_sim_serves_phones_that_android_tree_reads(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "agent.cli", "android", "sim", "--adb-port", "0", "--devices", "2",
                             "--seed", "4"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**__import__("os").environ, "ADBUTILS_ADB_PATH": "/bin/false"})
    try:
        info = json.loads(proc.stdout.readline())
        assert info["serials"] == ["emulator-5554", "emulator-5556"]
        r = runner.invoke(app, ["android", "tree", "--adb-port", str(info["adb_port"]), "--device", "emulator-5556",
                                "--json", "--flat"])
        assert r.exit_code == 0, r.output
        flat = last_json(r.stdout)
        assert flat["count"] == len(flat["nodes"]) > 5
        assert any(n["attrs"].get("package") == "com.handa.launcher" for n in flat["nodes"])
        assert not any("sim-key" in n["attrs"] for n in flat["nodes"])
        r = runner.invoke(app, ["android", "tree", "--adb-port", str(info["adb_port"]), "--device", "emulator-5554"])
        assert r.exit_code == 0 and "emulator-5554" in r.stdout
    finally:
        proc.terminate()
        assert proc.wait(10) is not None
