"""Play suites on a device, step by step, and record what happened.

Every step resolves its selectors against a fresh observation (``controllers.selectors.find``), acts through
the controller, waits for the screen to settle, and records its timing, outcome and the screen afterwards.
``goal:`` steps run the agent loop with the in-house model on the same controller. Setup runs first; the
steps stop at the first failure (the rest are skipped); teardown always runs. Secrets are masked in every
message (``agent.recording.Masker``).
"""
from __future__ import annotations

import io
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Optional

from pydantic import BaseModel, Field

from agent.recording import Masker
from agent.suite.model import (Condition, LoadedSuite, SelRef, TapSpec, describe_selector, point_of, step_value,
                               to_selector)
from controllers.actions import (Click, Direction, ElementTarget, Key, LongPress, OpenApp, PointTarget, Scroll,
                                 Swipe, System, SystemButton, TypeText, Wait, describe)
from controllers.base import ControllerError, DeviceLost
from controllers.selectors import find

DEFAULT_POLICY = "inhouse"


class StepStatus(str, Enum):
    passed = "passed"
    failed = "failed"
    skipped = "skipped"


class StepResult(BaseModel):
    """One step (or a round of a retry/repeat, or a decision of a goal step) and what became of it."""

    path: str  # "steps.3", "steps.3.attempt2.1"
    phase: str  # setup | steps | teardown
    kind: str
    description: str
    line: Optional[int] = None
    status: StepStatus = StepStatus.skipped
    tolerated: bool = False  # failed inside `optional:`; the suite goes on
    in_optional: bool = Field(default=False, exclude=True)  # inside an `optional:` block (for live logs)
    error: Optional[str] = None
    note: Optional[str] = None
    started_s: float = 0.0  # since the suite started
    duration_s: float = 0.0
    points: list[tuple[int, int]] = Field(default_factory=list)  # resolved pixels of the action
    screen: Optional[str] = None  # the window/app shown after the step
    screenshot: Optional[bytes] = Field(default=None, exclude=True, repr=False)  # PNG of the screen after the step
    children: list["StepResult"] = Field(default_factory=list)

    def walk(self):
        yield self
        for c in self.children:
            yield from c.walk()


class SuiteResult(BaseModel):
    name: str
    file: str
    platform: str
    device: str = ""
    tags: list[str] = Field(default_factory=list)
    status: StepStatus = StepStatus.failed
    started: float = 0.0  # epoch seconds
    duration_s: float = 0.0
    error: Optional[str] = None  # the first failure: where and why
    failed_step: Optional[str] = None
    steps: list[StepResult] = Field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status == StepStatus.passed

    def summary(self) -> dict:
        leaves = [s for top in self.steps for s in top.walk() if not s.children]
        return {"name": self.name, "file": self.file, "platform": self.platform, "device": self.device,
                "tags": self.tags, "status": self.status.value, "duration_s": round(self.duration_s, 3),
                "error": self.error, "failed_step": self.failed_step, "steps": len(self.steps),
                "passed_steps": sum(s.status == StepStatus.passed for s in self.steps),
                "failed_steps": sum(s.status == StepStatus.failed and not s.tolerated for s in self.steps),
                "skipped_steps": sum(s.status == StepStatus.skipped for s in self.steps), "actions": len(leaves)}


class StepFailure(Exception):
    """A step did not do what it says; the message is the reason shown in reports."""


# ---------------------------------------------------------------- devices


class _Device:
    """A controller plus what the action space has no verb for: stopping an app, naming the foreground app."""

    name = ""
    polls = True  # the screen may change by itself: element lookups and asserts wait
    instance: Any = None

    def __init__(self, controller: Any):
        self.controller = controller

    def stop(self, app: str) -> Optional[str]:
        return f"stopping apps is not supported on {self.name}"

    def foreground(self, obs: Any) -> list[str]:
        names = [obs.app, obs.window]
        if obs.app and "." in obs.app:
            names.append(obs.app.rsplit(".", 1)[-1])
        if "launcher" in (obs.app or "").casefold():
            names.append("home")
        return [n for n in names if n]


class _SimDevice(_Device):
    polls = False  # the sim applies input synchronously: nothing changes unless a step acts

    def __init__(self, loaded: LoadedSuite):
        from controllers.sim.controller import SimController
        from controllers.sim.device import SimDevice

        s = loaded.suite
        if s.task:
            from tasks.base import make_instance

            self.instance = make_instance(s.task, s.seed, s.form, s.split)
            device = self.instance.device
        else:
            device = SimDevice(form=s.form, seed=s.seed, split=s.split)
        super().__init__(SimController(device, expose_keys=False))  # suites and models see what a real device gives
        self.device = device
        self.name = f"sim-{s.form}-{s.seed}"

    def stop(self, app: str) -> Optional[str]:
        key = self.device.find_app(app)
        if key is None:
            return f"no app named {app!r} on this device"
        self.device.close_app(key)
        return None

    def foreground(self, obs: Any) -> list[str]:
        key = self.device.foreground
        if key is None or self.device.showing_recents:
            return ["home", "launcher", obs.app] if key is None else ["recents"]
        return [*self.device.names_of(key), obs.window]


class _AndroidDevice(_Device):
    def __init__(self, loaded: LoadedSuite, serial: Optional[str], stack: ExitStack):
        from agent.cli_android import no_adb_daemon
        from controllers.android.controller import AndroidController

        no_adb_daemon()
        s = loaded.suite
        port = 5037
        if serial is None:  # the simulated phone, served in-process over the adb and uiautomator2 protocols
            from controllers.android.simphone.phone import SimPhoneServer
            from controllers.sim.device import SimDevice

            if s.task:
                from tasks.base import make_instance

                self.instance = make_instance(s.task, s.seed, "phone", s.split)
                phone = self.instance.device
            else:
                phone = SimDevice(form="phone", seed=s.seed, split=s.split)
            server = stack.enter_context(SimPhoneServer(port=0))
            serial = "emulator-5554"
            server.add(serial, phone, expose_keys=False)
            port = server.port
        controller = AndroidController(serial, adb_port=port, expose_keys=False)
        stack.callback(controller.close)
        super().__init__(controller)
        self.name = f"android:{serial}"

    def stop(self, app: str) -> Optional[str]:
        c = self.controller
        packages = c._match_packages(app)
        if not packages:
            return f"no installed package matches {app!r}"
        c._shell(["am", "force-stop", packages[0]], what=f"am force-stop {packages[0]}")
        c._last = None
        return None


class _DesktopDevice(_Device):
    def __init__(self, loaded: LoadedSuite, display: Optional[str], stack: ExitStack):
        from agent.cli_desktop import wait_for_tree
        from controllers.desktop.controller import DesktopController
        from controllers.desktop.session import DesktopSession

        s = loaded.suite
        if display is None:
            session = DesktopSession.start_virtual(width=1280, height=800)
        else:
            session = DesktopSession.attach(display)
        stack.callback(session.close)
        if s.app:
            launched = session.launch(s.app)
            wait_for_tree(session, launched.pid)
        controller = DesktopController(session, failsafe=False)
        stack.callback(controller.close)
        super().__init__(controller)
        self.name = f"x11{session.display}"

    def stop(self, app: str) -> Optional[str]:
        import shlex

        try:
            words = shlex.split(app)
        except ValueError:
            words = app.split()
        wanted = Path(words[0]).name.casefold() if words else ""
        for win in reversed(self.controller.windows()):
            if wanted and (wanted == win.wm_class.casefold() or wanted in win.title.casefold()):
                self.controller.focus(win.id)
                result = self.controller.execute(Key(keys=["alt", "f4"]))
                return None if result.ok else result.error
        return f"no open window matches {app!r}"


def open_device(loaded: LoadedSuite, platform: str, device: Optional[str], stack: ExitStack) -> _Device:
    if platform == "sim":
        return _SimDevice(loaded)
    if platform == "android":
        return _AndroidDevice(loaded, device, stack)
    if platform == "desktop":
        return _DesktopDevice(loaded, device, stack)
    raise ValueError(f"unknown platform {platform!r}")


# ---------------------------------------------------------------- the runner


def _png(image: Any) -> Optional[bytes]:
    if image is None:
        return None
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


class SuiteRunner:
    """Runs one loaded suite on one device. ``on_step(suite, result, depth)`` is called as steps finish."""

    poll_interval = 0.25

    def __init__(self, loaded: LoadedSuite, *, platform: Optional[str] = None, device: Optional[str] = None,
                 screenshots: bool = True, on_step: Optional[Callable[[str, StepResult, int], None]] = None,
                 policy_factory: Optional[Callable[[], Any]] = None):
        self.loaded = loaded
        self.suite = loaded.suite
        self.platform = platform or self.suite.platform
        self.device_name = device
        self.screenshots = screenshots
        self.on_step = on_step
        self.masker = Masker(dict(loaded.secrets))
        self._policy_factory = policy_factory
        self._dev: Optional[_Device] = None
        self._t0 = 0.0
        self._deadline = 0.0
        self._lost: Optional[str] = None
        self._optional = 0

    # ------------------------------------------------------------ public
    def run(self) -> SuiteResult:
        s = self.suite
        result = SuiteResult(name=self.masker.text(s.name), file=str(self.loaded.path), platform=self.platform,
                             tags=list(s.tags), started=time.time())
        self._t0 = time.monotonic()
        self._deadline = self._t0 + s.timeouts.suite
        with ExitStack() as stack:
            try:
                self._dev = open_device(self.loaded, self.platform, self.device_name, stack)
                result.device = self._dev.name
            except Exception as exc:  # a device that cannot be opened fails the suite, it does not crash the run
                reason = self.masker.text(f"could not open the {self.platform} device: {type(exc).__name__}: {exc}")
                result.steps = [self._skipped(st, f"{phase}.{i + 1}", phase) for phase in ("setup", "steps",
                                                                                         "teardown")
                                for i, st in enumerate(getattr(s, phase))]
                result.error, result.status = reason, StepStatus.failed
                result.duration_s = time.monotonic() - self._t0
                return result
            setup, ok = self._run_list(s.setup, "setup", "setup", 0)
            if ok:
                main, ok = self._run_list(s.steps, "steps", "steps", 0)
            else:
                main = [self._skipped(st, f"steps.{i + 1}", "steps", "setup failed") for i, st in enumerate(s.steps)]
            self._deadline = max(self._deadline, time.monotonic() + min(60.0, s.timeouts.suite))  # teardown's share
            teardown, _ = self._run_list(s.teardown, "teardown", "teardown", 0, keep_going=True)
        result.steps = setup + main + teardown
        result.duration_s = time.monotonic() - self._t0
        failed = [r for r in result.steps if r.status == StepStatus.failed and not r.tolerated]
        result.status = StepStatus.failed if failed else StepStatus.passed
        if failed:
            first = failed[0]
            deepest = next((r for r in first.walk() if r.status == StepStatus.failed and not r.children
                            and not r.tolerated), first)
            line = deepest.line or first.line
            where = f"{self.loaded.path}:{line}" if line else str(self.loaded.path)
            what = first.description if deepest is first else f"{deepest.description} (in {first.description})"
            result.failed_step = first.path
            result.error = f"{where}: {what}: {deepest.error or first.error}"
        return result

    # ------------------------------------------------------------ lists and steps
    def _run_list(self, steps: list, prefix: str, phase: str, depth: int,
                  keep_going: bool = False) -> tuple[list[StepResult], bool]:
        out: list[StepResult] = []
        ok = True
        for i, step in enumerate(steps):
            path = f"{prefix}.{i + 1}"
            if not ok and not keep_going:
                out.append(self._skipped(step, path, phase, "an earlier step failed"))
                continue
            r = self._run_step(step, path, phase, depth)
            out.append(r)
            if r.status == StepStatus.failed and not r.tolerated:
                ok = False
        return out, ok

    def _skipped(self, step: Any, path: str, phase: str, note: Optional[str] = None) -> StepResult:
        return StepResult(path=path, phase=phase, kind=step.kind, description=self.masker.text(self._describe(step)),
                          line=self.loaded.line_of(step), status=StepStatus.skipped, note=note)

    def _run_step(self, step: Any, path: str, phase: str, depth: int) -> StepResult:
        r = StepResult(path=path, phase=phase, kind=step.kind, description=self._describe(step),
                       line=self.loaded.line_of(step), started_s=time.monotonic() - self._t0,
                       in_optional=self._optional > 0)
        t0 = time.perf_counter()
        leaf = step.kind not in ("retry", "optional", "repeat", "goal")
        try:
            if self._lost:
                raise StepFailure(f"the device is gone ({self._lost})")
            if time.monotonic() > self._deadline:
                raise StepFailure(f"the suite's time limit of {self.suite.timeouts.suite:g}s was reached")
            getattr(self, f"_do_{step.kind}")(step_value(step), r, depth)
            if r.status != StepStatus.failed:
                r.status = StepStatus.passed
        except StepFailure as exc:
            r.status, r.error = StepStatus.failed, str(exc)
        except DeviceLost as exc:
            self._lost = f"{type(exc).__name__}: {exc}"
            r.status, r.error = StepStatus.failed, self._lost
        except ControllerError as exc:
            r.status, r.error = StepStatus.failed, f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # a bug or a broken device must fail the step, never lose the report
            r.status, r.error = StepStatus.failed, f"unexpected {type(exc).__name__}: {exc}"
        r.duration_s = time.perf_counter() - t0
        r.error = self.masker.text(r.error) if r.error else r.error
        r.note = self.masker.text(r.note) if r.note else r.note
        r.description = self.masker.text(r.description)
        if leaf or r.status == StepStatus.failed:
            self._snap(r)
        if self.on_step is not None:
            self.on_step(self.suite.name, r, depth)
        return r

    def _snap(self, r: StepResult) -> None:
        if self._lost or self._dev is None:
            return
        try:
            obs = self._dev.controller.observe()
            r.screen = self.masker.text(obs.window or obs.app)
            if self.screenshots:
                r.screenshot = _png(obs.screenshot())
        except Exception:  # the screen at the end of a step is a nicety; a lost device is reported by the step
            pass

    # ------------------------------------------------------------ descriptions
    def _describe(self, step: Any) -> str:
        v = step_value(step)
        k = step.kind
        if k == "launch":
            app = v if isinstance(v, str) else (v.app if v is not None else None)
            return f"launch {app or self.suite.app or '(the suite app)'}" + \
                (" (stopped first)" if getattr(v, "stop_first", False) else "")
        if k == "stop":
            return f"stop {v or self.suite.app or '(the suite app)'}"
        if k in ("tap", "long_press"):
            if isinstance(v, TapSpec) and v.point is not None:
                x, y = point_of(v.point)
                what = f"point {x:.0%}, {y:.0%}"
            else:
                what = describe_selector(v)
            extra = f" x{v.count}" if isinstance(v, TapSpec) and v.count > 1 else ""
            return f"{k.replace('_', ' ')} {what}{extra}"
        if k == "type":
            if isinstance(v, str):
                return f"type {v!r}"
            text = "••••••" if v.secret is not None else repr(v.text)
            flags = "".join(f" +{f}" for f in ("clear", "submit") if getattr(v, f))
            into = f" into {describe_selector(v.into)}" if v.into is not None else ""
            return f"type {text}{into}{flags}"
        if k == "scroll":
            if isinstance(v, Direction):
                return f"scroll {v.value}"
            until = f" until {self._describe_condition(v.until)}" if v.until else ""
            on = f" on {describe_selector(v.on)}" if v.on is not None else ""
            return f"scroll {v.direction.value}{on}{until}"
        if k == "swipe":
            if isinstance(v, Direction):
                return f"swipe {v.value}"
            if v.direction is not None:
                return f"swipe {v.direction.value}" + (f" on {describe_selector(v.on)}" if v.on is not None else "")
            return f"swipe {self._describe_end(v.start)} -> {self._describe_end(v.end)}"
        if k == "key":
            return "key " + "+".join(v)
        if k in ("back", "home", "recents"):
            return k
        if k == "wait":
            return f"wait {v:g}s"
        if k == "wait_until":
            return f"wait until {self._describe_condition(v)}"
        if k == "assert":
            return f"assert {self._describe_condition(v)}"
        if k == "retry":
            return f"retry up to {v.times} time{'s' if v.times != 1 else ''} ({len(v.steps)} steps)"
        if k == "optional":
            return f"optional ({len(v)} step{'s' if len(v) != 1 else ''})"
        if k == "repeat":
            how = f"{v.times} times" if v.times is not None else f"while {self._describe_condition(v.while_)}"
            return f"repeat {how} ({len(v.steps)} step{'s' if len(v.steps) != 1 else ''})"
        if k == "goal":
            text = v if isinstance(v, str) else v.text
            return f"goal {text!r}"
        return k

    @staticmethod
    def _describe_end(end: Any) -> str:
        if isinstance(end, (str, list)):
            x, y = point_of(end)
            return f"{x:.0%}, {y:.0%}"
        return describe_selector(end)

    @staticmethod
    def _describe_condition(c: Condition) -> str:
        parts = []
        for name in c.CHECKS:
            value = getattr(c, name)
            if value is None:
                continue
            if name == "text_equals":
                parts.append(f"text of {describe_selector(value.of)} == {value.text!r}")
            elif name == "app":
                parts.append(f"app {value!r} in front")
            else:
                parts.append(f"{name.replace('_', ' ')} {describe_selector(value)}")
        return " and ".join(parts)

    # ------------------------------------------------------------ helpers
    @property
    def controller(self) -> Any:
        return self._dev.controller

    def _observe(self) -> Any:
        return self.controller.observe()

    def _expander(self, obs: Any) -> Callable[[str], str]:
        """Short ids (``wifi``) to the platform id on screen (``com.app:id/wifi``), the foreground app's first."""

        def expand(short: str) -> str:
            if ":" in short or "/" in short:
                return short
            ids = [e.attrs.get("resource-id", "") for e in obs.elements]
            if short in ids:
                return short
            full = [i for i in dict.fromkeys(ids) if i.endswith(f":id/{short}")]
            mine = [i for i in full if i.startswith(f"{obs.app}:")]
            return (mine or full or [short])[0]

        return expand

    def _timeout(self, seconds: Optional[float] = None) -> float:
        """How long a lookup may wait: nothing on the sim (it does not change by itself), else a step's share."""
        if not self._dev.polls:
            return 0.0
        limit = self.suite.timeouts.step if seconds is None else seconds
        return max(0.0, min(limit, self._deadline - time.monotonic()))

    def _screen_hint(self, obs: Any) -> str:
        labels = []
        for e in sorted(obs.elements, key=lambda e: (e.bounds.top, e.bounds.left)):
            text = (e.name or e.value or e.description).strip()
            if text and text not in labels and e.states.visible:
                labels.append(text)
        shown = ", ".join(repr(t) for t in labels[:10]) + (f" and {len(labels) - 10} more" if len(labels) > 10 else "")
        where = obs.window or obs.app or "the screen"
        return f" (on {where}: {shown})" if shown else f" (on {where}: no elements)"

    def _find(self, ref: SelRef, timeout: Optional[float] = None) -> tuple[Any, Any]:
        deadline = time.monotonic() + self._timeout(timeout)
        while True:
            obs = self._observe()
            el = find(obs, to_selector(ref, self._expander(obs)))
            if el is not None:
                return obs, el
            if time.monotonic() >= deadline:
                raise StepFailure(f"no element matches {describe_selector(ref)}{self._screen_hint(obs)}")
            time.sleep(self.poll_interval)

    def _act(self, action: Any, r: StepResult) -> Any:
        result = self.controller.execute(action)
        r.points = [(p.x, p.y) for p in result.points]
        if not result.ok:
            raise StepFailure(f"{describe(action)} was refused: {result.error}")
        self.controller.wait_for_settle(min(2.0, self.suite.timeouts.step))
        return result

    def _target(self, spec: Any, obs_el: Optional[tuple] = None) -> Any:
        if isinstance(spec, TapSpec) and spec.point is not None:
            self._observe()
            x, y = point_of(spec.point)
            return PointTarget(x=x, y=y)
        _, el = obs_el or self._find(spec)
        return ElementTarget(id=el.id)

    # ------------------------------------------------------------ conditions
    def _failures(self, c: Condition, obs: Any) -> list[str]:
        expand = self._expander(obs)
        out = []

        def one(ref: SelRef) -> Any:
            return find(obs, to_selector(ref, expand))

        if c.visible is not None and one(c.visible) is None:
            out.append(f"expected {describe_selector(c.visible)} to be visible; it is not{self._screen_hint(obs)}")
        if c.not_visible is not None:
            el = one(c.not_visible)
            if el is not None:
                out.append(f"expected no element matching {describe_selector(c.not_visible)}; found "
                           f"{el.role.value} {el.label!r}")
        for name, wanted in (("checked", True), ("unchecked", False)):
            ref = getattr(c, name)
            if ref is None:
                continue
            el = one(ref)
            if el is None:
                out.append(f"expected {describe_selector(ref)} to be {name}; no element matches it"
                           f"{self._screen_hint(obs)}")
            elif el.states.checked is None:
                out.append(f"expected {describe_selector(ref)} to be {name}; {el.role.value} {el.label!r} cannot be "
                           "checked")
            elif el.states.checked != wanted:
                out.append(f"expected {describe_selector(ref)} to be {name}; it is "
                           f"{'checked' if el.states.checked else 'unchecked'}")
        if c.text_equals is not None:
            el = one(c.text_equals.of)
            if el is None:
                out.append(f"expected the text of {describe_selector(c.text_equals.of)} to be "
                           f"{c.text_equals.text!r}; no element matches it{self._screen_hint(obs)}")
            else:
                text = (el.value or el.name).strip()
                if text != c.text_equals.text.strip():
                    out.append(f"expected the text of {describe_selector(c.text_equals.of)} to be "
                               f"{c.text_equals.text!r}; it is {text!r}")
        if c.app is not None:
            names = self._dev.foreground(obs)
            if c.app.strip().casefold() not in {n.strip().casefold() for n in names}:
                out.append(f"expected app {c.app!r} in the foreground; it is {obs.window or obs.app or 'nothing'!r}")
        return out

    def _await(self, c: Condition, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            failures = self._failures(c, self._observe())
            if not failures:
                return
            if time.monotonic() >= deadline:
                raise StepFailure("; ".join(failures))
            time.sleep(self.poll_interval)

    # ------------------------------------------------------------ step kinds
    def _app(self, name: Optional[str]) -> str:
        app = name or self.suite.app
        if not app:
            raise StepFailure("which app? give its name here or set app: in the suite's header")
        return app

    def _do_launch(self, v: Any, r: StepResult, depth: int) -> None:
        app = self._app(v if isinstance(v, str) else (v.app if v is not None else None))
        if getattr(v, "stop_first", False):
            problem = self._dev.stop(app)
            if problem:
                raise StepFailure(problem)
        self._observe()
        self._act(OpenApp(app=app), r)

    def _do_stop(self, v: Any, r: StepResult, depth: int) -> None:
        problem = self._dev.stop(self._app(v))
        if problem:
            raise StepFailure(problem)
        self.controller.wait_for_settle(min(2.0, self.suite.timeouts.step))

    def _do_tap(self, v: Any, r: StepResult, depth: int) -> None:
        count = v.count if isinstance(v, TapSpec) else 1
        self._act(Click(target=self._target(v), count=count), r)

    def _do_long_press(self, v: Any, r: StepResult, depth: int) -> None:
        duration = getattr(v, "duration", 0.8)
        self._act(LongPress(target=self._target(v), duration=duration), r)

    def _do_type(self, v: Any, r: StepResult, depth: int) -> None:
        if isinstance(v, str):
            self._observe()
            self._act(TypeText(text=v), r)
            return
        secret = v.secret is not None
        text = v.secret if secret else v.text
        if secret:
            self.masker.add(f"secret_{r.path}", text)
        target = self._target(v.into) if v.into is not None else None
        if target is None:
            self._observe()
        self._act(TypeText(text=text, target=target, clear=v.clear, submit=v.submit, secret=secret), r)

    def _do_scroll(self, v: Any, r: StepResult, depth: int) -> None:
        if isinstance(v, Direction):
            self._observe()
            self._act(Scroll(direction=v), r)
            return

        def once() -> None:
            target = self._target(v.on) if v.on is not None else None
            if target is None:
                self._observe()
            self._act(Scroll(direction=v.direction, amount=v.amount, target=target), r)

        if v.until is None:
            once()
            return
        for done in range(v.max + 1):
            failures = self._failures(v.until, self._observe())
            if not failures:
                r.note = f"after {done} scrolls"
                return
            if done == v.max:
                raise StepFailure(f"still not there after {v.max} scrolls: {'; '.join(failures)}")
            if time.monotonic() > self._deadline:
                raise StepFailure("the suite's time limit was reached while scrolling")
            once()

    def _do_swipe(self, v: Any, r: StepResult, depth: int) -> None:
        direction = v if isinstance(v, Direction) else v.direction
        duration = 0.3 if isinstance(v, Direction) else v.duration
        if direction is not None:
            on = None if isinstance(v, Direction) else v.on
            if on is not None:
                obs, el = self._find(on)
                b = el.bounds
            else:
                obs = self._observe()
                b = obs.screen.rect
            w, h = obs.screen.width, obs.screen.height
            cx, cy = (b.left + b.right) / 2, (b.top + b.bottom) / 2
            a, z = 0.8, 0.2
            if direction == Direction.left:
                p0, p1 = (b.left + a * b.width, cy), (b.left + z * b.width, cy)
            elif direction == Direction.right:
                p0, p1 = (b.left + z * b.width, cy), (b.left + a * b.width, cy)
            elif direction == Direction.up:
                p0, p1 = (cx, b.top + a * b.height), (cx, b.top + z * b.height)
            else:
                p0, p1 = (cx, b.top + z * b.height), (cx, b.top + a * b.height)

            def norm(p: tuple[float, float]) -> PointTarget:
                return PointTarget(x=min(1.0, max(0.0, p[0] / w)), y=min(1.0, max(0.0, p[1] / h)))

            self._act(Swipe(start=norm(p0), end=norm(p1), duration=duration), r)
            return
        obs = None
        ends = []
        for end in (v.start, v.end):
            if isinstance(end, (str, list)):
                x, y = point_of(end)
                ends.append(PointTarget(x=x, y=y))
                continue
            if obs is None:
                obs, el = self._find(end)
            else:
                el = find(obs, to_selector(end, self._expander(obs)))
                if el is None:
                    raise StepFailure(f"no element matches {describe_selector(end)}{self._screen_hint(obs)}")
            ends.append(ElementTarget(id=el.id))
        if obs is None:
            self._observe()
        self._act(Swipe(start=ends[0], end=ends[1], duration=duration), r)

    def _do_key(self, v: Any, r: StepResult, depth: int) -> None:
        self._observe()
        self._act(Key(keys=v), r)

    def _system(self, button: SystemButton, r: StepResult) -> None:
        self._observe()
        self._act(System(button=button), r)

    def _do_back(self, v: Any, r: StepResult, depth: int) -> None:
        self._system(SystemButton.back, r)

    def _do_home(self, v: Any, r: StepResult, depth: int) -> None:
        self._system(SystemButton.home, r)

    def _do_recents(self, v: Any, r: StepResult, depth: int) -> None:
        self._system(SystemButton.recents, r)

    def _do_wait(self, v: float, r: StepResult, depth: int) -> None:
        self._observe()
        self._act(Wait(seconds=v), r)

    def _do_wait_until(self, v: Any, r: StepResult, depth: int) -> None:
        self._await(v, self._timeout(v.timeout))

    def _do_assert(self, v: Any, r: StepResult, depth: int) -> None:
        if v.timeout is not None:
            timeout = v.timeout
        elif self.suite.timeouts.assert_ is not None:
            timeout = self.suite.timeouts.assert_
        else:
            timeout = 2.0
        self._await(v, self._timeout(timeout))

    def _rounds(self, r: StepResult, label: str, steps: list, depth: int) -> StepResult:
        n = len(r.children) + 1
        group = StepResult(path=f"{r.path}.{label}{n}", phase=r.phase, kind=label, description=f"{label} {n}",
                           started_s=time.monotonic() - self._t0)
        t0 = time.perf_counter()
        group.children, ok = self._run_list(steps, group.path, r.phase, depth + 1)
        group.status = StepStatus.passed if ok else StepStatus.failed
        group.duration_s = time.perf_counter() - t0
        failed = next((c for c in group.children if c.status == StepStatus.failed and not c.tolerated), None)
        group.error = failed.error if failed else None
        r.children.append(group)
        return group

    def _do_retry(self, v: Any, r: StepResult, depth: int) -> None:
        for attempt in range(1, v.times + 1):
            group = self._rounds(r, "attempt", v.steps, depth)
            if group.status == StepStatus.passed:
                r.note = f"passed on attempt {attempt} of {v.times}"
                return
            if self._lost or time.monotonic() > self._deadline:
                break
        n = len(r.children)
        raise StepFailure(f"failed {n} attempt{'s' if n != 1 else ''}; last: {r.children[-1].error}")

    def _do_optional(self, v: list, r: StepResult, depth: int) -> None:
        self._optional += 1
        try:
            r.children, ok = self._run_list(v, r.path, r.phase, depth + 1)
        finally:
            self._optional -= 1
        if not ok:
            failed = next(c for c in r.children if c.status == StepStatus.failed)
            for c in failed.walk():
                c.tolerated = True
            r.note = f"tolerated: {failed.description}: {failed.error}"

    def _do_repeat(self, v: Any, r: StepResult, depth: int) -> None:
        if v.times is not None:
            for _ in range(v.times):
                if self._rounds(r, "round", v.steps, depth).status == StepStatus.failed:
                    raise StepFailure(f"round {len(r.children)} failed: {r.children[-1].error}")
            return
        for _ in range(v.max):
            if self._failures(v.while_, self._observe()):
                r.note = f"{len(r.children)} rounds"
                return
            if self._rounds(r, "round", v.steps, depth).status == StepStatus.failed:
                raise StepFailure(f"round {len(r.children)} failed: {r.children[-1].error}")
        if not self._failures(v.while_, self._observe()):
            raise StepFailure(f"still {self._describe_condition(v.while_)} after {v.max} rounds")
        r.note = f"{len(r.children)} rounds"

    def _policy(self) -> Any:
        if self._policy_factory is not None:
            return self._policy_factory()
        from agent.policies import make_policy

        return make_policy(DEFAULT_POLICY)

    def _do_goal(self, v: Any, r: StepResult, depth: int) -> None:
        from agent.loop import Agent, StepEvent

        text = v if isinstance(v, str) else v.text
        max_steps = 15 if isinstance(v, str) else v.max_steps
        limit = (None if isinstance(v, str) else v.timeout) or self.suite.timeouts.goal
        judge = None
        if not isinstance(v, str) and v.judge == "task":
            instance = self._dev.instance
            if instance is None:
                raise StepFailure("judge: task needs a sim task (task: in the suite's header)")
            judge = instance.is_successful
        try:
            policy = self._policy()
        except (ValueError, OSError) as exc:
            raise StepFailure(f"cannot load the model: {exc}") from exc

        def on_event(event: StepEvent) -> None:
            child = StepResult(path=f"{r.path}.{event.index + 1}", phase=r.phase, kind="decision",
                               description=self.masker.text(event.description),
                               status=StepStatus.passed if event.ok else StepStatus.failed,
                               error=self.masker.text(event.error) if event.error else None,
                               duration_s=event.ms / 1000, started_s=time.monotonic() - self._t0)
            self._snap(child)
            r.children.append(child)
            if self.on_step is not None:
                self.on_step(self.suite.name, child, depth + 1)

        agent = Agent(self.controller, policy, None, max_steps=max_steps,
                      timeout_s=max(0.1, min(limit, self._deadline - time.monotonic())), judge=judge,
                      on_step=on_event, masker=self.masker,
                      settle_timeout_s=min(2.0, self.suite.timeouts.step))
        result = agent.run(text)
        for child in r.children:  # a decision the model itself refused is part of its work, not a failure
            if child.status == StepStatus.failed:
                child.tolerated = True
        r.note = f"{result.reason.value} after {result.steps} steps" + (f", answer {result.answer!r}"
                                                                          if result.answer else "")
        if result.reason.value == "device_error":
            self._lost = result.message
        if not result.success:
            why = f": {result.message}" if result.message else ""
            raise StepFailure(f"the agent did not reach the goal ({result.reason.value} after {result.steps} "
                              f"steps{why})")


# ---------------------------------------------------------------- many suites


def run_suites(suites: list[LoadedSuite], *, platform: Optional[str] = None, devices: Optional[list[str]] = None,
               parallel: int = 1, screenshots: bool = True,
               on_step: Optional[Callable[[str, StepResult, int], None]] = None,
               on_suite: Optional[Callable[[SuiteResult], None]] = None,
               policy_factory: Optional[Callable[[], Any]] = None) -> list[SuiteResult]:
    """Run suites, ``parallel`` at a time (threads, each suite on its own device), results in the given order.

    ``devices`` (Android serials or X displays) are handed out one per running suite; without them every suite
    gets a fresh device of its own (a sim device, a simulated phone, a virtual desktop).
    """
    free: Optional[queue.Queue] = None
    if devices:
        free = queue.Queue()
        for d in devices:
            free.put(d)
        parallel = min(parallel, len(devices))
    lock = threading.Lock()

    def one(loaded: LoadedSuite) -> SuiteResult:
        device = free.get() if free is not None else None
        try:
            runner = SuiteRunner(loaded, platform=platform, device=device, screenshots=screenshots, on_step=on_step,
                                 policy_factory=policy_factory)
            result = runner.run()
        finally:
            if free is not None:
                free.put(device)
        if on_suite is not None:
            with lock:
                on_suite(result)
        return result

    if parallel <= 1 or len(suites) <= 1:
        return [one(s) for s in suites]
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="handa-suite") as pool:
        return list(pool.map(one, suites))
