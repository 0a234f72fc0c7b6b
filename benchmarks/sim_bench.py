"""Sim throughput: agent-loop steps per second with and without recording, and observe latency.

Runs the expert on every template through the real ``Agent`` loop, pinned to
one core. Prints a table and a final JSON line. Usage:

    python benchmarks/sim_bench.py [--episodes-per-template 2] [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.loop import Agent  # noqa: E402
from agent.recording import Recorder  # noqa: E402
from controllers.sim import SimController  # noqa: E402
from tasks import load_all  # noqa: E402
from tasks.base import make_instance  # noqa: E402
from tasks.expert import ExpertPolicy  # noqa: E402


def run_suite(mode: str, episodes: int, root: Path) -> tuple[int, float]:
    steps = 0
    elapsed = 0.0
    for tid in sorted(load_all()):
        for seed in range(episodes):
            inst = make_instance(tid, seed, "phone")
            rec = None
            if mode != "none":
                rec = Recorder(root, screenshots=(mode == "screenshots"))
                rec.start(goal=inst.goal, policy="expert", platform="sim")
            agent = Agent(SimController(inst.device), ExpertPolicy(inst), rec, max_steps=40)
            t = time.perf_counter()
            result = agent.run(inst.goal)
            elapsed += time.perf_counter() - t
            steps += result.steps
    return steps, elapsed


def observe_latency(samples: int = 400) -> list[float]:
    out = []
    tids = sorted(load_all())
    for i in range(samples):
        inst = make_instance(tids[i % len(tids)], i, "phone")
        ctl = SimController(inst.device)
        ctl.execute({"type": "open_app", "app": inst.template.app})
        t = time.perf_counter()
        ctl.observe()
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--episodes-per-template", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    rates: dict[str, list[float]] = {"none": [], "trees": [], "screenshots": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for mode in rates:
                steps, secs = run_suite(mode, args.episodes_per_template, Path(tmp) / f"{mode}-{r}")
                rates[mode].append(steps / secs)
    lat = sorted(observe_latency())
    p50 = statistics.median(lat)
    p95 = lat[int(0.95 * (len(lat) - 1))]
    med = {m: statistics.median(v) for m, v in rates.items()}
    print(f"{'mode':<34}{'steps/s (median of ' + str(args.repeats) + ')':>28}")
    print(f"{'no recording':<34}{med['none']:>28.0f}")
    print(f"{'recording, trees, no screenshots':<34}{med['trees']:>28.0f}")
    print(f"{'recording, trees + PNG screenshots':<34}{med['screenshots']:>28.0f}")
    print(f"observe latency p50 {p50:.3f} ms, p95 {p95:.3f} ms")
    print(f"ratio no-recording / with-screenshots: {med['none'] / med['screenshots']:.2f}x")
    print(json.dumps({"steps_per_s_no_recording": round(med["none"], 1),
                      "steps_per_s_recording_no_screenshots": round(med["trees"], 1),
                      "steps_per_s_recording_screenshots": round(med["screenshots"], 1),
                      "observe_p50_ms": round(p50, 3), "observe_p95_ms": round(p95, 3), "cores": 1}))


if __name__ == "__main__":
    main()
