"""What every ``handa`` command shares: exit codes, usage errors, NAME=VALUE options."""
from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def usage_error(console: Console, message: str) -> None:
    """Print a usage error and exit with status 2."""
    console.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(EXIT_USAGE)


def name_value_pairs(pairs: list[str], option: str, console: Console) -> dict[str, str]:
    """``["A=1", "B=x=y"]`` as a dict; anything without ``=`` or a name is a usage error naming ``option``."""
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            usage_error(console, f"{option} takes NAME=VALUE, got {pair!r}")
        out[name] = value
    return out
