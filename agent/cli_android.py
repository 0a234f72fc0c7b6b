"""``handa android``: the simulated phone server, and an Android device's tree as the agent sees it."""
from __future__ import annotations

import json
import os
import time
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

android_app = typer.Typer(
    help="Android through uiautomator2: inspect a device's accessibility tree, or serve Handa's simulated phone "
         "over the real adb and uiautomator2 protocols (for tests and demos without a phone).",
    no_args_is_help=True)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def no_adb_daemon() -> None:
    """Never let adbutils spawn a real adb server: it runs ``$ADBUTILS_ADB_PATH start-server`` when a connect fails."""
    os.environ.setdefault("ADBUTILS_ADB_PATH", "/bin/false")


@android_app.command("sim")
def sim_cmd(
    adb_port: int = typer.Option(5037, "--adb-port", min=0, max=65535,
                                 help="Loopback port to serve the adb host protocol on (0: any free port)."),
    devices: int = typer.Option(1, min=1, max=16, help="How many simulated phones to serve at once."),
    seed: int = typer.Option(0, help="Seed of the first phone (the others take seed+1, seed+2, ...)."),
    split: str = typer.Option("all", help="Which sim looks and words to draw from: all, train or heldout."),
) -> None:
    """Serve simulated phones that the unmodified uiautomator2 client drives, until Ctrl-C.

    The server speaks the adb host protocol on 127.0.0.1:PORT (host:devices, transports, shell:, sync:, tcp:9008)
    and the on-device uiautomator2 JSON-RPC server behind tcp:9008. Point a client at it with
    ANDROID_ADB_SERVER_PORT=PORT, or `handa android tree --adb-port PORT --device SERIAL`.
    """
    from agent.cli_desktop import exit_on_signals
    from controllers.android.simphone.phone import serve

    exit_on_signals()
    console = Console(stderr=True)
    try:
        server = serve(adb_port=adb_port, devices=devices, seed=seed, split=split)
    except OSError as exc:
        console.print(f"[red]error:[/red] cannot serve on port {adb_port}: {escape(str(exc))}")
        raise typer.Exit(EXIT_FAILED)
    console.print(f"serving {devices} simulated phone(s) on 127.0.0.1:{server.port}: "
                  f"{', '.join(p.serial for p in server.phones)}  (Ctrl-C stops)")
    print(json.dumps({"adb_port": server.port, "serials": [p.serial for p in server.phones]}), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.close()


@android_app.command("tree")
def tree_cmd(
    device: Optional[str] = typer.Option(None, help="Device serial (default: the only one connected)."),
    adb_host: str = typer.Option("127.0.0.1", help="Host of the adb server."),
    adb_port: int = typer.Option(5037, "--adb-port", help="Port of the adb server."),
    flat: bool = typer.Option(False, "--flat", help="With --json: {\"count\": N, \"nodes\": [...]}."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON: the nodes with their children nested."),
) -> None:
    """Print a device's accessibility tree (uiautomator's window hierarchy) as the agent sees it.

    Exit status 1 when the device cannot be reached.
    """
    from agent.cli_desktop import describe_element, nest
    from controllers.android.controller import AndroidController
    from controllers.base import ControllerError

    no_adb_daemon()
    console = Console(stderr=True)
    try:
        with AndroidController(device, adb_host=adb_host, adb_port=adb_port) as ctl:
            obs = ctl.observe()
    except ControllerError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_FAILED)
    for w in obs.warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(w)}")
    if json_out:
        if flat:
            nodes = [e.model_dump(mode="json", exclude={"children"}) for e in obs.elements]
            print(json.dumps({"count": len(nodes), "nodes": nodes}, ensure_ascii=False))
        else:
            print(json.dumps(nest(obs.elements), ensure_ascii=False))
        return
    top = Tree(f"[bold]{escape(obs.device)}[/bold] {obs.screen.width}x{obs.screen.height} · {len(obs.elements)} "
               f"nodes · foreground: {escape(obs.app or '-')}")
    branches = {}
    for e in obs.elements:
        branches[e.id] = branches.get(e.parent, top).add(describe_element(e))
    Console().print(top)
