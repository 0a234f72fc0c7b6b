"""The ``handa`` command line."""
from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

from agent.cli_common import name_value_pairs, usage_error
from rich.table import Table

app = typer.Typer(
    name="handa",
    help="Handa: an action agent for phones and PCs. Observe the screen (screenshot and accessibility tree), let a "
         "policy decide the next action, validate and execute it, and record every step for replay and evaluation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
tasks_app = typer.Typer(help="List and inspect the built-in sim task templates.", no_args_is_help=True)
schema_app = typer.Typer(help="Print JSON Schemas of Handa's formats (for external models and editors).",
                         no_args_is_help=True)
app.add_typer(tasks_app, name="tasks")
app.add_typer(schema_app, name="schema")


def _add_model_commands() -> None:
    from agent.cli_android import android_app
    from agent.cli_desktop import desktop_app
    from agent.cli_model import model_app

    app.add_typer(model_app, name="model")
    app.add_typer(desktop_app, name="desktop")
    app.add_typer(android_app, name="android")
    from agent.cli_eval import eval_cmd
    from agent.suite.cli import schema_suite, suite_app

    app.command("eval")(eval_cmd)
    app.add_typer(suite_app, name="suite")
    schema_app.command("suite")(schema_suite)


_add_model_commands()

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class PlatformName(str, Enum):
    sim = "sim"
    desktop = "desktop"
    android = "android"


class FormName(str, Enum):
    phone = "phone"
    desktop = "desktop"


class SplitName(str, Enum):
    all = "all"
    train = "train"
    heldout = "heldout"


def _usage(console: Console, message: str) -> None:
    usage_error(console, message)


def _parse_secrets(pairs: list[str], console: Console) -> dict[str, str]:
    return name_value_pairs(pairs, "--secret", console)


@app.command()
def run(
    goal: Optional[str] = typer.Argument(None, help="What to do, in words. Optional with --task (its goal is used)."),
    platform: PlatformName = typer.Option(PlatformName.sim, help="Where to act: `sim` (the built-in device), "
                                                                 "`desktop` (a Linux X11 desktop) or `android` "
                                                                 "(a phone through uiautomator2)."),
    form: FormName = typer.Option(FormName.phone, help="Sim form factor: a phone or a desktop."),
    task: Optional[str] = typer.Option(None, help="A task template id: a sim task (`handa tasks list`) or, with "
                                                  "--platform desktop, a web task page (`web.*`)."),
    seed: int = typer.Option(0, help="Seed of the sim device and task instance; the same seed replays the same world."),
    split: SplitName = typer.Option(SplitName.all, help="Which sim looks and words to draw from (train/heldout)."),
    scale: float = typer.Option(1.0, min=0.5, max=4.0, help="Scale factor (physical pixels per logical point)."),
    virtual: bool = typer.Option(False, "--virtual", help="Desktop: start a private virtual desktop (Xvfb, openbox, "
                                                         "private D-Bus, AT-SPI) and stop it afterwards."),
    display: Optional[str] = typer.Option(None, help="Desktop: the X display to use (default: $DISPLAY)."),
    launch: Optional[str] = typer.Option(None, help="Desktop: start this program first and wait for its window "
                                                    "(split like a shell would, never run through one)."),
    screen_size: str = typer.Option("1280x800", "--screen", help="Desktop: virtual screen size, WIDTHxHEIGHT."),
    screenshot_only: bool = typer.Option(False, "--screenshot-only",
                                         help="Desktop: go on when no accessibility tree can be had (the policy "
                                              "then acts on screenshots alone). Without it such a run stops "
                                              "before acting."),
    device: Optional[str] = typer.Option(None, help="Android: the device serial. Without it, Handa's simulated "
                                                    "phone is served in-process over the real adb and "
                                                    "uiautomator2 protocols (with --task: that task's phone)."),
    adb_host: str = typer.Option("127.0.0.1", help="Android: host of the adb server."),
    adb_port: int = typer.Option(5037, "--adb-port", help="Android: port of the adb server."),
    failsafe: Optional[bool] = typer.Option(None, "--failsafe/--no-failsafe",
                                            help="Desktop: abort input when the mouse is pushed into a screen "
                                                 "corner (pyautogui's fail-safe). Default: on for your own "
                                                 "display, off for --virtual."),
    policy: str = typer.Option("inhouse", help="Who decides: `inhouse` (Handa's own model), `expert` (tasks "
                                              "only) or `scripted`."),
    model: Optional[Path] = typer.Option(None, help="Checkpoint folder for --policy inhouse (default: the shipped "
                                                    "one)."),
    script: Optional[Path] = typer.Option(None, help="JSON list of actions for --policy scripted."),
    max_steps: int = typer.Option(30, min=1, help="Stop after this many steps."),
    timeout: float = typer.Option(300.0, min=0.1, help="Stop after this many seconds of wall-clock time."),
    record_dir: Path = typer.Option(Path("recordings"), help="Where recordings are written (one folder per run)."),
    no_record: bool = typer.Option(False, "--no-record", help="Do not write a recording."),
    screenshots: bool = typer.Option(True, help="Store a screenshot per step in the recording."),
    image_format: str = typer.Option("png", help="Screenshot format in recordings: png or webp."),
    secret: list[str] = typer.Option([], help="NAME=VALUE of a secret to mask in recordings and logs (repeatable)."),
    json_out: bool = typer.Option(False, "--json", help="Print a final JSON line (success, steps, reason, recording)."),
) -> None:
    """Run an agent on a goal and record it.

    On the sim (default) the device is built in. On the desktop Handa observes the X display through the AT-SPI
    accessibility tree and mss screenshots and acts with the mouse and keyboard; `--task web.*` opens one of the
    shipped task pages in Chromium and checks success from the page itself.

    Exit status: 0 when the episode succeeded, 1 when it failed, 2 on a usage error.
    """
    from contextlib import ExitStack

    from agent.loop import Agent, StepEvent
    from agent.recording import Masker, Recorder

    console = Console(stderr=True)
    secrets = _parse_secrets(secret, console)
    if task is None and goal is None:
        _usage(console, "give a GOAL or --task ID")
    with ExitStack() as stack:
        if platform == PlatformName.sim:
            env = _sim_environment(console, task, seed, form, split, scale, policy, script, model)
        elif platform == PlatformName.android:
            env = _android_environment(console, stack, task, seed, split, scale, device, adb_host, adb_port, policy,
                                       script, model)
        else:
            env = _desktop_environment(console, stack, task, seed, scale, virtual, display, launch, screen_size,
                                       failsafe, screenshot_only, policy, script, model)
        controller, pol, instance, device_name, task_ref = env
        secrets = {**(instance.secrets if instance is not None else {}), **secrets}
        goal_text = goal or instance.goal
        mask = Masker(secrets)
        recorder = None
        if not no_record:
            if record_dir.exists() and not record_dir.is_dir():
                _usage(console, f"--record-dir {record_dir} exists and is not a folder")
            try:
                recorder = Recorder(record_dir, screenshots=screenshots, image_format=image_format, secrets=secrets)
            except ValueError as exc:
                _usage(console, str(exc))
            recorder.mask = mask
            try:
                recorder.start(goal=goal_text, policy=getattr(pol, "name", policy), platform=platform.value,
                               device=device_name, screen=controller.screen, model=getattr(pol, "model_id", None),
                               task=task_ref)
            except OSError as exc:
                _usage(console, f"cannot write recordings to {record_dir}: {exc}")

        def show(text: str) -> str:
            return escape(mask.text(text))

        where = f"{platform.value} {form.value}, seed {seed}" if platform == PlatformName.sim else device_name
        console.print(f"[bold]goal[/bold] {show(goal_text)}  [dim]({escape(where)}, "
                      f"policy {escape(getattr(pol, 'name', policy))})[/dim]")

        def log(event: StepEvent) -> None:
            mark = "[green]✓[/green]" if event.ok else "[red]✗[/red]"
            err = f"  [red]{show(event.error)}[/red]" if event.error else ""
            console.print(f"{event.index + 1:>4} {mark} {show(event.description)}  [dim]{event.ms:.1f} ms[/dim]{err}")

        judge = instance.is_successful if instance is not None else None
        agent = Agent(controller, pol, recorder, max_steps=max_steps, timeout_s=timeout, judge=judge, on_step=log,
                      masker=mask)
        with controller:
            result = agent.run(goal_text)
    result.answer = mask.text(result.answer) if result.answer else result.answer
    result.message = mask.text(result.message)
    colour = "green" if result.success else "red"
    console.print(f"[{colour}]{'success' if result.success else 'failure'}[/{colour}] after {result.steps} steps "
                  f"({result.reason.value}{': ' + escape(result.message) if result.message else ''})"
                  f"{'  answer: ' + escape(result.answer) if result.answer else ''}")
    if result.recording:
        console.print(f"recording: {escape(result.recording)}")
    if json_out:
        print(json.dumps(result.model_dump(mode="json"), ensure_ascii=False), flush=True)
    raise typer.Exit(EXIT_OK if result.success else EXIT_FAILED)


def _sim_environment(console, task, seed, form, split, scale, policy, script, model):
    """(controller, policy, instance or None, device name, task ref) for the built-in sim."""
    from agent.policies import make_policy
    from agent.recording import TaskRef
    from controllers.sim.controller import SimController
    from controllers.sim.device import SimDevice

    instance = None
    if task is not None:
        from tasks.base import make_instance

        try:
            instance = make_instance(task, seed, form.value, split.value, scale)
        except (KeyError, ValueError) as exc:
            _usage(console, str(exc.args[0] if exc.args else exc))
    try:
        pol = make_policy(policy, instance=instance, script=script, model=model)
    except (ValueError, OSError) as exc:
        _usage(console, str(exc))
    device = instance.device if instance else SimDevice(form=form.value, seed=seed, split=split.value, scale=scale)
    controller = SimController(device, expose_keys=(policy == "expert"))  # only sim experts may read sim keys
    ref = TaskRef(id=task or "", seed=seed, form=form.value, split=split.value, scale=scale,
                  params=instance.params if instance else {})
    return controller, pol, instance, f"sim-{form.value}", ref


def _android_environment(console, stack, task, seed, split, scale, device, adb_host, adb_port, policy, script,
                         model):
    """(controller, policy, instance or None, device name, task ref) on an Android device through uiautomator2."""
    from agent.cli_android import no_adb_daemon
    from agent.policies import make_policy
    from agent.recording import TaskRef
    from controllers.android.controller import AndroidController
    from controllers.base import ControllerError

    no_adb_daemon()
    instance = None
    if device is None:  # the simulated phone, served in-process over loopback
        from controllers.android.simphone.phone import SimPhoneServer
        from controllers.sim.device import SimDevice

        if task is not None:
            from tasks.base import make_instance

            try:
                instance = make_instance(task, seed, "phone", split.value, scale)
            except (KeyError, ValueError) as exc:
                _usage(console, str(exc.args[0] if exc.args else exc))
        phone = instance.device if instance else SimDevice(form="phone", seed=seed, split=split.value, scale=scale)
        server = stack.enter_context(SimPhoneServer(port=0))
        device = "emulator-5554"
        server.add(device, phone, expose_keys=(policy == "expert"))  # only sim experts may read sim keys
        adb_host, adb_port = "127.0.0.1", server.port
    elif task is not None:
        _usage(console, "--task plays a sim task: leave out --device to run it on the simulated phone")
    try:
        pol = make_policy(policy, instance=instance, script=script, model=model)
    except (ValueError, OSError) as exc:
        _usage(console, str(exc))
    try:
        with console.status(f"connecting to {escape(device)} through uiautomator2…"):
            controller = AndroidController(device, adb_host=adb_host, adb_port=adb_port,
                                           expose_keys=(policy == "expert" and instance is not None))
    except ControllerError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_FAILED)
    ref = TaskRef(id=task or "", seed=seed, form="phone", split=split.value, scale=scale,
                  params=instance.params if instance else {})
    return controller, pol, instance, f"android:{device}", ref


def _desktop_environment(console, stack, task, seed, scale, virtual, display, launch, screen_size, failsafe,
                         screenshot_only, policy, script, model):
    """(controller, policy, instance or None, device name, task ref) on an X11 desktop; cleanup joins ``stack``."""
    import tempfile

    from agent.cli_desktop import open_desktop, parse_size, wait_for_tree
    from agent.policies import make_policy
    from agent.recording import TaskRef
    from controllers.base import ControllerError
    from controllers.desktop.controller import DesktopController

    try:
        size = parse_size(screen_size)
    except typer.BadParameter as exc:
        _usage(console, str(exc))
    web_task = None
    if task is not None:
        from tasks.web import get_web_task

        try:
            web_task = get_web_task(task)
        except KeyError as exc:
            _usage(console, str(exc.args[0] if exc.args else exc))
    if policy == "expert" and web_task is None:
        _usage(console, "the expert policy needs a task: pass --task web.ID (see `handa desktop tasks`)")
    # entered before the desktop, so they are cleaned up after Chromium is gone
    profile = stack.enter_context(tempfile.TemporaryDirectory(prefix="handa-chromium-", ignore_cleanup_errors=True)) if web_task else None
    try:
        session = stack.enter_context(open_desktop(console, virtual=virtual, display=display, launch=launch,
                                                   size=size, scale=scale if virtual or scale != 1.0 else None))
    except (ControllerError, OSError) as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_FAILED)
    instance = None
    if web_task is not None:
        from controllers.desktop.apps import chromium_argv
        from tasks.web import TaskServer, WebExpertPolicy, make_web_instance

        server = stack.enter_context(TaskServer())
        instance = make_web_instance(task, seed, server)
        width, height = session.screen().width, session.screen().height
        try:
            with console.status("opening the task page in Chromium…"):
                browser = session.launch(chromium_argv(instance.url, profile, width=width, height=height))
                if not wait_for_tree(session, browser.pid):
                    raise ControllerError("Chromium shows no accessibility tree: is the AT-SPI bus running "
                                          "(package at-spi2-core)? --virtual starts one")
                if not server.wait_state(instance.session, lambda state: state is not None, timeout=20):
                    raise ControllerError("the task page did not load in Chromium")
        except (ControllerError, OSError) as exc:
            console.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(EXIT_FAILED)
    if policy == "expert":
        pol = WebExpertPolicy(instance)
    else:
        try:
            pol = make_policy(policy, instance=None, script=script, model=model)
        except (ValueError, OSError) as exc:
            _usage(console, str(exc))
    try:
        controller = DesktopController(session, failsafe=(not session.virtual) if failsafe is None else failsafe)
    except (ControllerError, OSError) as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_FAILED)
    if not controller.tree_available:
        if not screenshot_only:
            controller.close()
            _usage(console, "this desktop gives no accessibility tree (no AT-SPI bus: install at-spi2-core and "
                            "log in again, or use --virtual); pass --screenshot-only to act on screenshots alone")
        console.print("[yellow]warning:[/yellow] no accessibility tree: the policy sees screenshots only")
    ref = TaskRef(id=task or "", seed=seed, form="desktop", scale=scale,
                  params=dict(instance.params) if instance is not None else {})
    return controller, pol, instance, f"x11{session.display}", ref


@tasks_app.command("list")
def tasks_list(json_out: bool = typer.Option(False, "--json", help="Print a JSON list (id, app, steps_hint, ...)."),
               app_name: Optional[str] = typer.Option(None, "--app", help="Only this app's templates.")) -> None:
    """List the task templates."""
    from tasks import load_all

    registry = load_all()
    if app_name is not None and app_name not in {t.app for t in registry.values()}:
        _usage(Console(stderr=True), f"no app {app_name!r}; apps: {', '.join(sorted({t.app for t in registry.values()}))}")
    templates = [t for t in registry.values() if app_name is None or t.app == app_name]
    if json_out:
        print(json.dumps([t.info() for t in templates], ensure_ascii=False))
        return
    table = Table(title=f"{len(templates)} task templates")
    for col in ("id", "app", "steps", "example goal"):
        table.add_column(col)
    for t in templates:
        table.add_row(t.id, t.app, str(t.steps_hint), t.goals[0])
    Console().print(table)


@tasks_app.command("show")
def tasks_show(task_id: str = typer.Argument(..., help="Template id, e.g. settings.wifi."),
               seed: int = typer.Option(0, help="Seed of the example instance."),
               json_out: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Show one template: wordings, forms, and an example instance."""
    from tasks.base import get_template, make_instance

    console = Console()
    try:
        template = get_template(task_id)
    except KeyError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc.args[0]}")
        raise typer.Exit(EXIT_USAGE)
    from agent.recording import Masker

    example = make_instance(task_id, seed, template.forms[0])
    info = template.info() | {"example": {"seed": seed, "goal": Masker(example.secrets).text(example.goal),
                                          "params": {k: ("••••••" if k in template.secret_params else v)
                                                     for k, v in example.params.items()}}}
    if json_out:
        print(json.dumps(info, ensure_ascii=False, default=str))
        return
    console.print(f"[bold]{template.id}[/bold]  app {template.app} · about {template.steps_hint} steps · "
                  f"{'multi-step' if template.multi_step else 'single-step'} · forms {', '.join(template.forms)}")
    console.print("wordings:")
    for g in template.goals:
        console.print(f"  - {g}")
    console.print(f"example (seed {seed}): {info['example']['goal']}")


@schema_app.command("actions")
def schema_actions() -> None:
    """The action space as JSON Schema (draft 2020-12)."""
    from controllers.actions import action_json_schema

    print(json.dumps(action_json_schema(), ensure_ascii=False, indent=2))


@app.command()
def view(recording: Path = typer.Argument(..., help="A recording folder."),
         output: Optional[Path] = typer.Option(None, "-o", "--output", help="HTML file to write "
                                               "(default: index.html in the recording).")) -> None:
    """Write one self-contained HTML page showing a recording step by step."""
    from agent.recording import RecordingError, load_recording
    from agent.viewer import write_html

    console = Console(stderr=True)
    if not recording.exists():
        _usage(console, f"{recording}: no such recording folder")
    try:
        rec = load_recording(recording)
        out = write_html(rec, output)
    except (RecordingError, OSError) as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_FAILED)
    for w in rec.warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(w)}")
    console.print(f"wrote {escape(str(out))} ({len(rec.steps)} steps)")


@app.command()
def replay(recording: Path = typer.Argument(..., help="A sim recording folder."),
           mode: str = typer.Option("exact", help="`exact`: the recorded element ids and points, every screen "
                                                 "compared; `robust`: each recorded target found again by its "
                                                 "element signature (role, label, id, neighbours), the screen let "
                                                 "settle after each action."),
           repair: bool = typer.Option(False, "--repair", help="Robust: hand a diverging step to --policy instead "
                                                              "of stopping, then go on with the recording."),
           policy: str = typer.Option("inhouse", help="Who repairs with --repair: `inhouse` (Handa's own model) "
                                                     "or `expert` (the sim task's expert)."),
           seed: Optional[int] = typer.Option(None, help="Rebuild the task from this seed instead of the recorded "
                                                         "one (new data and parameters too)."),
           look_seed: Optional[int] = typer.Option(None, "--look-seed", help="Draw the looks (theme, labels, "
                                                   "layout, screen size) from this seed; data and task stay."),
           split: Optional[SplitName] = typer.Option(None, help="Rebuild on this split instead of the recorded one."),
           json_out: bool = typer.Option(False, "--json", help="Print the report as one JSON line.")) -> None:
    """Re-execute a sim recording, exactly or robustly, and report every step.

    Exit status: 0 when the replay holds (exact: every screen and the final state match; robust: the task
    succeeded), 1 when it does not or cannot be replayed, 2 on a usage error.
    """
    from agent.recording import RecordingError, load_recording
    from agent.replay import MODES, REPAIR_POLICIES, ReplaySetupError
    from agent.replay import replay as do_replay

    console = Console(stderr=True)
    if mode not in MODES:
        _usage(console, f"--mode must be {' or '.join(MODES)}, not {mode!r}")
    if policy not in REPAIR_POLICIES:
        _usage(console, f"--policy must be {' or '.join(REPAIR_POLICIES)}, not {policy!r}")
    if repair and mode != "robust":
        _usage(console, "--repair needs --mode robust")
    if not recording.exists():
        _usage(console, f"{recording}: no such recording folder")
    try:
        report = do_replay(load_recording(recording), mode, seed=seed, look_seed=look_seed,
                           split=split.value if split else None, repair=repair, policy=policy)
    except RecordingError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_FAILED)
    except ReplaySetupError as exc:  # e.g. the expert repairing a recording of no task
        _usage(console, str(exc))
    for w in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(w)}")
    marks = {"matched": "[green]✓[/green]", "terminal": "[green]■[/green]", "repaired": "[yellow]↻[/yellow]",
             "skipped": "[yellow]»[/yellow]"}
    for s in report.steps:
        if report.mode == "exact":
            mark = "[green]✓[/green]" if s.screen_matches and s.ok else "[red]✗[/red]"
            line = f"screen {'same' if s.screen_matches else 'differs'}  {escape(s.action)}"
        else:
            mark = marks.get(s.status, "[red]✗[/red]") if s.ok else "[red]✗[/red]"
            line = f"{s.status:<9} {escape(s.action)}"
            for t in s.targets:
                if t.found and t.live_id is not None:
                    line += f"  [dim]← {escape(t.recorded)} {t.score:.2f}[/dim]"
                elif t.found:
                    line += f"  [dim]({escape(t.note)})[/dim]"
            if s.note:
                line += f"  [dim]{escape(s.note)}[/dim]"
            if s.seek_scrolls:
                line += f"  [dim]after {s.seek_scrolls} scroll{'s' if s.seek_scrolls > 1 else ''}[/dim]"
            if s.screen_similarity is not None:
                line += f"  [dim]screen {s.screen_similarity:.2f}[/dim]"
        console.print(f"{s.index + 1:>4} {mark} {line}{'  [red]' + escape(s.error) + '[/red]' if s.error else ''}")
    if report.divergence is not None and report.divergence.candidates:
        console.print("     best live candidates for " + escape(report.divergence.recorded) + ": " + ", ".join(
            escape(f"#{c.id} {c.role} {c.label!r} {c.score:.2f}") for c in report.divergence.candidates))
    colour = "green" if report.ok else "red"
    console.print(f"[{colour}]{escape(report.message)}[/{colour}] (replayed {report.executed} actions)")
    if json_out:
        print(report.model_dump_json())
    raise typer.Exit(EXIT_OK if report.ok else EXIT_FAILED)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
