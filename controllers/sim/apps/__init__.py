"""The sim's apps. Each is one file; ``APP_CLASSES`` is the install list (launcher order is shuffled per seed)."""
from __future__ import annotations

import importlib

from controllers.sim.apps.base import App

APP_MODULES = ["settings", "contacts", "messages", "login", "shop", "files", "calendar", "notes", "calculator",
               "webform"]


def _load() -> list[type[App]]:
    classes = []
    for name in APP_MODULES:
        module = importlib.import_module(f"controllers.sim.apps.{name}")
        classes.extend(v for v in vars(module).values()
                       if isinstance(v, type) and issubclass(v, App) and v is not App and v.__module__ == module.__name__)
    return classes


APP_CLASSES = _load()
