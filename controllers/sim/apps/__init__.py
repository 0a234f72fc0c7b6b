"""The sim's apps. Each is one file; ``APP_CLASSES`` is the install list."""
from controllers.sim.apps.settings import SettingsApp

APP_CLASSES = [SettingsApp]
