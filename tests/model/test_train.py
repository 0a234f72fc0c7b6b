"""Training: a short run makes a loadable checkpoint, is deterministic, and runs under torchrun (DDP, gloo)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from safetensors.torch import load_file

from model.policy import CHECKPOINT
from model.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[2]
TINY = dict(steps=3, batch_size=8, samples_per_step=4, d_model=32, n_layer=1, n_head=2, d_ff=64, warmup=2)


def _with_tokenizer(path: Path) -> Path:
    """A run folder that already holds the shipped tokenizer (building one takes a few seconds more)."""
    path.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(CHECKPOINT / name, path / name)
    return path


def test_short_run_is_deterministic_and_loadable(tmp_path):
    from model.policy import InHousePolicy

    a = train(_with_tokenizer(tmp_path / "a"), TrainConfig(seed=3, **TINY))
    train(_with_tokenizer(tmp_path / "b"), TrainConfig(seed=3, **TINY))
    train(_with_tokenizer(tmp_path / "c"), TrainConfig(seed=4, **TINY))
    assert a["steps"] == 3 and not a["truncated_by_time"]
    wa, wb, wc = (load_file(str(tmp_path / x / "model.safetensors")) for x in "abc")
    assert all((wa[k] == wb[k]).all() for k in wa)
    assert any(not (wa[k] == wc[k]).all() for k in wa)
    policy = InHousePolicy(tmp_path / "a")
    from controllers.sim.controller import SimController

    decision = policy.decide("Turn on Wi-Fi", SimController(seed=1, expose_keys=False).observe(), [])
    assert decision.action is not None or decision.error


def test_minutes_cap_stops_early(tmp_path):
    summary = train(_with_tokenizer(tmp_path / "m"), TrainConfig(seed=1, minutes=0.001, **{**TINY, "steps": 500}))
    assert summary["truncated_by_time"] and summary["steps"] < 500
    assert (tmp_path / "m" / "model.safetensors").is_file()


def test_torchrun_two_processes(tmp_path):
    out = _with_tokenizer(tmp_path / "ddp")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m",
           "model.train", "--out", str(out), "--steps", "3", "--batch-size", "8", "--tiny"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    import json

    summary = json.loads((out / "training.json").read_text())
    assert summary["world_size"] == 2 and summary["steps"] == 3
    assert (out / "model.safetensors").is_file()
