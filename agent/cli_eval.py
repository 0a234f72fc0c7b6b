"""``handa eval``: score a policy offline on recorded episodes.

Registered in ``agent.cli`` with ``app.command("eval")(eval_cmd)``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _mark(value: Optional[bool]) -> str:
    if value is None:
        return "[dim]–[/dim]"
    return "[green]✓[/green]" if value else "[red]✗[/red]"


def _pct(value: Optional[float]) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _ratio(num: int, den: int, rate: Optional[float]) -> str:
    return "–" if not den else f"{num}/{den} ({_pct(rate)})"


def _summary_row(table: Table, name: str, t, style: str = "") -> None:
    c = t.counts
    f1 = f" F1 {t.text_f1:.2f}" if t.text_f1 is not None else ""
    table.add_row(escape(name), str(t.steps), str(t.skipped),
                  _ratio(c.get("action_type", 0), t.steps, t.action_type_accuracy),
                  _ratio(c.get("target", 0), c.get("target_scored", 0), t.target_accuracy),
                  _ratio(c.get("text", 0), c.get("text_scored", 0), t.text_match) + f1,
                  _ratio(c.get("step", 0), t.steps, t.step_success),
                  "–" if t.mean_latency_ms is None else f"{t.mean_latency_ms:.1f} (p50 {t.median_latency_ms:.1f})",
                  style=style)


def eval_cmd(
    recordings: list[Path] = typer.Argument(..., metavar="REC_OR_DIR",
                                            help="Recording folders, or folders searched for recordings below them."),
    policy: str = typer.Option("inhouse", help="The policy to score: `inhouse` (Handa's own model), `expert` (the "
                                               "sim task's expert; only on recordings whose trees carry the "
                                               "sim-only keys, i.e. of expert runs) or `scripted`."),
    model: Optional[Path] = typer.Option(None, help="Checkpoint folder for --policy inhouse (default: the shipped "
                                                    "one)."),
    script: Optional[Path] = typer.Option(None, help="JSON list of actions for --policy scripted (played from its "
                                                     "start on every recording)."),
    steps_table: bool = typer.Option(True, "--steps/--no-steps", help="Print the per-step table."),
    json_out: bool = typer.Option(False, "--json", help="Print a final JSON line: episodes, steps, "
                                                        "action_type_accuracy, target_accuracy, text_match, "
                                                        "text_f1, step_success, skipped, mean/median latency and "
                                                        "per-recording results."),
) -> None:
    """Score a policy offline on recordings: at every recorded step, compare its action with the recorded one.

    The policy sees each step's recorded observation (tree, and the stored screenshot when it asks) and the
    recorded history. Per step: action type (click ≠ long_press, done ≠ answer), target (same element, or the
    predicted pixel inside the recorded element's box; recorded points within 0.14 of the screen), text
    (normalized equality and token F1) and step success (all of these plus direction, keys, button, app, status).
    Refused or invalid recorded steps are skipped and counted; unreadable recordings are reported and skipped.

    Exit status: 0 when steps were evaluated (whatever the scores), 1 when none could be, 2 on a usage error.
    """
    from agent.offline_eval import EvalError, OfflineEvaluator, RecordingResult, SkippedRecording, find_recordings

    console = Console(stderr=True)
    if not console.is_terminal:
        console.width = max(console.width, 160)
    try:
        found = find_recordings(recordings)
        evaluator = OfflineEvaluator(policy, script=script, model=model)
    except EvalError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_USAGE)

    def progress(res: Optional[RecordingResult], bad: Optional[SkippedRecording]) -> None:
        if bad is not None:
            console.print(f"[red]skipped[/red] {escape(bad.recording)}: {escape(bad.reason)}")
            return
        for w in res.warnings:
            console.print(f"[yellow]warning:[/yellow] {escape(res.session or res.recording)}: {escape(w)}")
        console.print(f"[dim]{escape(res.session or res.recording)}: {res.steps} steps scored, "
                      f"{res.skipped} skipped[/dim]")

    with console.status(f"evaluating {escape(policy)} on {len(found)} recording(s)…"):
        report = evaluator.run(found, on_recording=progress)

    if steps_table and report.steps:
        table = Table(title=f"{escape(policy)}: per step")
        for col in ("recording", "step", "recorded", "predicted", "type", "target", "text", "step ✓", "why"):
            table.add_column(col, overflow="fold")
        for res in report.recordings:
            for n, s in enumerate(res.details):
                table.add_row(escape(res.session) if n == 0 else "", str(s.index + 1), escape(s.recorded),
                              escape(s.predicted) if s.predicted is not None else "[red]none[/red]",
                              _mark(s.action_type), _mark(s.target), _mark(s.text), _mark(s.step),
                              f"[dim]{escape('; '.join(s.reasons))}[/dim]")
            if res.details:
                table.add_section()
        console.print(table)

    summary = Table(title=f"{escape(policy)}: summary")
    for col in ("recording", "steps", "skipped", "type", "target", "text", "step success", "ms/decision (mean)"):
        summary.add_column(col, overflow="fold")
    for res in report.recordings:
        _summary_row(summary, res.session or res.recording, res)
    summary.add_section()
    _summary_row(summary, f"all ({report.episodes} episode{'' if report.episodes == 1 else 's'})", report, style="bold")
    console.print(summary)
    if report.skipped_recordings:
        console.print(f"[yellow]{len(report.skipped_recordings)} recording(s) could not be evaluated[/yellow]")
    if not report.steps:
        console.print("[red]error:[/red] no step could be evaluated")
    if json_out:
        print(json.dumps(report.model_dump(mode="json"), ensure_ascii=False), flush=True)
    raise typer.Exit(EXIT_OK if report.steps else EXIT_FAILED)
