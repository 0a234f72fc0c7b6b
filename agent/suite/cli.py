"""``handa suite``: run YAML suites, check them, turn a recording into one; ``handa schema suite``."""
from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from agent.cli_common import name_value_pairs, usage_error

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

suite_app = typer.Typer(
    help="Suites: readable YAML flows (launch, tap, type, assert, retry, goal, ...) run on the sim, a phone or a "
         "desktop, with JUnit and HTML reports. `handa schema suite` prints their JSON Schema.",
    no_args_is_help=True,
)


class SuitePlatform(str, Enum):
    sim = "sim"
    desktop = "desktop"
    android = "android"


def _usage(console: Console, message: str) -> None:
    usage_error(console, message)


def _env_pairs(pairs: list[str], console: Console) -> dict[str, str]:
    return name_value_pairs(pairs, "--env", console)


def _tag_filter(tags: Optional[str]) -> tuple[set[str], set[str]]:
    wanted, unwanted = set(), set()
    for t in (tags or "").split(","):
        t = t.strip()
        if t.startswith("!") and t[1:]:
            unwanted.add(t[1:])
        elif t:
            wanted.add(t)
    return wanted, unwanted


def select_by_tags(suites: list, tags: Optional[str]) -> list:
    """Suites with any of the tags given (``a,b``), and none of those prefixed with ``!``."""
    wanted, unwanted = _tag_filter(tags)
    return [s for s in suites if (not wanted or wanted & set(s.suite.tags)) and not (unwanted & set(s.suite.tags))]


def _load_all(paths: list[Path], overrides: dict[str, str], console: Console) -> list:
    from agent.suite.model import SuiteError, load_suite, suite_files

    files = suite_files(paths)
    missing = [p for p in files if not p.exists()]
    if missing:
        _usage(console, f"{missing[0]}: no such file or folder")
    if not files:
        _usage(console, "no suite files (*.yaml, *.yml) found in " + ", ".join(map(str, paths)))
    loaded, problems = [], []
    for f in files:
        try:
            loaded.append(load_suite(f, overrides=overrides))
        except SuiteError as exc:
            problems.extend(exc.problems)
    if problems:
        for p in problems:
            console.print(f"[red]invalid:[/red] {escape(str(p))}")
        console.print(f"[red]{len(problems)} problem{'s' if len(problems) != 1 else ''} in "
                      f"{len({p.file for p in problems})} suite file(s); nothing was run[/red]")
        raise typer.Exit(EXIT_USAGE)
    return loaded


@suite_app.command("run")
def run_cmd(
    paths: list[Path] = typer.Argument(..., help="Suite files, or folders to search for *.yaml / *.yml."),
    platform: Optional[SuitePlatform] = typer.Option(None, help="Run on this platform instead of each suite's own "
                                                                "(`android` without --device: the simulated phone "
                                                                "over adb and uiautomator2)."),
    device: Optional[str] = typer.Option(None, help="Android serial(s) or X display(s), comma-separated; each "
                                                    "running suite takes one. Without it every suite gets a fresh "
                                                    "device (sim, simulated phone, virtual desktop)."),
    junit: Optional[Path] = typer.Option(None, help="Write a JUnit XML report here."),
    html: Optional[Path] = typer.Option(None, help="Write one self-contained HTML report here (screenshots "
                                                   "inlined)."),
    tags: Optional[str] = typer.Option(None, help="Only suites with any of these tags (comma-separated); "
                                                  "`!tag` leaves suites with that tag out."),
    parallel: int = typer.Option(1, min=1, max=32, help="Run this many suites at once, each on its own device."),
    env: list[str] = typer.Option([], "--env", "-e", help="NAME=VALUE for ${NAME} in the suites; wins over env: "
                                                          "and the environment (repeatable)."),
    screenshots: bool = typer.Option(True, help="Keep the screen after every step for the HTML report."),
    json_out: bool = typer.Option(False, "--json", help="Print a final JSON line: passed, and per suite its status, "
                                                        "time, failure and counts."),
) -> None:
    """Run suites and report.

    Exit status: 0 when every suite passed, 1 when any failed, 2 when a suite is invalid (nothing is run; each
    problem is printed as file:line: what was expected) or on a usage error.
    """
    from agent.recording import Masker
    from agent.suite.report import write_html, write_junit
    from agent.suite.runner import StepStatus, run_suites

    console = Console(stderr=True, soft_wrap=True)
    overrides = _env_pairs(env, console)
    loaded = _load_all(paths, overrides, console)
    chosen = select_by_tags(loaded, tags)
    if not chosen:
        _usage(console, f"no suite matches --tags {tags}")
    devices = [d.strip() for d in device.split(",") if d.strip()] if device else None
    if platform == SuitePlatform.sim and devices:
        _usage(console, "--device names an Android serial or an X display; the sim needs none")
    many = len(chosen) > 1
    masks = {s.name: Masker(dict(s.secrets)) for s in chosen}

    def on_step(name: str, r: Any, depth: int) -> None:
        mask = masks.get(name, Masker())
        if r.status == StepStatus.passed:
            mark = "[green]✓[/green]"
        elif r.tolerated or r.in_optional:
            mark = "[yellow]~[/yellow]"
        else:
            mark = "[red]✗[/red]"
        prefix = f"[dim]{escape(mask.text(name))}[/dim] " if many else ""
        err = f"  [red]{escape(mask.text(r.error))}[/red]" if r.error else ""
        console.print(f"{prefix}{'  ' * depth}{mark} {escape(r.path)} {escape(mask.text(r.description))}  "
                      f"[dim]{r.duration_s * 1000:.0f} ms[/dim]{err}")

    def on_suite(result: Any) -> None:
        colour = "green" if result.passed else "red"
        console.print(f"[{colour}]{result.status.value}[/{colour}] {escape(result.name)} "
                      f"[dim]({escape(result.file)}, {result.duration_s:.2f} s)[/dim]"
                      + (f"\n  {escape(result.error)}" if result.error else ""))

    results = run_suites(chosen, platform=platform.value if platform else None, devices=devices, parallel=parallel,
                         screenshots=screenshots, on_step=on_step, on_suite=on_suite)
    written = {}
    try:
        if junit is not None:
            written["junit"] = str(write_junit(results, junit))
        if html is not None:
            written["html"] = str(write_html(results, html))
    except OSError as exc:
        console.print(f"[red]error:[/red] cannot write a report: {escape(str(exc))}")
        raise typer.Exit(EXIT_FAILED)
    passed = sum(r.passed for r in results)
    colour = "green" if passed == len(results) else "red"
    console.print(f"[{colour}]{passed} of {len(results)} suites passed[/{colour}]"
                  + "".join(f"  {k}: {escape(v)}" for k, v in written.items()))
    if json_out:
        print(json.dumps({"passed": passed == len(results), "suites": [r.summary() for r in results], **written},
                         ensure_ascii=False), flush=True)
    raise typer.Exit(EXIT_OK if passed == len(results) else EXIT_FAILED)


@suite_app.command("check")
def check_cmd(
    paths: list[Path] = typer.Argument(..., help="Suite files, or folders to search for *.yaml / *.yml."),
    env: list[str] = typer.Option([], "--env", "-e", help="NAME=VALUE for ${NAME} in the suites (repeatable)."),
) -> None:
    """Validate suites without running them. Exit 0 when all are valid, 2 otherwise."""
    console = Console(stderr=True, soft_wrap=True)
    loaded = _load_all(paths, _env_pairs(env, console), console)
    for s in loaded:
        steps = len(s.suite.setup) + len(s.suite.steps) + len(s.suite.teardown)
        console.print(f"[green]valid[/green] {escape(str(s.path))}: {escape(s.name)} ({s.suite.platform}, "
                      f"{steps} steps)")


@suite_app.command("from-recording")
def from_recording_cmd(
    recording: Path = typer.Argument(..., help="A recording folder (`handa run` writes them)."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write the suite here (default: print it)."),
    name: Optional[str] = typer.Option(None, help="The suite's name (default: from the recording's goal)."),
) -> None:
    """Turn a recording into a suite: every executed action becomes a step, elements become selectors (short id,
    else text, else description, with nth where needed). Typed secrets become ${SECRET_n} secrets. Add asserts."""
    from agent.recording import RecordingError, load_recording
    from agent.suite.convert import recording_to_yaml

    console = Console(stderr=True, soft_wrap=True)
    if not recording.exists():
        _usage(console, f"{recording}: no such recording folder")
    try:
        text = recording_to_yaml(load_recording(recording), name=name)
    except RecordingError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_FAILED)
    if output is None:
        print(text, end="")
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {escape(str(output))}")


def schema_suite() -> None:
    """The suite file format as JSON Schema (draft 2020-12), for editor completion."""
    from agent.suite.model import suite_json_schema

    print(json.dumps(suite_json_schema(), ensure_ascii=False, indent=2))


__all__ = ["suite_app", "schema_suite", "select_by_tags"]
