"""Suites: parsing with file:line errors, variables and secrets, the runner on the sim (and the simulated phone and a
virtual desktop), JUnit and HTML reports, tags, parallel runs, the JSON Schema and `from-recording`."""
import base64
import io
import json
import re
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from agent.suite.cli import schema_suite, suite_app
from agent.suite.model import (STEP_KINDS, SuiteError, TapSpec, load_suite, parse_suite, read_yaml, step_value,
                               suite_json_schema, to_selector)
from agent.suite.report import junit_xml
from agent.suite.runner import StepStatus, SuiteRunner, run_suites
from controllers.actions import Selector

ROOT = Path(__file__).resolve().parents[2]
SUITES = ROOT / "tasks" / "suites"
SIM_SUITES = ["settings_wifi.yaml", "contacts_add_korean.yaml", "calculator_flow_control.yaml", "login_secret.yaml"]

# the command group as the lead mounts it: `handa suite ...` and `handa schema suite`
app = typer.Typer(add_completion=False)
app.add_typer(suite_app, name="suite")
schema_app = typer.Typer(no_args_is_help=True)
schema_app.command("suite")(schema_suite)
schema_app.command("noop")(lambda: None)  # a group with one command would swallow its name
app.add_typer(schema_app, name="schema")
cli = CliRunner()


def last_json(output: str) -> dict:
    return json.loads([line for line in output.splitlines() if line.startswith("{")][-1])


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- parsing

EVERY_STEP = """\
name: every step
seed: 0
app: Settings
steps:
  - launch
  - launch: Contacts
  - launch: {app: Settings, stop_first: true}
  - stop
  - stop: Contacts
  - tap: Wi-Fi
  - tap: {id: wifi, below: {text: Network}, nth: 1}
  - tap: {point: "50%, 80%", count: 2}
  - long_press: {text_contains: photo, duration: 1.5}
  - type: hello
  - type: {text: "안녕", into: {role: text_field, child_of: {id: form}}, clear: true, submit: true}
  - scroll: down
  - scroll: {direction: up, amount: 1, on: {id: list}, until: {visible: Bluetooth}, max: 4}
  - swipe: left
  - swipe: {start: "50%, 80%", end: [0.5, 0.2], duration: 0.5}
  - swipe: {direction: right, on: {role: list}}
  - key: enter
  - key: [ctrl, a]
  - back
  - home
  - recents
  - wait: 1.5
  - wait_until: {visible: {regex: "^Wi"}, timeout: 3}
  - assert: {visible: {left_of: {role: switch}, text: Wi-Fi}, not_visible: Error, checked: {id: wifi},
             unchecked: {id: bt}, text_equals: {of: {id: name}, text: Pixel}, app: Settings, timeout: 1}
  - retry: {times: 2, steps: [back, {tap: OK}]}
  - optional: [{tap: {description: Dismiss}}]
  - repeat: {times: 2, steps: [{key: down}]}
  - repeat: {while: {visible: {above: Cancel, role: button}}, max: 3, steps: [back]}
  - goal: Turn Wi-Fi off
  - goal: {text: Turn Bluetooth on, max_steps: 5, timeout: 30}
"""


def test_every_step_kind_parses_with_its_line():
    loaded = parse_suite(EVERY_STEP, "every.yaml")
    steps = loaded.suite.steps
    assert {s.kind for s in steps} == set(STEP_KINDS)
    step_lines = [n for n, line in enumerate(EVERY_STEP.splitlines(), 1) if line.startswith("  - ")]
    assert [loaded.line_of(s) for s in steps] == step_lines
    retry = step_value(steps[24])
    assert [s.kind for s in retry.steps] == ["back", "tap"] and loaded.line_of(retry.steps[1]) == loaded.line_of(steps[24])
    repeat_while = step_value(steps[27])
    assert repeat_while.times is None and repeat_while.while_.visible.above == "Cancel" and repeat_while.max == 3
    assert step_value(steps[16]) == ["enter"] and step_value(steps[17]) == ["ctrl", "a"]
    assert step_value(steps[28]) == "Turn Wi-Fi off" and step_value(steps[29]).max_steps == 5


def test_shorthands_and_selectors_map_onto_the_contract():
    loaded = parse_suite(EVERY_STEP, "every.yaml")
    steps = loaded.suite.steps
    assert to_selector(step_value(steps[5])) == Selector(text="Wi-Fi")  # a string is text
    tap = step_value(steps[6])
    assert isinstance(tap, TapSpec)
    assert to_selector(tap) == Selector(id="wifi", below=Selector(text="Network"), index=1)
    assert to_selector(step_value(steps[22]).visible) == Selector(text_regex="^Wi")  # regex -> text_regex
    assert to_selector(step_value(steps[23]).visible) == Selector(text="Wi-Fi", left_of=Selector(role="switch"))
    typed = step_value(steps[10])
    assert to_selector(typed.into) == Selector(role="text_field", child_of=Selector(id="form"))
    assert step_value(steps[11]).value == "down" and step_value(steps[13]).value == "left"
    # short ids are expanded against the screen, foreground app first
    assert to_selector(tap, lambda short: f"com.app:id/{short}").id == "com.app:id/wifi"


def test_yaml_words_stay_text_and_numbers_become_strings_where_text_is_expected():
    loaded = parse_suite("name: x\nsteps:\n  - assert: {text_equals: {of: {id: 7}, text: Off}}\n  - tap: yes\n", "x.yaml")
    check = step_value(loaded.suite.steps[0]).text_equals
    assert check.text == "Off" and check.of.id == "7"
    assert step_value(loaded.suite.steps[1]) == "yes"


def test_variables_come_from_overrides_env_block_task_and_environment():
    text = """\
name: ${SUITE_NAME:-vars}
task: login.sign_in
seed: ${SEED:-1}
env:
  GREETING: hello ${WHO:-world}
  USER: ${task.user}
  PATH_LIKE: ${FROM_OS}
steps:
  - type: "${GREETING}, ${USER}"
  - type: "$${LITERAL} ${MISSING:-${GREETING}}"
  - tap: ${OVERRIDDEN}
"""
    loaded = parse_suite(text, "v.yaml", environ={"FROM_OS": "os-value", "WHO": "Mina", "OVERRIDDEN": "no"},
                         overrides={"OVERRIDDEN": "yes"})
    steps = loaded.suite.steps
    assert loaded.suite.name == "vars" and loaded.suite.seed == 1
    assert loaded.variables["PATH_LIKE"] == "os-value"
    assert step_value(steps[0]) == f"hello Mina, {loaded.task_params['user']}"
    assert step_value(steps[1]) == "${LITERAL} hello Mina"
    assert step_value(steps[2]) == "yes"
    # the task's password is a secret without being declared
    assert loaded.secrets["task.pw"] == loaded.task_params["pw"]


@pytest.mark.parametrize("text, line, expected", [
    ("name: x\nsteps:\n  - launch: S\n  - tapp: {text: a}\n", 4,
     "steps[1]: unknown step 'tapp'; did you mean 'tap'? expected one of launch, stop, tap, long_press"),
    ("name: x\nsteps:\n  - bakc\n", 3, "unknown step 'bakc'"),
    ("name: x\nsteps:\n  - tap: a\n    timeout: 3\n", 3, "exactly one key"),
    ("name: x\nsteps:\n  - back\n  - tap:\n      txt: a\n", 5, "steps[1].tap.txt: unknown key 'txt'; did you mean 'text'?"),
    ("name: x\nsteps:\n  - tap: [a, b]\n", 3, "steps[0].tap: expected a string or a mapping"),
    ("steps:\n  - back\n", 1, "missing 'name'"),
    ("name: x\nplatform: ios\nsteps: [back]\n", 2, "platform: expected one of 'sim', 'desktop' or 'android'"),
    ("name: x\nsteps:\n  - tap: {nth: 2}\n", 3, "give a point or a selector"),
    ("name: x\nsteps:\n\n  - tap: ${NOT_SET_ANYWHERE}\n", 4, "variable NOT_SET_ANYWHERE is not set"),
    ("name: x\nsecrets: [NOT_SET_PW]\nsteps: [back]\n", 2, "secret NOT_SET_PW has no value"),
    ("name: x\nsteps:\n  - tap: {a\n", 4, "not valid YAML"),
    ("name: x\nname: y\nsteps: [back]\n", 2, "duplicate key 'name'"),
    ("name: x\ntask: no.such\nsteps: [back]\n", 2, "unknown task 'no.such'"),
    ("name: x\nsteps:\n  - retry:\n      steps:\n        - tap: a\n        - clik: b\n", 6,
     "steps[0].retry.steps[1]: unknown step 'clik'"),
    ("name: x\nsteps:\n  - assert: {timeout: 2}\n", 3, "give at least one of visible, not_visible"),
    ("name: x\nsteps:\n  - key: hyper\n", 3, "unknown key 'hyper'"),
    ("name: x\nsteps:\n  - repeat: {steps: [back]}\n", 3, "give times or while"),
    ("name: x\nsteps: []\n", 2, "steps"),
])
def test_invalid_suites_say_file_line_and_what_was_expected(text, line, expected):
    with pytest.raises(SuiteError) as info:
        parse_suite(text, "bad.yaml", environ={})
    message = str(info.value)
    assert f"bad.yaml:{line}: " in message, message
    assert expected in message, message


def test_an_invalid_suite_exits_two_and_runs_nothing(tmp_path):
    bad = write(tmp_path, "bad.yaml", "name: bad\nsteps:\n  - launch: Settings\n  - tapp: Wi-Fi\n")
    good = SUITES / "settings_wifi.yaml"
    r = cli.invoke(app, ["suite", "run", str(good), str(bad), "--json"])
    assert r.exit_code == 2, r.output
    assert f"{bad}:4: steps[1]: unknown step 'tapp'" in r.output
    assert "nothing was run" in r.output and "✓" not in r.output
    assert cli.invoke(app, ["suite", "check", str(good)]).exit_code == 0
    assert cli.invoke(app, ["suite", "check", str(bad)]).exit_code == 2


# ---------------------------------------------------------------- running

def test_the_example_sim_suites_run_green(tmp_path):
    paths = [str(SUITES / name) for name in SIM_SUITES]
    r = cli.invoke(app, ["suite", "run", *paths, "--json", "--junit", str(tmp_path / "j.xml"),
                         "--html", str(tmp_path / "r.html")])
    assert r.exit_code == 0, r.output
    data = last_json(r.stdout)
    assert data["passed"] is True and len(data["suites"]) == len(SIM_SUITES)
    assert all(s["status"] == "passed" and s["failed_steps"] == 0 for s in data["suites"])
    by_name = {Path(s["file"]).name: s for s in data["suites"]}
    assert by_name["calculator_flow_control.yaml"]["actions"] > 15  # rounds and attempts ran
    root = ET.parse(tmp_path / "j.xml").getroot()
    assert root.get("failures") == "0" and int(root.get("tests")) == sum(s["steps"] for s in data["suites"])


def test_flow_control_results_show_rounds_attempts_and_tolerated_failures():
    result = SuiteRunner(load_suite(SUITES / "calculator_flow_control.yaml")).run()
    assert result.passed, result.error
    steps = {r.path: r for r in result.steps}
    assert [c.kind for c in steps["steps.1"].children] == ["round"] * 3
    assert steps["steps.3"].note == "3 rounds"  # 777 -> 77 -> 7 -> 0
    optional = steps["steps.4"]
    assert optional.status == StepStatus.passed and optional.children[0].status == StepStatus.failed
    assert optional.children[0].tolerated and "no element matches text='Rate us'" in optional.children[0].error
    retry = steps["steps.10"]
    assert len(retry.children) == 2 and retry.children[0].status == StepStatus.failed
    assert retry.note == "passed on attempt 2 of 3"


def test_the_goal_step_runs_the_inhouse_model_on_the_same_device():
    result = SuiteRunner(load_suite(SUITES / "goal_wifi.yaml")).run()
    assert result.passed, result.error
    goal = result.steps[0]
    assert goal.kind == "goal" and goal.children and goal.children[-1].description.startswith("done")
    assert goal.note.startswith("done after")


def test_the_desktop_example_suite_runs_green_on_a_virtual_desktop():
    result = SuiteRunner(load_suite(SUITES / "desktop_widget_factory.yaml")).run()
    assert result.passed, result.error
    assert result.device.startswith("x11:") and result.steps[-1].status == StepStatus.passed


def test_sim_suites_run_unchanged_on_the_simulated_android_phone():
    results = run_suites([load_suite(SUITES / "settings_wifi.yaml"), load_suite(SUITES / "login_secret.yaml")],
                         platform="android", parallel=2, screenshots=False)
    assert [r.status for r in results] == [StepStatus.passed, StepStatus.passed], [r.error for r in results]
    assert all(r.device == "android:emulator-5554" and r.platform == "android" for r in results)


FAILING = """\
name: A failing assert
seed: 0
app: Settings
tags: [broken]
steps:
  - launch
  - tap: {id: wifi}
  - assert:
      unchecked: {id: wifi}
  - tap: {id: bluetooth}
teardown:
  - home
"""


def test_a_failing_assert_fails_with_the_reason_and_the_screen_in_html_and_junit(tmp_path):
    path = write(tmp_path, "failing.yaml", FAILING)
    r = cli.invoke(app, ["suite", "run", str(path), "--junit", str(tmp_path / "j.xml"), "--html",
                         str(tmp_path / "r.html"), "--json"])
    assert r.exit_code == 1, r.output
    summary = last_json(r.stdout)["suites"][0]
    reason = "expected id='wifi' to be unchecked; it is checked"
    assert summary["status"] == "failed" and summary["failed_step"] == "steps.3"
    assert summary["error"] == f"{path}:8: assert unchecked id='wifi': {reason}"
    assert summary["skipped_steps"] == 1 and summary["passed_steps"] == 3  # launch, tap, teardown home

    suite = ET.parse(tmp_path / "j.xml").getroot().find("testsuite")
    cases = suite.findall("testcase")
    assert [c.find("failure") is not None for c in cases] == [False, False, True, False, False]
    failure = cases[2].find("failure")
    assert failure.get("message") == reason and f"{path}:8" in failure.text and cases[2].get("line") == "8"
    assert cases[3].find("skipped") is not None and cases[4].get("name").startswith("teardown.1 home")

    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    box = page[page.index('<div class="failure">'):]
    box = box[:box.index('<div class="step"')]
    assert "to be unchecked; it is checked" in box
    png = base64.b64decode(re.search(r'src="data:image/png;base64,([^"]+)"', box).group(1))
    shot = Image.open(io.BytesIO(png))
    from controllers.sim.device import SimDevice

    assert shot.size == (SimDevice(seed=0).frame().width, SimDevice(seed=0).frame().height)
    # the screen at that moment: Settings with Wi-Fi switched on, as the controller renders it
    runner = SuiteRunner(load_suite(path))
    result = runner.run()
    failed = result.steps[2]
    assert failed.screen == "Settings" and failed.screenshot == png
    assert "http://" not in page.replace("http://www.w3.org", "") and "<script" not in page  # self-contained


def test_junit_has_the_standard_structure(tmp_path):
    results = [SuiteRunner(load_suite(SUITES / "settings_wifi.yaml"), screenshots=False).run(),
               SuiteRunner(load_suite(write(tmp_path, "f.yaml", FAILING)), screenshots=False).run()]
    root = ET.fromstring(junit_xml(results).encode("utf-8"))
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 2
    total = {"tests": 0, "failures": 0, "skipped": 0}
    for ts, result in zip(suites, results):
        cases = ts.findall("testcase")
        assert ts.get("name") == result.name and int(ts.get("tests")) == len(cases) == len(result.steps)
        assert int(ts.get("failures")) == sum(c.find("failure") is not None for c in cases)
        assert int(ts.get("skipped")) == sum(c.find("skipped") is not None for c in cases)
        assert ts.get("errors") == "0" and float(ts.get("time")) >= 0
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", ts.get("timestamp"))
        assert {p.get("name") for p in ts.find("properties")} == {"file", "platform", "device", "tags"}
        for c in cases:
            assert c.get("classname") == result.name and float(c.get("time")) >= 0 and c.find("system-out") is not None
        for key in total:
            total[key] += int(ts.get(key))
    assert {k: int(root.get(k)) for k in total} == total and total["failures"] == 1
    assert suites[0].get("failures") == "0" and suites[1].get("failures") == "1"


def test_a_suite_whose_device_cannot_start_is_an_error_testcase(tmp_path):
    loaded = load_suite(SUITES / "settings_wifi.yaml")
    result = SuiteRunner(loaded, platform="android", device="no-such-serial").run()
    assert not result.passed and "could not open the android device" in result.error
    assert all(s.status == StepStatus.skipped for s in result.steps)
    case = ET.fromstring(junit_xml([result])).find("testsuite/testcase[@name='suite']")
    assert case is not None and "could not open" in case.find("error").get("message")


def test_secrets_are_masked_in_logs_json_junit_and_html(tmp_path):
    env_secret = "Swordfish#2024-xyz"
    text = """\
name: masked
seed: 0
app: Contacts
secrets: [API_TOKEN]
steps:
  - launch
  - tap: {description: New}
  - type: {text: "token ${API_TOKEN}", into: {id: name}}
  - type: {secret: "inline-secret-42", into: {id: email}}
  - assert: {visible: {text: "token ${API_TOKEN}"}}
  - assert: {visible: "never there ${API_TOKEN}"}
  - type: "skipped ${API_TOKEN}"
"""
    path = write(tmp_path, "masked.yaml", text)
    login = SUITES / "login_secret.yaml"
    password = load_suite(login).task_params["pw"]
    r = cli.invoke(app, ["suite", "run", str(login), str(path), "--env", f"API_TOKEN={env_secret}", "--json",
                         "--junit", str(tmp_path / "j.xml"), "--html", str(tmp_path / "r.html")])
    assert r.exit_code == 1, r.output  # the second suite fails on purpose: its error message holds the secret
    outputs = {"cli": r.output, "junit": (tmp_path / "j.xml").read_text(encoding="utf-8"),
               "html": (tmp_path / "r.html").read_text(encoding="utf-8")}
    for where, out in outputs.items():
        for secret in (password, env_secret, "inline-secret-42"):
            assert secret not in out, f"{secret!r} leaked into {where}"
        assert "••••••" in out, where
    assert "never there ••••••" in outputs["junit"] and "skipped ••••••" in outputs["junit"]
    summary = last_json(r.stdout)["suites"]
    assert summary[0]["status"] == "passed" and summary[1]["failed_step"] == "steps.6"


# ---------------------------------------------------------------- selection and parallel runs

def test_tags_select_suites(tmp_path):
    r = cli.invoke(app, ["suite", "run", str(SUITES), "--tags", "smoke", "--json", "--no-screenshots"])
    assert r.exit_code == 0, r.output
    names = sorted(Path(s["file"]).name for s in last_json(r.stdout)["suites"])
    assert names == ["contacts_add_korean.yaml", "settings_wifi.yaml"]
    r = cli.invoke(app, ["suite", "run", str(SUITES / "settings_wifi.yaml"), str(SUITES / "calculator_flow_control.yaml"),
                         "--tags", "!smoke", "--json"])
    assert [Path(s["file"]).name for s in last_json(r.stdout)["suites"]] == ["calculator_flow_control.yaml"]
    r = cli.invoke(app, ["suite", "run", str(SUITES), "--tags", "no-such-tag"])
    assert r.exit_code == 2 and "no suite matches" in r.output


def test_parallel_two_runs_suites_at_once_each_on_its_own_device():
    # both suites toggle Wi-Fi on the same seed: on a shared device one of them would find it already on
    suites = [load_suite(SUITES / "settings_wifi.yaml"), load_suite(SUITES / "settings_wifi.yaml"),
              load_suite(SUITES / "contacts_add_korean.yaml")]
    spans: dict[str, list[float]] = {}
    threads: set[str] = set()
    lock = threading.Lock()

    def on_step(name, result, depth):
        with lock:
            threads.add(threading.current_thread().name)
            spans.setdefault(threading.current_thread().name, []).append(time.monotonic())
        time.sleep(0.05)

    results = run_suites(suites, parallel=2, screenshots=False, on_step=on_step)
    assert [r.status for r in results] == [StepStatus.passed] * 3, [r.error for r in results]
    assert [r.name for r in results] == [s.name for s in suites]  # results in the given order
    assert len(threads) == 2 and all(t.startswith("handa-suite") for t in threads)
    (a0, a1), (b0, b1) = [(min(v), max(v)) for v in spans.values()]
    assert a0 < b1 and b0 < a1  # the two workers were busy at the same time


def test_cli_parallel_option(tmp_path):
    paths = [str(SUITES / n) for n in ("settings_wifi.yaml", "calculator_flow_control.yaml")]
    r = cli.invoke(app, ["suite", "run", *paths, "--parallel", "2", "--json", "--no-screenshots"])
    assert r.exit_code == 0, r.output
    assert [Path(s["file"]).name for s in last_json(r.stdout)["suites"]] == [Path(p).name for p in paths]


# ---------------------------------------------------------------- schema and conversion

def test_schema_is_valid_json_schema_and_accepts_the_examples():
    r = cli.invoke(app, ["schema", "suite"])
    assert r.exit_code == 0, r.output
    schema = json.loads(r.stdout)
    assert schema == suite_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    examples = sorted(SUITES.glob("*.yaml"))
    assert len(examples) >= 5
    for path in examples:
        errors = [e.message for e in validator.iter_errors(read_yaml(path.read_text(encoding="utf-8")))]
        assert not errors, f"{path.name}: {errors}"
    assert not list(validator.iter_errors(read_yaml(EVERY_STEP)))
    for bad in ("name: x\nsteps:\n  - tapp: a\n", "name: x\nsteps: [{tap: {nth: 1}}]\n", "steps: [back]\n",
                "name: x\nsteps: [{tap: a, back: null}]\n", "name: x\nsteps: [{assert: {timeout: 1}}]\n",
                "name: x\nplatform: ios\nsteps: [back]\n", "name: x\nsteps: [{type: {text: a, secret: b}}]\n"):
        assert list(validator.iter_errors(read_yaml(bad))), bad


def test_from_recording_makes_a_suite_that_replays_green(tmp_path):
    from agent.cli import app as handa

    r = CliRunner().invoke(handa, ["run", "--task", "login.sign_in", "--seed", "1", "--policy", "expert",
                                   "--record-dir", str(tmp_path / "rec"), "--json"])
    assert r.exit_code == 0, r.output
    recording = last_json(r.stdout)["recording"]
    out = tmp_path / "recorded.yaml"
    r = cli.invoke(app, ["suite", "from-recording", recording, "-o", str(out)])
    assert r.exit_code == 0, r.output
    text = out.read_text(encoding="utf-8")
    assert "secret: ${task.pw}" in text and load_suite(SUITES / "login_secret.yaml").task_params["pw"] not in text
    assert "text_equals" in text and "text: emma48" in text  # the typed user name, asserted as the field's text
    assert "assert: {app: com.handa.login}" in text  # asserts come from what the recording showed
    loaded = load_suite(out)
    assert loaded.suite.task == "login.sign_in" and [s.kind for s in loaded.suite.steps][0] == "launch"
    assert [s.kind for s in loaded.suite.steps].count("assert") >= 2
    result = SuiteRunner(loaded, screenshots=False).run()
    assert result.passed, result.error
    runner = SuiteRunner(loaded, screenshots=False)
    runner.run()
    assert runner._dev.instance.is_successful()  # the replayed suite really signed in
