"""Every sim task, solved by its expert on the simulated phone through the real uiautomator2 client.

The phone speaks adb and uiautomator2 over loopback; the expert sees the tree the Android XML carries (plus the
sim-only keys and readings that only experts get), acts through the Android controller, and success is read
from the sim's app state.
"""
import pytest

from agent.loop import Agent
from controllers.android.controller import AndroidController
from controllers.android.simphone.phone import SimPhoneServer
from tasks import load_all
from tasks.base import make_instance
from tasks.expert import ExpertPolicy

@pytest.fixture(scope="module")
def server():
    import os

    os.environ["ADBUTILS_ADB_PATH"] = "/bin/false"
    with SimPhoneServer(port=0) as s:
        yield s


@pytest.mark.parametrize("task_id", sorted(load_all()))
def test_the_expert_solves_the_task_through_uiautomator2(server, task_id):
    inst = make_instance(task_id, 1, "phone")
    serial = f"emulator-{5554 + 2 * (sorted(load_all()).index(task_id))}"
    server.add(serial, inst.device, expose_keys=True, preload_jar=True)
    try:
        with AndroidController(serial, adb_port=server.port, expose_keys=True) as ctl:
            result = Agent(ctl, ExpertPolicy(inst), max_steps=40, judge=inst.is_successful).run(inst.goal)
    finally:
        server.remove(serial)
    assert result.success, f"{result.reason.value} after {result.steps} steps: {result.message}"


class GoOfflineMidRun:
    """Plays the expert, and takes the phone off the adb server before its third decision."""

    name = "offline"

    def __init__(self, inst, phone):
        self.inner, self.phone, self.calls = ExpertPolicy(inst), phone, 0

    def reset(self, goal):
        self.inner.reset(goal)

    def decide(self, goal, obs, history):
        self.calls += 1
        if self.calls == 3:
            self.phone.offline(True)
        return self.inner.decide(goal, obs, history)


def test_a_phone_that_drops_mid_run_is_a_clear_error_and_the_recording_is_finished(server, tmp_path):
    from agent.loop import StopReason
    from agent.recording import Recorder, load_recording

    inst = make_instance("contacts.add_contact", 2, "phone")
    phone = server.add("emulator-9000", inst.device, expose_keys=True, preload_jar=True)
    try:
        with AndroidController("emulator-9000", adb_port=server.port, expose_keys=True, io_timeout=5) as ctl:
            recorder = Recorder(tmp_path)
            recorder.start(goal=inst.goal, policy="offline", platform="android", device="android:emulator-9000",
                           screen=ctl.screen)
            result = Agent(ctl, GoOfflineMidRun(inst, phone), recorder, max_steps=20,
                           judge=inst.is_successful).run(inst.goal)
    finally:
        server.remove("emulator-9000")
    assert result.reason == StopReason.device_error and not result.success
    assert "emulator-9000" in result.message
    rec = load_recording(result.recording)
    assert rec.complete and rec.manifest.outcome.reason == "device_error"
    assert len(rec.steps) == 2 and all(s.action is not None for s in rec.steps)
