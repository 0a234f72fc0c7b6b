from controllers.actions import (Click, Done, Frame, MouseButton, OpenApp, PointTarget, Scroll, TypeText, Wait,
                                 element)
from controllers.policy import Decision
from controllers.sim import SimController
from agent.loop import Agent, StopReason
from agent.policies import ScriptedPolicy
from agent.recording import Recorder, load_recording
from tasks.base import make_instance
from tasks.expert import ExpertPolicy


class ConstructedBadAction:
    """A policy that emits an action object built without validation."""

    name = "bad"

    def __init__(self, action):
        self.action = action
        self.seen_errors = []

    def reset(self, goal):
        pass

    def decide(self, goal, observation, history):
        self.seen_errors += [h.error for h in history if h.error]
        return Decision.model_construct(action=self.action, confidence=None, scores={}, raw=None, error=None)


def test_expert_solves_a_task_through_the_loop(tmp_path):
    inst = make_instance("settings.rename_device", seed=1)
    rec = Recorder(tmp_path)
    rec.start(goal=inst.goal, policy="expert", platform="sim")
    result = Agent(SimController(inst.device), ExpertPolicy(inst), rec, judge=inst.is_successful).run(inst.goal)
    assert result.success and result.reason == StopReason.done and result.steps >= 4
    loaded = load_recording(result.recording)
    assert loaded.complete and len(loaded.steps) == result.steps and loaded.manifest.outcome.success


def test_unknown_element_is_refused_fed_back_and_limited():
    ctl = SimController(seed=1)
    policy = ScriptedPolicy([{"type": "click", "target": {"kind": "element", "id": 4242}}] * 10)
    result = Agent(ctl, policy, max_errors=2).run("click something")
    assert not result.success and result.reason == StopReason.error_limit and result.steps == 3
    assert ctl.device.actions_done == 0  # nothing was executed


def test_out_of_screen_and_schema_violations_are_never_executed():
    ctl = SimController(seed=1, form="desktop")
    bad_point = Click.model_construct(type="click", target=PointTarget.model_construct(kind="point", x=2.0, y=0.5,
                                                                                       frame=Frame.screen),
                                      button=MouseButton.left, count=1)
    policy = ConstructedBadAction(bad_point)
    result = Agent(ctl, policy, max_errors=1).run("goal")
    assert result.reason == StopReason.error_limit
    assert ctl.device.actions_done == 0
    assert any("schema violation" in e for e in policy.seen_errors)


def test_malformed_script_entry_is_recorded_not_run(tmp_path):
    ctl = SimController(seed=2)
    rec = Recorder(tmp_path)
    rec.start(goal="g", policy="scripted", platform="sim")
    policy = ScriptedPolicy([{"type": "click", "target": "the big button"}, {"type": "done"}])
    result = Agent(ctl, policy, rec).run("g")
    assert result.success and result.steps == 2
    steps = load_recording(result.recording).steps
    assert steps[0].validation_error and "script entry 0" in steps[0].validation_error
    assert steps[0].result is None


def test_policy_exception_does_not_lose_the_recording(tmp_path):
    class Boom:
        name = "boom"

        def reset(self, goal):
            pass

        def decide(self, goal, obs, history):
            raise RuntimeError("kaput")

    rec = Recorder(tmp_path)
    rec.start(goal="g", policy="boom", platform="sim")
    result = Agent(SimController(seed=1), Boom(), rec, max_errors=0).run("g")
    assert result.reason == StopReason.error_limit and "kaput" in result.message
    assert load_recording(result.recording).complete


def test_no_progress_stops_the_episode():
    ctl = SimController(seed=3)
    ctl.observe()
    # clicking the launcher clock does nothing, over and over
    clock = next(e for e in ctl.observe().elements if e.attrs.get("sim-key") == "launcher:clock")
    policy = ScriptedPolicy([Click(target=element(clock.id))] * 20)
    result = Agent(ctl, policy, no_progress_limit=4).run("stare")
    assert result.reason == StopReason.no_progress and result.steps == 4


def test_max_steps_and_timeout():
    policy = ScriptedPolicy([OpenApp(app="settings"), Scroll(direction="down"), Scroll(direction="up")] * 10)
    r = Agent(SimController(seed=4), policy, max_steps=3, no_progress_limit=0).run("g")
    assert r.reason == StopReason.max_steps and r.steps == 3
    r = Agent(SimController(seed=4), policy, timeout_s=0.0).run("g")
    assert r.reason == StopReason.timeout


def test_ctrl_c_finalizes_the_recording(tmp_path):
    class Interrupt:
        name = "ctrlc"

        def __init__(self):
            self.n = 0

        def reset(self, goal):
            pass

        def decide(self, goal, obs, history):
            self.n += 1
            if self.n == 3:
                raise KeyboardInterrupt
            return Decision(action=OpenApp(app="settings"))

    rec = Recorder(tmp_path)
    rec.start(goal="g", policy="ctrlc", platform="sim")
    r = Agent(SimController(seed=5), Interrupt(), rec).run("g")
    assert r.reason == StopReason.interrupted and not r.success
    loaded = load_recording(r.recording)
    assert loaded.complete and loaded.manifest.outcome.reason == "interrupted" and len(loaded.steps) == 2


def test_device_loss_is_a_clear_stop(tmp_path):
    ctl = SimController(seed=6)

    class Closer:
        name = "closer"

        def reset(self, goal):
            pass

        def decide(self, goal, obs, history):
            ctl.close()
            return Decision(action=OpenApp(app="settings"))

    rec = Recorder(tmp_path)
    rec.start(goal="g", policy="closer", platform="sim")
    r = Agent(ctl, Closer(), rec).run("g")
    assert r.reason == StopReason.device_error and "closed" in r.message
    assert load_recording(r.recording).complete


def test_answer_is_judged_by_the_task():
    inst = make_instance("settings.read_device_name", seed=2)
    r = Agent(SimController(inst.device), ScriptedPolicy([{"type": "answer", "text": "wrong"}]),
              judge=inst.is_successful).run(inst.goal)
    assert r.reason == StopReason.answer and r.answer == "wrong" and not r.success
    inst = make_instance("settings.read_device_name", seed=2)
    r = Agent(SimController(inst.device), ExpertPolicy(inst), judge=inst.is_successful).run(inst.goal)
    assert r.success and r.answer == inst.device.app("settings").device_name


def test_history_reports_results_to_the_policy():
    seen = []

    class Watcher(ScriptedPolicy):
        def decide(self, goal, obs, history):
            seen.append([(h.ok, h.error) for h in history])
            return super().decide(goal, obs, history)

    policy = Watcher([OpenApp(app="nope"), TypeText(text="x"), Done()])
    Agent(SimController(seed=7), policy).run("g")
    assert seen[-1][0][0] is False and "nope" in seen[-1][0][1]
    assert seen[-1][1][0] is False and "focus" in seen[-1][1][1]


def test_wait_is_executed_and_recorded():
    r = Agent(SimController(seed=8), ScriptedPolicy([Wait(seconds=0.01), Done()])).run("g")
    assert r.success and r.steps == 2
