"""Command lines for the apps Handa starts itself (Chromium for the web task pages)."""
from __future__ import annotations

import os
import shutil
from typing import Optional


def chromium_binary() -> Optional[str]:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def chromium_argv(url: str, user_data_dir: str, *, width: int = 1280, height: int = 800, scale: float = 1.0,
                  app_mode: bool = True) -> list[str]:
    """Chromium showing ``url`` with its page content in the AT-SPI tree and nothing reaching the network.

    ``--force-renderer-accessibility`` is what puts the page's DOM into the tree; ``--app`` drops tabs and the
    omnibox so the window is the page; the network and background flags keep a closed machine quiet, and
    ``--password-store=basic`` keeps Chromium from asking a keyring over D-Bus.
    """
    binary = chromium_binary()
    if binary is None:
        raise FileNotFoundError("Chromium is not installed; on Debian run: apt-get install chromium "
                                "(scripts/setup.sh does this)")
    argv = [binary, f"--user-data-dir={user_data_dir}", "--force-renderer-accessibility"]
    if os.geteuid() == 0:  # Chromium refuses to run its sandbox as root; --test-type hides the warning bar
        argv += ["--no-sandbox", "--test-type"]
    argv += ["--no-first-run", "--no-default-browser-check", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--disable-extensions", "--disable-translate", "--password-store=basic",
            # a covered window keeps its page in the tree (Chromium otherwise drops occluded content)
            "--disable-backgrounding-occluded-windows", "--disable-renderer-backgrounding",
            "--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication,"
            "CalculateNativeWinOcclusion",
            "--hide-crash-restore-bubble", "--disable-session-crashed-bubble", "--window-position=0,0",
            f"--window-size={width},{height}"]
    if scale != 1.0:
        argv.append(f"--force-device-scale-factor={scale}")
    argv.append(f"--app={url}" if app_mode else url)
    return argv
