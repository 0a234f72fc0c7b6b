"""Reports of suite runs: JUnit XML for CI, and one self-contained HTML page for people.

JUnit: ``<testsuites>`` holds one ``<testsuite>`` per suite file; each top-level step (setup, steps, teardown)
is a ``<testcase>`` with its time, a ``<failure>`` (the reason, where it happened and the nested step that
failed), ``<skipped>`` after a failure, and ``<system-out>`` with the log of nested steps. A suite that could
not start (no device) has one ``<testcase name="suite">`` with an ``<error>``.

HTML: a summary table, then every suite with its steps: status, action, timing, the screen after each step
(inlined PNG) and, for a failure, the reason and the screen at that moment. Every string is escaped.
"""
from __future__ import annotations

import base64
import html
import re
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Iterable, Optional

from agent.suite.runner import StepResult, StepStatus, SuiteResult

_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _x(text: Optional[str]) -> str:
    """Text XML 1.0 can hold (control characters and lone surrogates dropped)."""
    return _XML_BAD.sub("", text or "")


def _secs(value: float) -> str:
    return f"{max(0.0, value):.3f}"


def _log(results: Iterable[StepResult], depth: int = 0) -> list[str]:
    lines = []
    for r in results:
        mark = {"passed": "ok", "failed": "FAILED", "skipped": "skipped"}[r.status.value]
        if r.tolerated and r.status == StepStatus.failed:
            mark = "failed (tolerated)"
        extra = f" -- {r.error}" if r.error else (f" -- {r.note}" if r.note else "")
        where = f" (line {r.line})" if r.line else ""
        lines.append(f"{'  ' * depth}[{mark}] {r.path} {r.description}{where} {r.duration_s * 1000:.0f} ms{extra}")
        lines.extend(_log(r.children, depth + 1))
    return lines


def _deepest_failure(r: StepResult) -> StepResult:
    for c in r.children:
        if c.status == StepStatus.failed and not c.tolerated:
            return _deepest_failure(c)
    return r


def junit_xml(results: list[SuiteResult], *, name: str = "handa suites") -> str:
    """The JUnit XML document (UTF-8 text with its declaration)."""
    root = ET.Element("testsuites", name=name)
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0, "time": 0.0}
    for s in results:
        ts = ET.SubElement(root, "testsuite", name=_x(s.name))
        props = ET.SubElement(ts, "properties")
        for key, value in (("file", s.file), ("platform", s.platform), ("device", s.device),
                           ("tags", ",".join(s.tags))):
            ET.SubElement(props, "property", name=key, value=_x(value))
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for r in s.steps:
            counts["tests"] += 1
            case = ET.SubElement(ts, "testcase", classname=_x(s.name), name=_x(f"{r.path} {r.description}"),
                                 time=_secs(r.duration_s), file=_x(s.file))
            if r.line:
                case.set("line", str(r.line))
            if r.status == StepStatus.failed and not r.tolerated:
                counts["failures"] += 1
                leaf = _deepest_failure(r)
                where = f"{s.file}:{leaf.line or r.line}" if (leaf.line or r.line) else s.file
                failure = ET.SubElement(case, "failure", message=_x(leaf.error or r.error or "failed"),
                                        type="StepFailure")
                detail = [f"{where}: {leaf.path} {leaf.description}", f"reason: {leaf.error or r.error}"]
                if leaf.screen:
                    detail.append(f"screen: {leaf.screen}")
                failure.text = _x("\n".join(detail))
            elif r.status == StepStatus.skipped:
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message=_x(r.note or "not run"))
            log = _log([r])
            ET.SubElement(case, "system-out").text = _x("\n".join(log))
        if s.status == StepStatus.failed and not any(r.status == StepStatus.failed for r in s.steps):
            counts["tests"] += 1
            counts["errors"] += 1
            case = ET.SubElement(ts, "testcase", classname=_x(s.name), name="suite", time=_secs(s.duration_s),
                                 file=_x(s.file))
            ET.SubElement(case, "error", message=_x(s.error or "the suite failed"), type="SuiteError").text = \
                _x(s.error or "")
        for key, value in counts.items():
            ts.set(key, str(value))
            totals[key] += value
        ts.set("time", _secs(s.duration_s))
        ts.set("timestamp", time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(s.started or time.time())))
        ts.set("file", _x(s.file))
        ET.SubElement(ts, "system-out").text = _x("\n".join(_log(s.steps)))
        totals["time"] += s.duration_s
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(totals[key]))
    root.set("time", _secs(totals["time"]))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(results: list[SuiteResult], path: Path | str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(junit_xml(results), encoding="utf-8")
    return path


# ---------------------------------------------------------------- HTML

_CSS = """
body{font-family:system-ui,'Noto Sans KR','NanumGothic',sans-serif;margin:0;background:#f4f5f7;color:#1d1d1f}
header{background:#1f2937;color:#fff;padding:16px 24px} header h1{margin:0 0 4px;font-size:20px}
header .meta{opacity:.85;font-size:13px}
main{padding:16px 24px;display:flex;flex-direction:column;gap:20px}
table.summary{border-collapse:collapse;background:#fff;border-radius:8px;box-shadow:0 1px 3px #0002;font-size:14px}
table.summary td,table.summary th{padding:6px 12px;text-align:left;border-bottom:1px solid #eee}
section.suite{background:#fff;border-radius:10px;box-shadow:0 1px 3px #0002;padding:12px 16px}
section.suite h2{margin:0 0 6px;font-size:18px} .meta2{color:#555;font-size:13px;margin-bottom:8px}
.badge{display:inline-block;border-radius:4px;padding:1px 7px;font-size:12px;font-weight:600;color:#fff}
.passed{background:#15803d} .failed{background:#b91c1c} .skipped{background:#6b7280} .tolerated{background:#b45309}
.failure{border:2px solid #b91c1c;border-radius:8px;padding:10px;margin:8px 0;background:#fef2f2;display:flex;gap:16px}
.failure img{max-height:560px;border:1px solid #ddd} .failure .why{font-weight:600;color:#991b1b;white-space:pre-wrap}
.step{display:flex;gap:12px;padding:8px 0;border-top:1px solid #eee;align-items:flex-start}
.step .shot img{max-height:200px;border:1px solid #ddd;display:block} .step.child .shot img{max-height:140px}
.step .info{flex:1;min-width:0;font-size:14px} .step .desc{font-family:ui-monospace,monospace;font-size:13px}
.err{color:#b91c1c;white-space:pre-wrap} .note{color:#555} .time{color:#555;font-size:12px}
.children{margin-left:28px}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _img(png: Optional[bytes], alt: str) -> str:
    if not png:
        return ""
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def _badge(r: StepResult) -> str:
    if r.status == StepStatus.failed and r.tolerated:
        return '<span class="badge tolerated">failed, tolerated</span>'
    return f'<span class="badge {r.status.value}">{r.status.value}</span>'


def _step_html(r: StepResult, child: bool = False) -> str:
    where = f" · line {r.line}" if r.line else ""
    parts = [f'<div class="step{" child" if child else ""}" id="{_e(r.path)}">',
             f'<div class="shot">{_img(r.screenshot, f"screen after {r.path}")}</div><div class="info">',
             f'{_badge(r)} <span class="desc">{_e(r.path)} · {_e(r.description)}</span>',
             f'<div class="time">{r.duration_s * 1000:.0f} ms, at {r.started_s:.2f} s{_e(where)}'
             f'{" · screen: " + _e(r.screen) if r.screen else ""}</div>']
    if r.error:
        parts.append(f'<div class="err">{_e(r.error)}</div>')
    if r.note:
        parts.append(f'<div class="note">{_e(r.note)}</div>')
    if r.children:
        parts.append('<div class="children">' + "".join(_step_html(c, True) for c in r.children) + "</div>")
    parts.append("</div></div>")
    return "".join(parts)


def _suite_html(i: int, s: SuiteResult) -> str:
    parts = [f'<section class="suite" id="suite-{i}">',
             f'<h2><span class="badge {s.status.value}">{s.status.value}</span> {_e(s.name)}</h2>',
             f'<div class="meta2">{_e(s.file)} · {_e(s.platform)} {_e(s.device)} · {s.duration_s:.2f} s'
             f'{" · tags " + _e(", ".join(s.tags)) if s.tags else ""}</div>']
    if s.status == StepStatus.failed:
        failed = next((r for r in s.steps if r.status == StepStatus.failed and not r.tolerated), None)
        leaf = _deepest_failure(failed) if failed else None
        shot = leaf.screenshot if leaf and leaf.screenshot else (failed.screenshot if failed else None)
        parts.append('<div class="failure"><div>' + _img(shot, "the screen when the step failed") + "</div><div>"
                     f'<div class="why">{_e(s.error or "failed")}</div>'
                     + (f'<p>failed step: <a href="#{_e(leaf.path)}">{_e(leaf.path)}</a> {_e(leaf.description)}'
                        f'{" (line " + str(leaf.line) + ")" if leaf.line else ""}</p>' if leaf else "")
                     + (f"<p>screen: {_e(leaf.screen)}</p>" if leaf and leaf.screen else "")
                     + "</div></div>")
    parts.extend(_step_html(r) for r in s.steps)
    parts.append("</section>")
    return "".join(parts)


def html_report(results: list[SuiteResult], *, title: str = "Handa suites") -> str:
    passed = sum(s.passed for s in results)
    total = sum(s.duration_s for s in results)
    rows = "".join(
        f'<tr><td><span class="badge {s.status.value}">{s.status.value}</span></td>'
        f'<td><a href="#suite-{i}">{_e(s.name)}</a></td><td>{_e(s.file)}</td><td>{_e(s.platform)} {_e(s.device)}</td>'
        f'<td>{s.duration_s:.2f} s</td><td>{_e(", ".join(s.tags))}</td><td>{_e(s.error or "")}</td></tr>'
        for i, s in enumerate(results))
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f'<header><h1>{_e(title)}</h1><div class="meta">{passed} of {len(results)} suites passed · '
        f'{total:.2f} s · {_e(time.strftime("%Y-%m-%d %H:%M:%S"))}</div></header><main>'
        '<table class="summary"><tr><th>status</th><th>suite</th><th>file</th><th>device</th><th>time</th>'
        f"<th>tags</th><th>failure</th></tr>{rows}</table>"
        + "".join(_suite_html(i, s) for i, s in enumerate(results))
        + "</main></body></html>\n")


def write_html(results: list[SuiteResult], path: Path | str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html_report(results), encoding="utf-8")
    return path
