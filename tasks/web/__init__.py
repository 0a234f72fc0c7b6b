"""Web tasks for the real desktop: local HTML pages (``pages/``), their server and the task templates.

The pages run in Chromium; each reads its instance from the URL query and
reports its state to ``TaskServer``. ``WEB_TASKS`` is separate from the
simulator's ``tasks.base.REGISTRY``.
"""
from tasks.web.server import TaskServer
from tasks.web.tasks import (WEB_TASKS, WebExpertPolicy, WebInstance, WebTask, get_web_task, make_web_instance)

__all__ = ["TaskServer", "WEB_TASKS", "WebExpertPolicy", "WebInstance", "WebTask", "get_web_task", "make_web_instance"]
