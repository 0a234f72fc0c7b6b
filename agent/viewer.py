"""``handa view``: one self-contained HTML page for a recording.

Everything is inlined (screenshots as data URIs, no external assets) and every
recorded string is escaped, so a hostile recording cannot inject markup.
"""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any, Optional

from agent.recording import Recording, RecordingError, StepRecord

_CSS = """
body{font-family:system-ui,'Noto Sans KR','NanumGothic',sans-serif;margin:0;background:#f4f5f7;color:#1d1d1f}
header{background:#1f2937;color:#fff;padding:16px 24px} header h1{margin:0 0 4px;font-size:20px}
header .meta{opacity:.85;font-size:13px} .ok{color:#15803d} .bad{color:#b91c1c}
main{padding:16px 24px;display:flex;flex-direction:column;gap:16px}
.step{background:#fff;border-radius:10px;box-shadow:0 1px 3px #0002;display:flex;gap:16px;padding:12px}
.shot{position:relative;flex:none} .shot img{display:block;max-height:520px;border:1px solid #ddd}
.shot svg{position:absolute;left:0;top:0;width:100%;height:100%}
.info{flex:1;min-width:0;font-size:14px} .info h2{font-size:16px;margin:0 0 8px}
code,pre{font-family:ui-monospace,monospace;font-size:12px} pre{white-space:pre-wrap;word-break:break-word;
background:#f6f8fa;padding:8px;border-radius:6px;max-height:420px;overflow:auto}
table{border-collapse:collapse;font-size:13px} td{padding:2px 10px 2px 0}
.err{color:#b91c1c;font-weight:600}
"""

_JS = """
document.querySelectorAll('details.tree').forEach(function(d){
  d.addEventListener('toggle', function(){
    var pre = d.querySelector('pre');
    if (!d.open || pre.dataset.done) return;
    var data = JSON.parse(document.getElementById(d.dataset.src).textContent);
    var byId = {}; data.forEach(function(e){ byId[e.id] = e; });
    var lines = [];
    function walk(e, depth){
      var s = e.states || {};
      var flags = ['checked','selected','focused','editable','scrollable'].filter(function(k){return s[k];});
      var b = e.bounds;
      lines.push('  '.repeat(depth) + '#' + e.id + ' ' + (e.role||'unknown') + ' ' + JSON.stringify(e.name||'') +
        (e.value ? ' = ' + JSON.stringify(e.value) : '') + (e.description ? ' (' + e.description + ')' : '') +
        ' [' + b.left + ',' + b.top + ',' + b.right + ',' + b.bottom + ']' + (flags.length ? ' {' + flags.join(',') + '}' : ''));
      (e.children||[]).forEach(function(c){ if (byId[c]) walk(byId[c], depth+1); });
    }
    data.filter(function(e){ return e.parent === undefined || e.parent === null; }).forEach(function(r){ walk(r,0); });
    pre.textContent = lines.join('\\n');
    pre.dataset.done = '1';
  });
});
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _overlay(step: StepRecord) -> str:
    """SVG marks for the resolved pixels: a ring for a tap, an arrow for a drag."""
    if step.result is None or not step.result.points:
        return ""
    w, h = step.observation.width or 1, step.observation.height or 1
    pts = step.result.points
    parts = [f'<svg viewBox="0 0 {w} {h}" preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg">',
             '<defs><marker id="ah" markerWidth="8" markerHeight="8" refX="4" refY="4" orient="auto">'
             '<path d="M0,0 L8,4 L0,8 z" fill="#ef4444"/></marker></defs>']
    r = max(8, w // 40)
    if len(pts) >= 2:
        parts.append(f'<line x1="{pts[0].x}" y1="{pts[0].y}" x2="{pts[1].x}" y2="{pts[1].y}" stroke="#ef4444" '
                     f'stroke-width="{max(2, r // 3)}" marker-end="url(#ah)"/>')
    parts.append(f'<circle cx="{pts[0].x}" cy="{pts[0].y}" r="{r}" fill="#ef444455" stroke="#ef4444" '
                 f'stroke-width="{max(2, r // 4)}"/>')
    parts.append("</svg>")
    return "".join(parts)


def _image(rec: Recording, step: StepRecord) -> str:
    name = step.observation.screenshot
    if not name:
        return '<div class="shot"><em>no screenshot</em></div>'
    path = rec.file(name)
    if path is None or not path.is_file():
        return f'<div class="shot"><em>missing screenshot {_e(name)}</em></div>'
    mime = "image/webp" if name.endswith(".webp") else "image/png"
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<div class="shot"><img alt="step {step.index}" src="data:{mime};base64,{data}">{_overlay(step)}</div>'


def _tree_script(rec: Recording, step: StepRecord) -> tuple[str, str]:
    if not step.observation.tree:
        return "", ""
    try:
        elements = [e.model_dump(mode="json", exclude_defaults=True) for e in rec.tree(step)]
    except RecordingError as exc:
        return "", f'<p class="err">{_e(exc)}</p>'
    # no "<" at all inside the script element: "</script>" and "<!--" cannot change how HTML parses it
    text = json.dumps(elements, ensure_ascii=False).replace("<", "\\u003c")
    sid = f"tree-{step.index}"
    script = f'<script type="application/json" id="{sid}">{text}</script>'
    details = (f'<details class="tree" data-src="{sid}"><summary>element tree ({len(elements)} elements)</summary>'
               f"<pre></pre></details>")
    return script, details


def _describe(step: StepRecord) -> str:
    a = step.action
    if not a:
        return "(no action)"
    return json.dumps(a, ensure_ascii=False)


def render_html(rec: Recording) -> str:
    m = rec.manifest
    outcome = m.outcome
    verdict = "running / cut off"
    cls = "bad"
    if outcome is not None:
        verdict = f"{'success' if outcome.success else 'failure'} — {outcome.reason}"
        cls = "ok" if outcome.success else "bad"
    head = (f"<header><h1>{_e(m.goal)}</h1><div class='meta'>{_e(m.platform)} · {_e(m.device)} · policy "
            f"{_e(m.policy)}{' · model ' + _e(m.model) if m.model else ''}{' · task ' + _e(m.task.id) if m.task else ''}"
            f" · {len(rec.steps)} steps · <span class='{cls}'>{_e(verdict)}</span>"
            f"{' · ' + _e(outcome.message) if outcome and outcome.message else ''}"
            f"{' · answer: ' + _e(outcome.answer) if outcome and outcome.answer else ''}</div></header>")
    body = []
    scripts = []
    for step in rec.steps:
        script, details = _tree_script(rec, step)
        scripts.append(script)
        timing = "".join(f"<tr><td>{_e(k)}</td><td>{v:.2f} ms</td></tr>" for k, v in step.timings_ms.items())
        result = ""
        if step.validation_error:
            result = f'<p class="err">refused: {_e(step.validation_error)}</p>'
        elif step.result is not None:
            pts = ", ".join(f"({p.x}, {p.y})" for p in step.result.points)
            status = "ok" if step.result.ok else f"error: {step.result.error}"
            result = (f"<p class='{'ok' if step.result.ok else 'err'}'>{_e(status)}"
                      f"{' · pixels ' + _e(pts) if pts else ''}"
                      f"{' · ' + _e(step.result.info.get('effect')) if step.result.info.get('effect') else ''}</p>")
        conf = step.decision.get("confidence")
        body.append(
            f"<section class='step' id='step-{step.index}'>{_image(rec, step)}<div class='info'>"
            f"<h2>Step {step.index + 1} · {_e(step.observation.app)} · {_e(step.observation.window)}</h2>"
            f"<pre>{_e(_describe(step))}</pre>{result}"
            f"{'<p>confidence ' + _e(f'{conf:.3f}') + '</p>' if isinstance(conf, (int, float)) else ''}"
            f"<table>{timing}</table>{details}</div></section>")
    warn = "".join(f"<p class='err'>{_e(w)}</p>" for w in rec.warnings)
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Handa · {_e(m.goal)}</title>"
            f"<style>{_CSS}</style></head><body>{head}<main>{warn}{''.join(body)}</main>{''.join(scripts)}"
            f"<script>{_JS}</script></body></html>")


def write_html(rec: Recording, out: Optional[Path] = None) -> Path:
    out = Path(out) if out else rec.path / "index.html"
    out.write_text(render_html(rec), encoding="utf-8")
    return out
