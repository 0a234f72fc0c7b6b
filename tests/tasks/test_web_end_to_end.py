"""Every web task, solved by its tree-reading expert through the real agent loop, on Chromium on a real X server.

Success is read from the page's own reported state, never from the expert's word.
"""
import tempfile

import pytest

from agent.cli_desktop import wait_for_tree
from agent.loop import Agent
from controllers.desktop.apps import chromium_argv
from controllers.desktop.controller import DesktopController
from controllers.desktop.session import DesktopSession
from tasks.web import WEB_TASKS, TaskServer, WebExpertPolicy, make_web_instance


@pytest.fixture(scope="module")
def desktop():
    with TaskServer() as server, DesktopSession.start_virtual(width=1280, height=800) as session:
        yield session, server


def play(session, server, task_id, seed):
    instance = make_web_instance(task_id, seed, server)
    with tempfile.TemporaryDirectory(prefix="handa-chromium-", ignore_cleanup_errors=True) as profile:
        browser = session.launch(chromium_argv(instance.url, profile, width=1280, height=800), timeout=60)
        try:
            assert wait_for_tree(session, browser.pid)
            assert server.wait_state(instance.session, lambda s: s is not None, timeout=20), "the page never loaded"
            with DesktopController(session) as ctl:
                result = Agent(ctl, WebExpertPolicy(instance), max_steps=25, timeout_s=120,
                               judge=instance.is_successful).run(instance.goal)
        finally:
            browser.stop()
    return instance, result


@pytest.mark.parametrize("task_id", sorted(WEB_TASKS))
def test_the_expert_solves_the_task_in_chromium(desktop, task_id):
    session, server = desktop
    instance, result = play(session, server, task_id, seed=3)
    assert result.success, f"{task_id}: {result.reason.value} after {result.steps} steps: {result.message}"
    assert instance.is_successful(result.answer)
