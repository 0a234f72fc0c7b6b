"""Faults on a real desktop: no accessibility bus, an app dying under the tree walk, the display dying mid-run."""
import os
import signal
import threading
import time

import pytest

from agent.loop import Agent, StopReason
from agent.policies import ScriptedPolicy
from agent.recording import Recorder, load_recording
from controllers.actions import Click, TypeText, point
from controllers.base import DeviceLost
from controllers.desktop.controller import DesktopController
from controllers.desktop.session import DesktopSession
from controllers.elements import Role
from tests.controllers.desktop.conftest import wait_until, xterm_capture


def test_without_an_accessibility_bus_observations_are_screenshot_only_and_say_so(tmp_path):
    with DesktopSession.start_virtual(accessibility=False) as session:
        out = tmp_path / "typed.txt"
        xterm_capture(session, out)
        with DesktopController(session) as ctl:
            obs = ctl.observe()
            assert obs.elements == []
            assert any("screenshot" in w for w in obs.warnings), obs.warnings
            assert obs.screenshot().size == (1280, 800)
            assert obs.window == "capture"  # windows still come from the X server
            # acting by points still works: click into the terminal and type
            w = obs.window_bounds
            result = ctl.execute(Click(target=point(w.center[0] / 1279, w.center[1] / 799)))
            assert result.ok
            ctl.observe()
            assert ctl.execute(TypeText(text="화면만 <ok>", submit=True)).ok
            assert wait_until(lambda: out.exists() and out.read_text(encoding="utf-8") == "화면만 <ok>\n")


def test_an_app_killed_during_observation_never_breaks_observe():
    with DesktopSession.start_virtual(width=1600, height=1000) as session:
        app = session.launch(["gtk3-widget-factory"])
        session.launch(["xterm", "-T", "survivor"])
        with DesktopController(session) as ctl:
            assert wait_until(lambda: any(e.attrs.get("pid") == str(app.pid) for e in ctl.observe().elements),
                              timeout=20)
            stop = threading.Event()
            errors, observations = [], []

            def observe_in_a_loop():
                while not stop.is_set():
                    try:
                        observations.append(ctl.observe())
                    except Exception as exc:  # the assertion below reports it
                        errors.append(exc)

            worker = threading.Thread(target=observe_in_a_loop)
            worker.start()
            time.sleep(0.3)
            os.kill(app.pid, signal.SIGKILL)
            time.sleep(1.5)
            stop.set()
            worker.join(10)
            assert errors == []
            assert len(observations) >= 3
            last = ctl.observe()
            assert not any(e.attrs.get("pid") == str(app.pid) for e in last.elements)
            assert last.window == "survivor"


class KillDisplay:
    """A policy that clicks, and pulls the X server out from under the agent on its second decision."""

    name = "kill-display"

    def __init__(self, xvfb):
        self.xvfb = xvfb
        self.calls = 0
        self.inner = ScriptedPolicy([Click(target=point(0.5, 0.5)), Click(target=point(0.4, 0.4)),
                                     Click(target=point(0.3, 0.3))])

    def reset(self, goal):
        self.inner.reset(goal)

    def decide(self, goal, obs, history):
        self.calls += 1
        if self.calls == 2:
            self.xvfb.kill()
            self.xvfb.wait(5)
        return self.inner.decide(goal, obs, history)


def test_the_display_dying_mid_run_is_a_clear_device_error_and_the_recording_is_finished(tmp_path):
    session = DesktopSession.start_virtual(accessibility=False)
    try:
        xvfb = session._processes[0]
        assert "Xvfb" in xvfb.args[0]
        ctl = DesktopController(session)
        recorder = Recorder(tmp_path)
        recorder.start(goal="click around", policy="kill-display", platform="desktop", device=f"x11{session.display}",
                       screen=ctl.screen)
        result = Agent(ctl, KillDisplay(xvfb), recorder, max_steps=5).run("click around")
        assert result.reason == StopReason.device_error
        assert "display" in result.message and session.display in result.message
        rec = load_recording(result.recording)
        assert rec.complete and rec.manifest.outcome.reason == "device_error"
        assert len(rec.steps) >= 1 and rec.steps[0].action is not None
        with pytest.raises(DeviceLost, match="gone|cannot reach"):
            ctl.observe()
    finally:
        session.close()
