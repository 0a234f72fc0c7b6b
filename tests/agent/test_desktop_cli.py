"""`handa desktop ...` and `handa run --platform desktop` on a real virtual desktop, end to end."""
import json
from pathlib import Path

from PIL import Image
from typer.testing import CliRunner

from agent.cli import app
from agent.recording import load_recording

runner = CliRunner()


def last_json(output: str):
    return json.loads([line for line in output.splitlines() if line.startswith(("{", "["))][-1])


def test_tree_prints_the_launched_apps_nodes_nested_flat_and_as_text():
    r = runner.invoke(app, ["desktop", "tree", "--virtual", "--launch", "gtk3-widget-factory", "--screen", "1600x1000",
                            "--json", "--flat"])
    assert r.exit_code == 0, r.output
    flat = last_json(r.stdout)
    assert flat["count"] == len(flat["nodes"]) > 80
    roles = {n["role"] for n in flat["nodes"]}
    assert {"window", "checkbox", "text_field", "slider"} <= roles
    r = runner.invoke(app, ["desktop", "tree", "--virtual", "--launch", "gtk3-widget-factory", "--json",
                            "--max-nodes", "40"])
    assert r.exit_code == 0, r.output
    roots = last_json(r.stdout)

    def count(nodes):
        return sum(1 + count(n["children"]) for n in nodes)

    assert roots and roots[0]["role"] == "window" and roots[0]["children"]
    assert count(roots) <= 40
    r = runner.invoke(app, ["desktop", "tree", "--virtual", "--launch", "xterm -T 'hello 세계'"])
    assert r.exit_code == 0, r.output
    assert "active: hello 세계" in r.stdout


def test_screenshot_writes_the_whole_screen(tmp_path):
    out = tmp_path / "shot.png"
    r = runner.invoke(app, ["desktop", "screenshot", "--virtual", "--screen", "1024x640", "--launch", "xterm",
                            "-o", str(out)])
    assert r.exit_code == 0, r.output
    image = Image.open(out)
    assert image.size == (1024, 640)
    assert image.convert("L").getextrema()[1] > image.convert("L").getextrema()[0]  # the xterm is on it, not only the black root window


def test_no_display_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    r = runner.invoke(app, ["desktop", "tree"])
    assert r.exit_code == 1 and "--virtual" in r.output
    r = runner.invoke(app, ["run", "do something", "--platform", "desktop", "--no-record"])
    assert r.exit_code == 1 and "--virtual" in r.output
    assert runner.invoke(app, ["run", "--platform", "desktop", "--task", "settings.wifi"]).exit_code == 2
    assert runner.invoke(app, ["desktop", "tree", "--virtual", "--screen", "12by3"]).exit_code == 2


def test_run_plays_a_web_task_in_chromium_and_records_it(tmp_path):
    r = runner.invoke(app, ["run", "--platform", "desktop", "--virtual", "--task", "web.move_card", "--seed", "2",
                            "--policy", "expert", "--record-dir", str(tmp_path), "--json"])
    assert r.exit_code == 0, r.output
    result = last_json(r.stdout)
    assert result["success"] is True and result["reason"] == "done"
    rec = load_recording(result["recording"])
    assert rec.complete and rec.manifest.platform == "desktop" and rec.manifest.device.startswith("x11:")
    assert rec.manifest.task.id == "web.move_card"
    first = rec.steps[0]
    assert first.action["type"] == "drag"
    assert rec.file(first.observation.screenshot).exists() and first.observation.elements > 5
    assert len(first.result.points) == 2


def test_run_with_the_inhouse_model_on_the_desktop_records_every_decision(tmp_path):
    r = runner.invoke(app, ["run", "--platform", "desktop", "--virtual", "--task", "web.settings_toggle", "--seed", "4",
                            "--policy", "inhouse", "--max-steps", "3", "--record-dir", str(tmp_path), "--json"])
    assert r.exit_code in (0, 1), r.output  # the model may or may not solve it; it must not crash
    result = last_json(r.stdout)
    assert result["reason"] in ("done", "answer", "max_steps", "no_progress", "error_limit")
    rec = load_recording(result["recording"])
    assert rec.complete and rec.manifest.policy == "inhouse" and len(rec.steps) >= 1
    for step in rec.steps:  # every step either ran a valid action or was refused with a reason
        assert step.action is not None or step.validation_error


def test_desktop_tasks_lists_the_web_tasks():
    r = runner.invoke(app, ["desktop", "tasks", "--json"])
    assert r.exit_code == 0, r.output
    ids = {t["id"] for t in last_json(r.stdout)}
    assert {"web.signup", "web.move_card", "web.delete_file"} <= ids
    r = runner.invoke(app, ["desktop", "tasks"])
    assert r.exit_code == 0 and "web.signup" in r.stdout


def test_a_desktop_without_an_accessibility_tree_needs_screenshot_only(tmp_path):
    from controllers.desktop.session import DesktopSession

    script = tmp_path / "s.json"
    script.write_text(json.dumps([{"type": "click", "target": {"kind": "point", "x": 0.5, "y": 0.5}}]))
    with DesktopSession.start_virtual(accessibility=False) as session:
        args = ["run", "click the middle", "--platform", "desktop", "--display", session.display, "--policy",
                "scripted", "--script", str(script), "--no-record", "--json"]
        r = runner.invoke(app, args, env={"DBUS_SESSION_BUS_ADDRESS": session.env["DBUS_SESSION_BUS_ADDRESS"]})
        assert r.exit_code == 2 and "--screenshot-only" in r.output
        r = runner.invoke(app, args + ["--screenshot-only"],
                          env={"DBUS_SESSION_BUS_ADDRESS": session.env["DBUS_SESSION_BUS_ADDRESS"]})
        assert r.exit_code == 0, r.output
        assert last_json(r.stdout)["success"] is True


def test_sigterm_stops_the_virtual_desktop_and_everything_in_it(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from controllers.desktop.session import TOKEN_VAR

    def tokened():
        found = set()
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/environ", "rb") as fh:
                    if f"{TOKEN_VAR}=".encode() in fh.read():
                        found.add(int(pid))
            except OSError:
                pass
        return found

    before = tokened()
    script = tmp_path / "s.json"
    script.write_text(json.dumps([{"type": "wait", "seconds": 60}]))
    proc = subprocess.Popen([sys.executable, "-m", "agent.cli", "run", "wait", "--platform", "desktop", "--virtual",
                             "--launch", "xterm", "--policy", "scripted", "--script", str(script), "--no-record"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while len(tokened() - before) < 5 and time.monotonic() < deadline:
        time.sleep(0.2)
    started = tokened() - before
    assert len(started) >= 5, "the virtual desktop did not come up"
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) != 0
    deadline = time.monotonic() + 10
    while (tokened() & started) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not (tokened() & started), "processes of the virtual desktop outlived handa"
