"""``handa model eval`` / ``bench`` / ``train`` on the command line, and the held-out split."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from controllers.actions import Click, ElementTarget, PointTarget, Scroll, TypeText
from controllers.sim.controller import SimController
from agent.evaluate import same_action
from model.policy import CHECKPOINT
from model.splits import HELDOUT_TEMPLATES, heldout_templates, seen_templates
from tasks import load_all

runner = CliRunner()


def test_heldout_templates_are_a_fifth_and_never_trained_on():
    everything = set(load_all())
    held = set(heldout_templates())
    assert len(held) >= 0.2 * len(everything)
    assert held.isdisjoint(seen_templates()) and held | set(seen_templates()) == everything
    trained = json.loads((Path(CHECKPOINT) / "training.json").read_text())["templates"]
    assert held.isdisjoint(trained)
    assert len(HELDOUT_TEMPLATES) == len(held)


def test_same_action_compares_what_matters():
    obs = SimController(form="phone", seed=1).observe()
    e = obs.elements[5]
    assert same_action(Click(target=ElementTarget(id=e.id)), Click(target=ElementTarget(id=e.id)), obs)
    assert not same_action(Click(target=ElementTarget(id=e.id)), Click(target=ElementTarget(id=e.id + 1)), obs)
    assert same_action(Click(target=PointTarget(x=0.5, y=0.5)), Click(target=PointTarget(x=0.505, y=0.5)), obs)
    assert not same_action(Click(target=PointTarget(x=0.5, y=0.5)), Click(target=PointTarget(x=0.6, y=0.5)), obs)
    assert not same_action(TypeText(text="a"), TypeText(text="b"), obs)
    assert not same_action(Scroll(direction="up"), Scroll(direction="down"), obs)


def test_eval_json_line():
    r = runner.invoke(app, ["model", "eval", "--split", "seen", "--episodes", "4", "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["episodes"] == 4 and summary["split"] == "seen"
    assert 0.0 <= summary["success_rate"] <= 1.0 and 0.0 <= summary["step_accuracy"] <= 1.0
    assert len(summary["templates"]) == 4


def test_eval_screenshot_only_runs():
    r = runner.invoke(app, ["model", "eval", "--split", "heldout", "--episodes", "2", "--screenshot-only", "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["screenshot_only"] is True and summary["steps"] >= 2


def test_bench_json_line():
    r = runner.invoke(app, ["model", "bench", "--sizes", "50", "--repeats", "5", "--baseline-repeats", "1", "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    for key in ("p50_ms", "speedup_vs_baseline", "step30_over_step1"):
        assert summary[key] > 0
    assert abs(summary["baseline_parameters"] - summary["parameters"]) <= 0.1 * summary["parameters"]


def test_run_uses_the_model_by_default(tmp_path):
    r = runner.invoke(app, ["run", "--task", "contacts.add_contact", "--seed", "1", "--record-dir", str(tmp_path),
                            "--json"])
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert r.exit_code == 0 and result["success"], r.output
    manifest = json.loads(next(tmp_path.glob("*/manifest.json")).read_text())
    assert manifest["policy"] == "inhouse" and manifest["model"].startswith("handa-inhouse@")


def test_missing_checkpoint_is_a_usage_error(tmp_path):
    r = runner.invoke(app, ["run", "--task", "settings.wifi", "--model", str(tmp_path), "--no-record"])
    assert r.exit_code == 2 and "no model checkpoint" in r.output
    r = runner.invoke(app, ["model", "eval", "--model", str(tmp_path), "--episodes", "1"])
    assert r.exit_code == 2


@pytest.mark.parametrize("members", [1, 2])
def test_train_command_single_process(tmp_path, members):
    import shutil

    out = tmp_path / "ckpt"
    out.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(Path(CHECKPOINT) / name, out / name)
    r = runner.invoke(app, ["model", "train", "--out", str(out), "--steps", "2", "--batch-size", "8", "--procs", "1",
                            "--members", str(members)])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["steps"] == 2 and summary["world_size"] == 1 and summary["members"] == members
    assert (out / "model.safetensors").is_file() and (out / "training.json").is_file()
    kind = json.loads((out / "config.json").read_text())["model_type"]
    assert kind == ("handa" if members == 1 else "handa_ensemble")
