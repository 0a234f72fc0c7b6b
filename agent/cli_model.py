"""``handa model``: train, evaluate and benchmark the in-house model."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

model_app = typer.Typer(help="Train, evaluate and benchmark Handa's in-house model.", no_args_is_help=True)


class EvalSplit(str, Enum):
    heldout = "heldout"
    seen = "seen"


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(), console=console,
                    transient=False)


@model_app.command("train")
def train(
    out: Path = typer.Option(Path("model/checkpoint"), help="Folder for the checkpoint (model, tokenizer, "
                                                              "training.json)."),
    minutes: Optional[float] = typer.Option(None, min=0.1, help="Wall-clock cap: stop early and save what is "
                                                                "trained (such a run is not reproducible)."),
    steps: Optional[int] = typer.Option(None, min=1, help="Optimizer steps in the schedule (default: the "
                                                           "shipped recipe)."),
    seed: int = typer.Option(0, help="Seed of everything: tokenizer corpus, weights, episodes. Same seed and "
                                     "ranks, same checkpoint."),
    batch_size: Optional[int] = typer.Option(None, min=1, help="Batch size of each update of a network (split "
                                                               "across the processes that train it)."),
    members: Optional[int] = typer.Option(None, min=1, help="Networks trained apart (own seeds, own episodes; "
                                                            "under --procs, each on its share of the processes) "
                                                            "and saved as one ensemble that averages their "
                                                            "decisions. Default: the shipped recipe's."),
    share_episodes: bool = typer.Option(False, "--share-episodes", help="With --members: every member "
                                        "learns from the episodes of every member and process (they still "
                                        "differ by their initial weights and batches)."),
    procs: int = typer.Option(2, min=1, help="Processes: >1 launches this same training under torchrun (DDP over "
                                             "gloo), each process generating its own episodes on its own core. "
                                             "The shipped checkpoint was trained with 2."),
) -> None:
    """Train the model from the sim's experts (behaviour cloning, then DAgger).

    Episodes are generated on the fly on the seen templates (see model/splits.py)
    with the sim's randomized looks; the model drives more and more of each
    episode while the expert labels every state it reaches. Writes
    model.safetensors, config.json, the tokenizer and training.json into OUT.
    """
    from model.train import TrainConfig

    console = Console(stderr=True)
    if procs > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={procs}", "-m", "model.train",
               "--out", str(out), "--seed", str(seed)]
        if steps is not None:
            cmd += ["--steps", str(steps)]
        if minutes is not None:
            cmd += ["--minutes", str(minutes)]
        if batch_size is not None:
            cmd += ["--batch-size", str(batch_size)]
        if members is not None:
            cmd += ["--members", str(members)]
        if share_episodes:
            cmd += ["--share-episodes"]
        console.print(f"[dim]{escape(' '.join(cmd))}[/dim]")
        raise typer.Exit(subprocess.call(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}))
    from model.train import train as run_training

    cfg = TrainConfig(seed=seed, minutes=minutes)
    if steps is not None:
        cfg.steps = steps
    if batch_size is not None:
        cfg.batch_size = batch_size
    if members is not None:
        cfg.members = members
    cfg.share_episodes = share_episodes
    with _progress(console) as progress:
        task = progress.add_task("training", total=cfg.steps, info="")

        def show(s: dict) -> None:
            progress.update(task, completed=s["step"], info=f"loss {s['loss']:.3f} · {s['episodes']} episodes")

        summary = run_training(out, cfg, progress=show)
    console.print(f"saved to {escape(str(out))}: {summary['steps']} steps in {summary['seconds']:.0f} s"
                  f"{' (stopped by --minutes)' if summary['truncated_by_time'] else ''}")
    print(json.dumps({k: v for k, v in summary.items() if k not in ("config", "templates")}, ensure_ascii=False))


@model_app.command("eval")
def evaluate(
    split: EvalSplit = typer.Option(EvalSplit.heldout, help="heldout: templates, themes and label synonyms never "
                                                            "trained on. seen: trained templates, fresh seeds."),
    episodes: int = typer.Option(100, min=1, help="Episodes, spread round-robin over the split's templates."),
    screenshot_only: bool = typer.Option(False, "--screenshot-only", help="Hide the accessibility tree: the model "
                                                                          "sees only the screenshot."),
    model: Optional[Path] = typer.Option(None, help="Checkpoint folder (default: the shipped one)."),
    seed: int = typer.Option(0, help="Picks a different fixed list of evaluation seeds."),
    threads: int = typer.Option(2, min=1, help="Torch threads."),
    json_out: bool = typer.Option(False, "--json", help="Print a final JSON line (success_rate, step_accuracy, "
                                                        "episodes, templates)."),
) -> None:
    """Run full episodes through the agent loop on the sim and report success and step accuracy."""
    from agent.evaluate import evaluate as run_eval
    from model.policy import InHousePolicy

    console = Console(stderr=True)
    try:
        policy = InHousePolicy(model, threads=threads, use_screenshot=True)
    except FileNotFoundError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2)
    with _progress(console) as progress:
        task = progress.add_task(f"eval {split.value}", total=episodes, info="")
        wins = [0]

        def tick(ep: dict) -> None:
            wins[0] += int(ep["success"])
            progress.update(task, advance=1, info=f"{wins[0]}/{ep['index'] + 1} succeeded")

        summary = run_eval(lambda: policy, split=split.value,
                           episodes=episodes, screenshot_only=screenshot_only, seed=seed, on_episode=tick)
    table = Table(title=f"{split.value}{' (screenshot only)' if screenshot_only else ''}: "
                        f"success {summary['success_rate']:.1%}, step accuracy {summary['step_accuracy']:.1%}")
    for col in ("template", "episodes", "success", "step accuracy"):
        table.add_column(col, justify="left" if col == "template" else "right")
    for tid, row in summary["templates"].items():
        table.add_row(tid, str(row["episodes"]), f"{row['success_rate']:.0%}", f"{row['step_accuracy']:.0%}")
    Console(file=sys.stderr if json_out else sys.stdout).print(table)
    if json_out:
        print(json.dumps(summary, ensure_ascii=False))


@model_app.command("bench")
def bench(
    threads: int = typer.Option(2, min=1, help="Torch threads for both models."),
    repeats: int = typer.Option(60, min=3, help="Timed decisions per size for the in-house model."),
    baseline_repeats: int = typer.Option(7, min=1, help="Timed decisions per size for the baseline."),
    model: Optional[Path] = typer.Option(None, help="Checkpoint folder (default: the shipped one)."),
    sizes: str = typer.Option("50,150,400", help="Comma-separated element counts."),
    json_out: bool = typer.Option(False, "--json", help="Print a final JSON line (p50_ms, speedup_vs_baseline, "
                                                        "step30_over_step1, rows)."),
) -> None:
    """Decision latency at 50/150/400 elements vs an equal-size LlamaForCausalLM reading the screen as text."""
    from model.bench import run

    console = Console(stderr=True)
    try:
        counts = tuple(int(x) for x in sizes.split(",") if x.strip())
        if not counts or min(counts) < 1:
            raise ValueError
    except ValueError:
        console.print(f"[red]error:[/red] --sizes takes positive integers separated by commas, got {escape(sizes)}")
        raise typer.Exit(2)
    summary = run(threads=threads, repeats=repeats, baseline_repeats=baseline_repeats, sizes=counts,
                  model_path=str(model) if model else None,
                  log=lambda row: console.print(f"[dim]{row['elements']} elements: ours p50 {row['p50_ms']} ms, "
                                                f"baseline p50 {row['baseline_p50_ms']} ms[/dim]"))
    table = Table(title=f"decision latency ({threads} threads): ours {summary['parameters']:,} parameters vs "
                        f"{summary['baseline']} ({summary['baseline_parameters']:,})")
    for col in ("elements", "ours p50", "ours p95", "step 30 / step 1", "baseline p50", "baseline p95", "speedup",
                "peak RSS"):
        table.add_column(col, justify="right")
    for r in summary["rows"]:
        table.add_row(str(r["elements"]), f"{r['p50_ms']:.1f} ms", f"{r['p95_ms']:.1f} ms",
                      f"{r['step30_over_step1']:.2f}", f"{r['baseline_p50_ms']:.0f} ms",
                      f"{r['baseline_p95_ms']:.0f} ms", f"{r['speedup_vs_baseline']:.0f}×", f"{r['peak_rss_mb']:.0f} MB")
    Console(file=sys.stderr if json_out else sys.stdout).print(table)
    if json_out:
        print(json.dumps(summary, ensure_ascii=False))
