"""``handa desktop``: look at a Linux (X11) desktop the way the agent does, and the desktop half of ``handa run``."""
from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import Iterator, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

desktop_app = typer.Typer(
    help="Inspect a Linux (X11) desktop as Handa sees it: the accessibility tree, a screenshot, the windows. "
         "Uses $DISPLAY, or with --virtual a private desktop (Xvfb, openbox, a private D-Bus and the AT-SPI bus) "
         "that is stopped, with everything started in it, when the command ends.",
    no_args_is_help=True)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

VIRTUAL_HELP = "Start a private virtual desktop (Xvfb + openbox + private D-Bus + AT-SPI) instead of using $DISPLAY."
LAUNCH_HELP = ("Start this program inside the desktop first and wait for its window (split like a shell would, "
               "never run through one), e.g. --launch gtk3-widget-factory.")
SCREEN_HELP = "Size of the virtual screen, WIDTHxHEIGHT."


def parse_size(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d{2,5})\s*[xX×]\s*(\d{2,5})\s*", text)
    if not m:
        raise typer.BadParameter(f"expected WIDTHxHEIGHT such as 1280x800, got {text!r}")
    w, h = int(m.group(1)), int(m.group(2))
    if not (64 <= w <= 16384 and 64 <= h <= 16384):
        raise typer.BadParameter("each side must be between 64 and 16384 pixels")
    return w, h


def exit_on_signals() -> None:
    """SIGTERM and SIGHUP end the command like Ctrl-C does, so every desktop it started is stopped on the way out."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)


@contextlib.contextmanager
def open_desktop(console: Console, *, virtual: bool, display: Optional[str] = None, launch: Optional[str] = None,
                 size: tuple[int, int] = (1280, 800), scale: Optional[float] = None, tree: bool = True) -> Iterator:
    """A ready desktop session (and the app it launched); everything started is stopped on exit.

    ``scale`` None: 1 for a virtual desktop, read from Xft.dpi on your own display.
    """
    from controllers.desktop.session import DesktopSession

    exit_on_signals()
    with console.status("starting the virtual desktop…" if virtual else "connecting to the display…"):
        if virtual:
            session = DesktopSession.start_virtual(width=size[0], height=size[1], scale=scale or 1.0,
                                                   accessibility=tree)
        else:
            session = DesktopSession.attach(display, scale=scale)
    try:
        if launch:
            with console.status(f"launching {escape(launch)}…"):
                app = session.launch(launch)
                if tree and not wait_for_tree(session, app.pid):
                    console.print(f"[yellow]warning:[/yellow] {escape(launch)} shows no accessibility tree "
                                  "(not an AT-SPI app, or accessibility is off)")
        yield session
    finally:
        session.close()


def wait_for_tree(session, pid: int, timeout: float = 20.0) -> bool:
    """Wait until the app with ``pid`` shows up in the accessibility tree with at least one on-screen node."""
    import time

    from controllers.desktop.atspi import AtspiError, AtspiReader, a11y_bus_address

    deadline = time.monotonic() + timeout
    try:
        address = session.a11y_address or a11y_bus_address(session.env.get("DBUS_SESSION_BUS_ADDRESS"))
    except AtspiError:
        return False
    with AtspiReader(address) as reader:
        screen = session.screen().rect
        while time.monotonic() < deadline:
            try:
                if reader.dump(screen, pids={pid}, max_nodes=50).elements:
                    return True
            except AtspiError:
                pass
            time.sleep(0.1)
    return False


def _fail(console: Console, exc: Exception) -> None:
    console.print(f"[red]error:[/red] {escape(str(exc))}")
    raise typer.Exit(EXIT_FAILED)


@desktop_app.command("tree")
def tree_cmd(
    virtual: bool = typer.Option(False, "--virtual", help=VIRTUAL_HELP),
    launch: Optional[str] = typer.Option(None, help=LAUNCH_HELP),
    display: Optional[str] = typer.Option(None, help="X display to read (default: $DISPLAY)."),
    screen_size: str = typer.Option("1280x800", "--screen", help=SCREEN_HELP),
    max_nodes: int = typer.Option(1000, min=1, help="Keep at most this many nodes (interactive and text first)."),
    flat: bool = typer.Option(False, "--flat", help="With --json: {\"count\": N, \"nodes\": [...]} instead of a "
                                                    "nested tree."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON: the nodes with their children nested."),
) -> None:
    """Print the accessibility tree as the agent sees it, like an inspector.

    Each line shows #id, role, label, value and states, and the bounds in screen pixels. Invisible subtrees are
    pruned and the node count is capped (see --max-nodes). Exit status 1 when the desktop cannot be reached.
    """
    from controllers.base import ControllerError
    from controllers.desktop.controller import DesktopController

    console = Console(stderr=True)
    size = parse_size(screen_size)
    try:
        with open_desktop(console, virtual=virtual, display=display, launch=launch, size=size) as session:
            with DesktopController(session, max_nodes=max_nodes) as ctl:
                obs = ctl.observe()
    except (ControllerError, OSError) as exc:
        _fail(console, exc)
    for w in obs.warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(w)}")
    if json_out:
        nodes = [e.model_dump(mode="json", exclude={"children"}) for e in obs.elements]
        if flat:
            print(json.dumps({"count": len(nodes), "nodes": nodes}, ensure_ascii=False))
        else:
            print(json.dumps(nest(obs.elements), ensure_ascii=False))
        return
    out = Console()
    top = Tree(f"[bold]{escape(obs.device)}[/bold] {obs.screen.width}x{obs.screen.height} · {len(obs.elements)} "
               f"nodes · active: {escape(obs.window or '-')}")
    branches = {}
    for e in obs.elements:
        parent = branches.get(e.parent, top)
        branches[e.id] = parent.add(describe_element(e))
    out.print(top)


def nest(elements) -> list[dict]:
    """The elements as nested dicts: roots with their ``children`` inlined, in tree order."""
    by_id = {}
    roots = []
    for e in elements:
        node = e.model_dump(mode="json", exclude={"children"})
        node["children"] = []
        by_id[e.id] = node
        parent = by_id.get(e.parent) if e.parent is not None else None
        (parent["children"] if parent is not None else roots).append(node)
    return roots


def describe_element(e) -> str:
    s = e.states
    flags = [name for name, on in (("focused", s.focused), ("selected", s.selected), ("editable", s.editable),
                                   ("disabled", not s.enabled), ("password", s.password)) if on]
    if s.checked is not None:
        flags.insert(0, "checked" if s.checked else "unchecked")
    b = e.bounds
    parts = [f"[cyan]#{e.id}[/cyan] [bold]{e.role.value}[/bold]"]
    if e.label:
        parts.append(f'"{escape(e.label[:80])}"')
    if e.value and not s.password:
        parts.append(f"= {escape(e.value[:60])!r}")
    if flags:
        parts.append(f"[yellow]{' '.join(flags)}[/yellow]")
    parts.append(f"[dim]({b.left},{b.top} {b.width}x{b.height})[/dim]")
    return " ".join(parts)


@desktop_app.command("screenshot")
def screenshot_cmd(
    output: Path = typer.Option(Path("screenshot.png"), "-o", "--output", help="Image file to write (PNG, JPEG, "
                                                                                "WebP by its extension)."),
    virtual: bool = typer.Option(False, "--virtual", help=VIRTUAL_HELP),
    launch: Optional[str] = typer.Option(None, help=LAUNCH_HELP),
    display: Optional[str] = typer.Option(None, help="X display to capture (default: $DISPLAY)."),
    screen_size: str = typer.Option("1280x800", "--screen", help=SCREEN_HELP),
) -> None:
    """Save a screenshot of the whole screen (all monitors), as the agent's observations capture it."""
    from controllers.base import ControllerError
    from controllers.desktop.controller import DesktopController

    console = Console(stderr=True)
    size = parse_size(screen_size)
    try:
        with open_desktop(console, virtual=virtual, display=display, launch=launch, size=size, tree=False) as session:
            with DesktopController(session, tree=False) as ctl:
                image = ctl.observe().screenshot()
        image.save(output)
    except (ControllerError, OSError, ValueError) as exc:
        _fail(console, exc)
    console.print(f"wrote {escape(str(output))} ({image.width}x{image.height})")


@desktop_app.command("windows")
def windows_cmd(
    display: Optional[str] = typer.Option(None, help="X display to read (default: $DISPLAY)."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON list."),
) -> None:
    """List the top-level windows (bottom to top): id, title, class, process, bounds, which one is active."""
    from controllers.base import ControllerError
    from controllers.desktop.session import DesktopSession
    from controllers.desktop.windows import WindowManager

    console = Console(stderr=True)
    try:
        session = DesktopSession.attach(display)
        with WindowManager(session.display) as wm:
            windows = wm.windows()
    except (ControllerError, OSError) as exc:
        _fail(console, exc)
    if json_out:
        print(json.dumps([w.model_dump(mode="json") for w in windows], ensure_ascii=False))
        return
    for w in windows:
        b = w.bounds
        mark = "*" if w.active else " "
        Console().print(f"{mark} 0x{w.id:08x} {escape(w.title)!r} [dim]{escape(w.wm_class)} pid {w.pid} "
                        f"({b.left},{b.top} {b.width}x{b.height})[/dim]")


@desktop_app.command("tasks")
def tasks_cmd(json_out: bool = typer.Option(False, "--json", help="Print a JSON list (id, page, steps_hint, goals).")
              ) -> None:
    """List the web task pages that `handa run --platform desktop --task web.ID` opens in Chromium."""
    from rich.table import Table

    from tasks.web import WEB_TASKS

    infos = [WEB_TASKS[k].info() for k in sorted(WEB_TASKS)]
    if json_out:
        print(json.dumps(infos, ensure_ascii=False))
        return
    table = Table(title=f"{len(infos)} web tasks")
    for col in ("id", "page", "steps", "example goal"):
        table.add_column(col)
    for info in infos:
        table.add_row(info["id"], info.get("page", ""), str(info.get("steps_hint", "")), info["goals"][0])
    Console().print(table)
