"""Desktop controller latency on a real virtual desktop: start-up, observe, screenshot, actions.

Starts a private desktop (Xvfb + openbox + private D-Bus + AT-SPI), opens GTK 3's widget factory (a ~300-node
app), and measures in one run:

- virtual desktop start time (median of ``--starts`` starts);
- ``observe()`` p50/p95 (tree + screenshot) and the tree's node count;
- screenshot p50 with mss and with Pillow's ImageGrab, pyautogui's path (and their ratio);
- ``execute()`` latency of a click, a 20-character type (Korean included) and a key chord.

Prints a table and a final JSON line. Usage: ``python benchmarks/desktop_bench.py [--samples 30] [--starts 5]``
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from controllers.actions import Click, Key, TypeText, element  # noqa: E402
from controllers.desktop.controller import DesktopController  # noqa: E402
from controllers.desktop.session import DesktopSession  # noqa: E402


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def chromium_observe(samples: int) -> tuple[int, list[float]]:
    """observe() on a Chromium page of about 300 on-screen nodes (a settings-like form)."""
    import tempfile

    from agent.cli_desktop import wait_for_tree
    from controllers.desktop.apps import chromium_argv

    rows = "".join(f'<div><label for="f{i}">Setting {i} 설정</label><input id="f{i}" value="v{i}">'
                   f'<input type="checkbox" aria-label="on {i}"><button>Apply {i}</button></div>' for i in range(75))
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "page.html"
        page.write_text(f'<!doctype html><meta charset="utf-8"><body style="font-size:9px;columns:3">{rows}</body>',
                        encoding="utf-8")
        session = DesktopSession.start_virtual(width=1600, height=1000)
        try:
            app = session.launch(chromium_argv(page.as_uri(), str(Path(tmp) / "profile"), width=1600, height=1000))
            wait_for_tree(session, app.pid)
            with DesktopController(session) as ctl:
                deadline = time.monotonic() + 20
                while len(ctl.observe().elements) < 250 and time.monotonic() < deadline:
                    time.sleep(0.2)
                nodes = len(ctl.observe().elements)
                return nodes, timed(ctl.observe, samples)
        finally:
            session.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=30)
    ap.add_argument("--starts", type=int, default=5)
    args = ap.parse_args()

    starts = []
    for _ in range(args.starts):
        t = time.perf_counter()
        s = DesktopSession.start_virtual()
        starts.append((time.perf_counter() - t) * 1000)
        s.close()

    session = DesktopSession.start_virtual()
    try:
        session.launch(["gtk3-widget-factory"])
        from agent.cli_desktop import wait_for_tree

        wait_for_tree(session, session.apps[-1].pid)
        time.sleep(1.0)
        with DesktopController(session) as ctl:
            obs = ctl.observe()
            nodes = len(obs.elements)
            observe_ms = timed(ctl.observe, args.samples)
            mss_ms = timed(ctl._grab, args.samples)
            # pyautogui's screenshot is pyscreeze, which on X11 is Pillow's ImageGrab (or an external tool)
            from PIL import ImageGrab

            gui_ms = timed(lambda: ImageGrab.grab(xdisplay=session.display), max(5, args.samples // 3))
            # actions: a click on a harmless label-free spot of the window, typing into the first entry, a chord
            obs = ctl.observe()
            entry = next(e for e in obs.elements if e.role.value == "text_field" and e.states.editable
                         and e.states.enabled)
            click_ms, type_ms, key_ms = [], [], []
            for _ in range(max(5, args.samples // 3)):
                obs = ctl.observe()
                click_ms.append(ctl.execute(Click(target=element(entry.id))).duration_ms)
                ctl.observe()
                type_ms.append(ctl.execute(TypeText(text="Handa 한국어 <bench> 12", clear=True)).duration_ms)
                ctl.observe()
                key_ms.append(ctl.execute(Key(keys=["ctrl", "a"])).duration_ms)
    finally:
        session.close()

    web_nodes, web_ms = chromium_observe(args.samples)
    rows = [
        ("virtual desktop start", starts),
        (f"observe GTK ({nodes} nodes)", observe_ms),
        (f"observe Chromium ({web_nodes} nodes)", web_ms),
        ("screenshot, mss", mss_ms),
        ("screenshot, Pillow ImageGrab", gui_ms),
        ("click", click_ms),
        ("type 20 chars (clear first)", type_ms),
        ("key chord", key_ms),
    ]
    print(f"{'what':32} {'p50 ms':>9} {'p95 ms':>9} {'n':>4}")
    for name, values in rows:
        print(f"{name:32} {statistics.median(values):9.1f} {pct(values, 0.95):9.1f} {len(values):4d}")
    ratio = statistics.median(gui_ms) / statistics.median(mss_ms)
    print(f"mss is {ratio:.1f}x faster than Pillow's ImageGrab (pyautogui's screenshot path)")
    print(json.dumps({
        "start_ms_p50": round(statistics.median(starts), 1),
        "observe_ms_p50": round(statistics.median(observe_ms), 1), "observe_ms_p95": round(pct(observe_ms, 0.95), 1),
        "nodes": nodes, "chromium_observe_ms_p50": round(statistics.median(web_ms), 1),
        "chromium_observe_ms_p95": round(pct(web_ms, 0.95), 1), "chromium_nodes": web_nodes,
        "screenshot_mss_ms_p50": round(statistics.median(mss_ms), 2),
        "screenshot_imagegrab_ms_p50": round(statistics.median(gui_ms), 2), "mss_speedup": round(ratio, 1),
        "click_ms_p50": round(statistics.median(click_ms), 1), "type_ms_p50": round(statistics.median(type_ms), 1),
        "key_ms_p50": round(statistics.median(key_ms), 1),
    }))


if __name__ == "__main__":
    main()
