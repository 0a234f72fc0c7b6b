"""Android controller overhead: hierarchy parsing, and our code around the uiautomator2 calls.

- ``parse_hierarchy`` on a 1,000-node dump (a settings-like list screen with a status bar): p50/p95, target
  ≤ 20 ms;
- ``observe()`` and ``execute()`` (a tap, a 20-character Korean/ASCII type, a scroll, a key chord) against a stub
  device whose JSON-RPC, screenshot and shell calls return instantly: what remains is the time spent in our
  code (parsing included for observe), i.e. the overhead a real device's own latency comes on top of.

Prints a table, median and ratio lines, and a final JSON line. Usage:
``python benchmarks/android_bench.py [--samples 200] [--nodes 1000]``
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from controllers.actions import Click, Key, Scroll, TypeText, element  # noqa: E402
from controllers.android.controller import AndroidController  # noqa: E402
from controllers.android.hierarchy import parse_hierarchy  # noqa: E402
from controllers.elements import Rect, Role  # noqa: E402

SCREEN = Rect(left=0, top=0, right=1080, bottom=2400)


def _node(cls: str, box: tuple, *children: str, pkg: str = "com.example", **attrs: str) -> str:
    a = {"index": "0", "text": "", "resource-id": "", "class": cls, "package": pkg, "content-desc": "",
         "checkable": "false", "checked": "false", "clickable": "false", "enabled": "true", "focusable": "false",
         "focused": "false", "scrollable": "false", "long-clickable": "false", "password": "false",
         "selected": "false", "visible-to-user": "true", "bounds": "[%d,%d][%d,%d]" % box, "drawing-order": "0",
         "hint": "", "display-id": "0"}
    a.update({k.replace("_", "-"): v for k, v in attrs.items()})
    text = " ".join(f'{k}="{v}"' for k, v in a.items())
    return f"<node {text} />" if not children else f"<node {text}>\r\n" + "\r\n".join(children) + "\r\n</node>"


def synthetic_dump(nodes: int = 1000) -> str:
    """A list screen of about ``nodes`` nodes: status bar, toolbar, a search field, rows of text and a switch."""
    status = _node("android.widget.FrameLayout", (0, 0, 1080, 80),
                   _node("android.widget.TextView", (20, 0, 200, 80), text="9:41", pkg="com.android.systemui"),
                   pkg="com.android.systemui")
    rows, count, i = [], 9, 0
    while count + 5 <= nodes:
        y = 400 + (i % 20) * 100
        rows.append(_node("android.widget.LinearLayout", (0, y, 1080, y + 100),
                          _node("android.widget.LinearLayout", (0, y, 900, y + 100),
                                _node("android.widget.TextView", (40, y, 880, y + 55), text=f"설정 항목 {i} item",
                                      resource_id="com.example:id/title"),
                                _node("android.widget.TextView", (40, y + 55, 880, y + 95), text=f"summary {i}")),
                          _node("android.widget.Switch", (900, y, 1040, y + 100), checkable="true",
                                checked="true" if i % 2 else "false", clickable="true",
                                resource_id="com.example:id/switch"),
                          clickable="true", index=str(i)))
        count += 5
        i += 1
    app = _node("android.widget.FrameLayout", (0, 0, 1080, 2400),
                _node("android.widget.LinearLayout", (0, 80, 1080, 2400),
                      _node("androidx.appcompat.widget.Toolbar", (0, 80, 1080, 280),
                            _node("android.widget.TextView", (40, 120, 600, 240), text="Settings"),
                            resource_id="com.example:id/toolbar"),
                      _node("android.widget.EditText", (40, 290, 1040, 390), text="Search", hint="Search",
                            focused="true", clickable="true", resource_id="com.example:id/search"),
                      _node("androidx.recyclerview.widget.RecyclerView", (0, 400, 1080, 2400), *rows,
                            scrollable="true", resource_id="com.example:id/list")))
    return ("<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\r\n<hierarchy rotation=\"0\">\r\n"
            + app + "\r\n" + status + "\r\n</hierarchy>")


class StubDevice:
    """Answers like ``uiautomator2.Device`` would, instantly: no device time at all."""

    def __init__(self, xml: str):
        from PIL import Image

        self.xml = xml
        self.image = Image.new("RGB", (1080, 2400), "white")
        stub = self

        class Rpc:
            def __getattr__(self, method):
                def call(*args):
                    if method == "dumpWindowHierarchy":
                        return stub.xml
                    if method == "deviceInfo":
                        return {"displayWidth": 1080, "displayHeight": 2400, "displaySizeDpX": 411,
                                "displayRotation": 0}
                    return True
                return call

        self.jsonrpc = Rpc()
        self.adb_device = types.SimpleNamespace(app_current=lambda: types.SimpleNamespace(package="com.example"))

    def screenshot(self):
        return self.image

    def shell(self, cmd, timeout=None):
        text = cmd if isinstance(cmd, str) else " ".join(cmd)
        out = {"wm density": "Physical density: 420", "wm size": "Physical size: 1080x2400"}.get(text, "")
        return types.SimpleNamespace(output=out, exit_code=0)

    def send_keys(self, text):
        return None

    def clear_text(self):
        return None


def timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--nodes", type=int, default=1000)
    args = ap.parse_args()
    n = args.samples

    xml = synthetic_dump(args.nodes)
    tree = parse_hierarchy(xml, SCREEN)
    for _ in range(10):  # warm up
        parse_hierarchy(xml, SCREEN)
    parse = timed(lambda: parse_hierarchy(xml, SCREEN), n)

    stub = StubDevice(xml)
    ctl = AndroidController("stub", connector=lambda: stub)
    ctl.focus_delay = 0
    ctl.tap_interval = 0
    obs = ctl.observe()
    observe = timed(ctl.observe, n)
    switch = next(e for e in obs.elements if e.role == Role.switch)
    field = next(e for e in obs.elements if e.role == Role.text_field)
    lst = next(e for e in obs.elements if e.role == Role.list)
    actions = {
        "click": Click(target=element(switch.id)),
        "type": TypeText(text="안녕하세요 hello 12345", target=element(field.id), clear=True),
        "scroll": Scroll(direction="down", amount=1.0, target=element(lst.id)),
        "key": Key(keys=["ctrl", "a"]),
    }
    act: dict[str, list[float]] = {}
    for name, action in actions.items():
        def run(action=action):
            ctl._last = obs  # act on the observation we have: no observe inside the measurement
            result = ctl.execute(action)
            assert result.ok, result.error
        act[name] = timed(run, n)

    p50 = {"parse": statistics.median(parse), "observe": statistics.median(observe),
           **{k: statistics.median(v) for k, v in act.items()}}
    print(f"dump: {tree.node_count} nodes -> {len(tree.elements)} elements; {len(xml) / 1024:.0f} KiB of XML")
    print(f"{'what':<26}{'p50 ms':>9}{'p95 ms':>9}")
    print(f"{'parse_hierarchy':<26}{p50['parse']:>9.2f}{pct(parse, .95):>9.2f}")
    print(f"{'observe (stub device)':<26}{p50['observe']:>9.2f}{pct(observe, .95):>9.2f}")
    for k, v in act.items():
        print(f"{'execute ' + k + ' (stub)':<26}{p50[k]:>9.3f}{pct(v, .95):>9.3f}")
    around = p50["observe"] - p50["parse"]
    print(f"median parse {p50['parse']:.2f} ms (target <= 20 ms: {'met' if p50['parse'] <= 20 else 'MISSED'})")
    print(f"median observe overhead {p50['observe']:.2f} ms = parse {p50['parse']:.2f} + the rest {around:.2f}")
    print(f"ratio observe/parse {p50['observe'] / p50['parse']:.2f}x; "
          f"ratio click/observe {p50['click'] / p50['observe']:.3f}x")
    print(json.dumps({"nodes": tree.node_count, "elements": len(tree.elements),
                      "parse_p50_ms": round(p50["parse"], 3), "parse_p95_ms": round(pct(parse, .95), 3),
                      "observe_overhead_p50_ms": round(p50["observe"], 3),
                      "observe_overhead_p95_ms": round(pct(observe, .95), 3),
                      "observe_minus_parse_p50_ms": round(around, 3),
                      **{f"{k}_overhead_p50_ms": round(p50[k], 4) for k in act},
                      "ratio_observe_to_parse": round(p50["observe"] / p50["parse"], 3),
                      "parse_target_met": p50["parse"] <= 20}))


if __name__ == "__main__":
    main()
