"""Task templates for the sim, one module per app. ``load_all`` registers them."""
from __future__ import annotations

import importlib

TASK_MODULES = ["settings", "contacts", "messages", "login", "shop", "files", "calendar", "notes",
                "calculator", "webform"]


def load_all() -> dict:
    from tasks.base import REGISTRY

    for name in TASK_MODULES:
        importlib.import_module(f"tasks.apps.{name}")
    return REGISTRY
