"""The sim renderer: never crashes, clips like a real toolkit, is fast on any text, falls back per glyph."""
import functools
import math
import random
import re
import time

import pytest
from PIL import Image, ImageChops, ImageDraw

from controllers.elements import Role
from controllers.policy import HistoryEntry
from controllers.sim import SimController, SimDevice, render
from controllers.sim.apps import APP_CLASSES
from controllers.sim.ui import Node
from tasks import load_all
from tasks.base import make_instance
from tasks.expert import ExpertPolicy

SCALES = (0.75, 1.0, 1.5, 2.0)
FORMS = ("phone", "desktop")


@pytest.fixture(autouse=True)
def strict(monkeypatch):
    """A node that fails to paint raises here, instead of being quietly left out of the screenshot."""
    monkeypatch.setattr(render, "STRICT", True)


def assert_screen_sized(dev, img):
    frame = dev.frame()
    assert img.size == (frame.width, frame.height)


# ------------------------------------------------------------------ reachable pages


def _center_tap(dev, key):
    for n in dev.paint_order():
        if n.key == key:
            x0, y0, x1, y1 = n.x, n.y, n.x + n.w, n.y + n.h
            if n.clip is not None:
                x0, y0, x1, y1 = max(x0, n.clip[0]), max(y0, n.clip[1]), min(x1, n.clip[2]), min(y1, n.clip[3])
            dev.tap((x0 + x1) / 2, (y0 + y1) / 2)
            return True
    return False


def _replay(form, app, path, seed=0):
    """A fresh device with ``app`` open, after tapping the nodes ``path`` names; None if it led elsewhere."""
    dev = SimDevice(form=form, seed=seed)
    dev.launch(app)
    dev.apps[app].dialog = None  # no rate-us nag in the way
    dev.invalidate()
    for key in path:
        if not _center_tap(dev, key) or dev.foreground != app:
            return None
    return dev


def _state(dev, app):
    a = dev.apps[app]
    return a.page.split("/")[0], a.dialog, a.menu, bool(a.focus)


def _tappable(dev, app):
    """The app's enabled clickable nodes, at most two per key pattern (rows of a list look alike)."""
    seen, out = {}, []
    for n in dev.paint_order():
        if n.on_click is None or not n.enabled or not n.key.startswith(f"{app}:"):
            continue
        pattern = re.sub(r"\d+", "#", n.key)
        if seen.get(pattern, 0) < 2:
            seen[pattern] = seen.get(pattern, 0) + 1
            out.append(n.key)
    return out


@functools.cache
def reachable(form, depth=3):
    """Tap paths to every distinct (app, page kind, dialog, menu, focus) within ``depth`` taps of an app's start."""
    found = {}
    for cls in APP_CLASSES:
        app = cls.key
        found[(app,) + _state(_replay(form, app, []), app)] = ()
        frontier = [()]
        for _ in range(depth):
            nxt = []
            for path in frontier:
                for key in _tappable(_replay(form, app, path), app):
                    dev = _replay(form, app, path + (key,))
                    if dev is None:
                        continue
                    state = (app,) + _state(dev, app)
                    if state not in found:
                        found[state] = path + (key,)
                        nxt.append(path + (key,))
            frontier = nxt
    return found


@pytest.mark.parametrize("form", FORMS)
def test_every_reachable_page_renders_at_any_scroll_and_scale(form):
    states = reachable(form)
    assert len(states) >= 40, "the exploration reaches the apps' pages, dialogs and menus"
    assert {s[0] for s in states} == {cls.key for cls in APP_CLASSES}
    rng = random.Random(f"render-fuzz/{form}")
    renders = 0
    for i, ((app, *_), path) in enumerate(sorted(states.items(), key=repr)):
        dev = _replay(form, app, path)
        a = dev.apps[app]
        dev.scene()
        page, content_h = dev._viewports[app]
        view_h = page.body.h
        top = max(0.0, content_h - view_h)
        row = dev.style.theme.row_height
        # slivers of rows (the reported crash was at 0.034 of the viewport), halves, random, the end, past it
        offsets = [0.034 * view_h, 0.0, 0.5, row / 2 - 0.25, rng.uniform(0, top + 1), top, top + 57, -37.5]
        for j, offset in enumerate(offsets):
            a.scroll[a.page] = offset
            dev.invalidate()
            dev.scene()
            # every page at every scale; each offset at one of them, the first at all
            for scale in SCALES if j == 0 else (SCALES[(i + j) % len(SCALES)],):
                dev.scale = scale  # layout is in dp: the same scene, drawn at another pixel density
                assert_screen_sized(dev, dev.render())
                renders += 1
    assert renders >= (len(offsets) + 3) * len(states)


@pytest.mark.parametrize("form", FORMS)
def test_mid_episode_states_of_every_task_render(form):
    templates = load_all()
    played = 0
    for i, tid in enumerate(sorted(templates)):
        template = templates[tid]
        if form not in template.forms:
            continue
        inst = make_instance(tid, seed=i % 7, form=form, scale=SCALES[i % len(SCALES)])
        ctl = SimController(inst.device)
        policy = ExpertPolicy(inst)
        policy.reset(inst.goal)
        history = []
        for step in range(6):
            obs = ctl.observe()
            img = obs.screenshot()
            assert img.size == (obs.screen.width, obs.screen.height), (tid, step)
            action = policy.decide(inst.goal, obs, history).action
            if action is None or action.type in ("done", "answer"):
                break
            result = ctl.execute(action)
            history.append(HistoryEntry(step=step, action=action, ok=result.ok, error=result.error))
        played += 1
    assert played >= 30


KINDS = ["page", "launcher", "header", "titlebar", "taskbar", "bottom_bar", "statusbar", "navbar", "window", "title",
         "title_small", "text", "caption", "status_text", "text_big", "section", "button", "header_action", "field",
         "field_multi", "dropdown", "switch", "checkbox", "radio", "slider", "list_item", "tab", "menu", "dialog",
         "menu_item", "scrim", "app_icon", "desk_icon", "fab", "icon_back", "nav_back", "nav_home", "nav_recents",
         "icon_close", "win_close", "win_min", "card", "image", "battery", "wifi_icon", "body", "row", "unknown"]
NASTY_TEXT = ["", "x", "Omar Tan", "가나다라 São Paulo −5 ✓ ⚠", "line one\nline two\r\n\tthree", "\ud800 lone \udfff",
              "e\u0301\u0301\u0301 combining", "שלום עולם مرحبا", "😀👍🏽👨‍👩‍👧 emoji", "\x00\x1b\x7f controls",
              "\u200b\u200d\ufeff zero width", "\U0010ffff\ue000 unassigned", "W" * 3000]
SIZES = [0, 0.1, 0.5, 1, 3, 6, 30, 300, 1e5, 1e9, -0.5, -10, -1e9]


def _node(kind, x, y, w, h, text="", clip=None, **kw):
    n = Node(f"fuzz:{kind}", Role.container, x, y, w, h, name=text, desc=text, value=text, hint=text, kind=kind, **kw)
    n.clip = clip
    return n


def test_no_geometry_or_text_crashes_any_kind_of_node():
    rng = random.Random("render-geometry")
    for form, scale in (("phone", 1.0), ("desktop", 0.75), ("phone", 2.0)):
        dev = SimDevice(form=form, seed=3, scale=scale)
        W, H = dev.size
        for kind in KINDS:
            roots = []
            for _ in range(12):
                w, h = rng.choice(SIZES), rng.choice(SIZES)
                x = rng.choice([-1e9, -50, 0, 10.25, W / 2, W - 3, W + 40, 1e9])
                y = rng.choice([-1e9, -50, 0, 7.5, H / 2, H - 3, H + 40, 1e9])
                clip = rng.choice([None, None, (0, 40, W, H - 40), (x, y, x + 1, y + 1), (5, 5, 4, 4),
                                   (-1e12, -1e12, 1e12, 1e12), (0, 0, 0.3, 0.3)])
                n = _node(kind, x, y, w, h, rng.choice(NASTY_TEXT), clip=clip, rid="settings",
                          checked=rng.choice([None, True, False]), selected=rng.random() < 0.5,
                          enabled=rng.random() < 0.8, fraction=rng.choice([0.0, 0.5, 1.0, -3.0, 7.0]),
                          emphasis=rng.choice([0, 1, 2, 3, 9]), password=rng.random() < 0.2)
                n.focused = rng.random() < 0.3
                n.add(_node("list_item", x + 5, y + 5, w / 2, h / 2, rng.choice(NASTY_TEXT), clip=clip))
                roots.append(n)
            roots += [_node(kind, float("nan"), 0, 10, 10, "nan"), _node(kind, 0, 0, float("inf"), 40, "inf")]
            start = time.perf_counter()
            img = render.render_scene(dev, roots)
            assert time.perf_counter() - start < 2.0, f"{kind} took too long"
            assert_screen_sized(dev, img)


def test_a_sliver_of_a_switch_renders():
    """The reported crash: settings scrolled so a switch shows a few pixels (negative knob radius)."""
    for form in FORMS:
        for scale in SCALES:
            dev = SimDevice(form=form, seed=0, scale=scale)
            dev.launch("settings")
            dev.apps["settings"].dialog = None
            dev.invalidate()
            switch = next(n for n in dev.paint_order() if n.kind == "switch")
            body = dev._viewports["settings"][0].body
            for cut in (0.5, 1.0, 2.0, 5.0, switch.h - 1, switch.h - 0.25):
                dev.apps["settings"].scroll["main"] = switch.y - body.y + cut
                dev.invalidate()
                assert_screen_sized(dev, dev.render())


# ------------------------------------------------------------------ clipping


def _scrolled(form, scale, offset):
    """Shop's product list (longer than the screen, no floating button) at ``offset`` dp."""
    dev = SimDevice(form=form, seed=0, scale=scale)
    dev.launch("shop")
    dev.apps["shop"].dialog = None
    dev.apps["shop"].scroll["main"] = offset
    dev.invalidate()
    dev.scene()
    return dev


@pytest.mark.parametrize("form,scale", [("phone", 1.0), ("desktop", 1.0), ("phone", 2.0), ("desktop", 1.5)])
def test_a_row_cut_by_the_viewport_is_clipped_at_its_own_position(form, scale):
    base_dev = _scrolled(form, scale, 0)
    base = base_dev.render()
    body = base_dev._viewports["shop"][0].body
    assert not any(n.kind in ("fab", "scrim") for n in base_dev.paint_order())
    # scroll so a two-line product row is cut through its title: half of it above the viewport
    row = next(n for n in body.children if n.kind == "list_item" and n.desc and n.y > body.y + 40)
    offset = (row.y - body.y) + 16  # through the row's title
    while (offset * scale) % 1:
        offset += 1  # a whole number of pixels, so the two screens compare exactly
    dev = _scrolled(form, scale, offset)
    img = dev.render()
    body = dev._viewports["shop"][0].body
    cut = [n for n in body.children if n.kind == "list_item" and n.y < body.y < n.y + n.h]
    assert cut and cut[0].key == row.key, "the chosen row straddles the top of the viewport"

    s = scale
    x0, y0, x1, y1 = (math.ceil(v * s - 0.5 - 1e-9) for v in body.clip)  # pixels whose centre is inside
    shift = round(offset * s)
    assert shift == offset * s
    # 1. nothing the body paints lands outside its viewport: every other pixel is as when unscrolled
    outside = Image.new("L", img.size, 255)
    ImageDraw.Draw(outside).rectangle([x0, y0, x1 - 1, y1 - 1], fill=0)
    diff = ImageChops.difference(img, base).convert("L").point(lambda v: 255 if v else 0)
    assert ImageChops.multiply(diff, outside).getbbox() is None, "body content bled outside its viewport"
    # 2. inside it, the scrolled screen is the unscrolled one moved up: the cut row keeps its layout
    #    (below the header's divider, which is max(1, int(s)) px thick and may spill one pixel row over)
    top = y0 + max(1, int(s))
    moved = base.crop((x0, top + shift, x1, y1))
    assert img.crop((x0, top, x1, y1 - shift)).tobytes() == moved.tobytes(), "the cut row moved or squashed"
    # and the cut row really shows ink just under the viewport's top edge (its title, cut through)
    edge = img.crop((x0, top, x1, top + round(4 * s))).convert("L")
    assert edge.getextrema()[0] != edge.getextrema()[1]


def test_window_content_stays_inside_the_window():
    dev = SimDevice(form="desktop", seed=0)
    dev.launch("settings")
    dev.apps["settings"].dialog = None
    dev.invalidate()
    win = next(n for n in dev.scene() if n.kind == "window")
    # a rogue node sticking out of the window (and a very long text in it) must not paint outside it
    page = win.children[1]
    page.add(_node("button", win.x + win.w - 40, win.y + 60, 400, 80, "W" * 200, emphasis=1))
    page.add(_node("text", win.x - 300, win.y + 120, 600, 30, "M" * 80))
    img = dev.render()
    clean = SimDevice(form="desktop", seed=0)
    clean.launch("settings")
    clean.apps["settings"].dialog = None
    clean.invalidate()
    base = clean.render()
    inside = Image.new("L", img.size, 0)
    ImageDraw.Draw(inside).rectangle([win.x - 1, win.y - 1, win.x + win.w, win.y + win.h], fill=255)
    diff = ImageChops.difference(img, base).convert("L").point(lambda v: 255 if v else 0)
    assert diff.getbbox() is not None, "the rogue nodes were drawn"
    assert ImageChops.subtract(diff, inside).getbbox() is None


# ------------------------------------------------------------------ text


def _canvas(w=720, h=60):
    img = Image.new("RGB", (w, h), (255, 255, 255))
    return img, ImageDraw.Draw(img)


@pytest.mark.parametrize("text", ["a" * 20000, "가나다 São −" * 2000, "W\u0301" * 10000, "\n" * 20000,
                                  "😀" * 20000, "\ud800" * 20000])
def test_very_long_text_is_fast(text):
    _, draw = _canvas()
    start = time.perf_counter()
    render.draw_text(draw, 10, 30, text, (0, 0, 0), 15, max_width=700)
    render.draw_text(draw, 10, 30, text, (0, 0, 0), 15)  # no width given: cut to the canvas
    assert render.text_width(text, 15, False, 300) <= 300
    assert time.perf_counter() - start < 0.25


def test_a_node_with_a_huge_value_renders_in_well_under_a_second():
    dev = SimDevice(form="desktop", seed=1, scale=2.0)
    W = dev.size[0]
    long = ("Lorem ipsum dolor sit amet, 가나다라마바사 São − " * 500)[:20000]
    assert len(long) == 20000
    nodes = [_node("list_item", 0, 100, W, 64, long), _node("field", 20, 200, W - 40, 44, long),
             _node("text", 20, 260, W - 40, 30, long), _node("dropdown", 20, 300, 300, 44, long),
             _node("button", 20, 360, 200, 44, long, emphasis=1)]
    nodes[0].desc = long
    start = time.perf_counter()
    img = render.render_scene(dev, nodes)
    assert time.perf_counter() - start < 0.3
    assert_screen_sized(dev, img)


def test_ellipsis_cut_fits_and_keeps_as_much_as_fits():
    for text in ("Omar Tanaka-Rodríguez", "가나다라마바사아자차카타파하", "São Paulo − Brasil ✓ ⚠ done"):
        full = render.text_width(text, 15)
        for room in (full - 1, full * 0.6, full * 0.3, 20):
            cut = render.text_width(text, 15, False, room)
            assert cut <= room
            # one more character would not have fitted (the cut is the longest prefix, not one char short)
            runs, _ = render._fit(text, 15, False, room)
            kept = "".join(t for t, _ in runs)
            assert kept.endswith("…") and text.startswith(kept[:-1])
            if len(kept) - 1 < len(text):
                longer = text[:len(kept)] + "…"
                assert render.text_width(longer, 15, False, 1e4) > room
    assert render.text_width("", 15) == 0
    assert not render._fit("abc", 15, False, 2)[0]  # not even "…" fits: nothing is drawn


def test_unicode_never_crashes_and_undrawable_characters_are_replaced():
    _, draw = _canvas()
    for text in NASTY_TEXT:
        for anchor in ("lm", "mm", "rm"):
            render.draw_text(draw, 360, 30, text, (0, 0, 0), 15, anchor=anchor, max_width=300)
            render.draw_text(draw, 360, 30, text, (0, 0, 0), 15, bold=True, anchor=anchor)
    assert render._clean("a\nb\r\tc") == "a b  c"
    assert render._clean("x\ud800y\x00") == "x\ufffdy\ufffd"
    assert render._clean("가 São") == "가 São"


def test_fallback_glyphs_are_drawn_not_boxes():
    """'ã' and '−' are missing from the Hangul font; they must come from DejaVu, not as notdef boxes."""
    main = render.font(24)
    # the setup script installs these fonts; their absence is a failure, not a reason to skip
    assert getattr(main, "path", None) is not None and render._has_glyph(render._FALLBACK, "ã")

    def notdef(f):
        m = f.getmask("\ue000")  # as _has_glyph does: a code point no text font maps
        return bytes(m), m.size

    def mask(f, ch):
        m = f.getmask(ch)
        return bytes(m), m.size

    runs = render._runs("São Paulo −", 24, False)
    assert "".join(t for t, _ in runs) == "São Paulo −"
    for ch in "ãS−":
        f = next(f for t, f in runs if ch in t)
        assert mask(f, ch) != notdef(f), f"{ch!r} is drawn as the missing-glyph box of {f.path}"

    # on the canvas: the pixels are the fallback's glyph, not the main font's box
    def drawn(fn):
        img = Image.new("L", (80, 60), 255)
        fn(ImageDraw.Draw(img))
        return img.tobytes()

    alt = render.fallback_font(24)
    for ch in "ã−":
        ours = drawn(lambda d, ch=ch: render.draw_text(d, 10, 30, ch, 0, 24))
        lacks = mask(main, ch) == notdef(main)  # NanumGothic lacks both
        want = alt if lacks else main
        assert ours == drawn(lambda d, ch=ch, f=want: d.text((10, 30), ch, fill=0, font=f, anchor="lm"))
        if lacks:
            assert ours != drawn(lambda d, ch=ch: d.text((10, 30), ch, fill=0, font=main, anchor="lm")), \
                f"{ch!r} came out as the main font's missing-glyph box"


def _text_widths(monkeypatch, dev, nodes):
    """What each text was drawn with: {text: max_width}."""
    seen = {}
    real = render.draw_text

    def spy(draw, x, y, text, fill, size, bold=False, anchor="lm", max_width=None):
        seen[text] = max_width
        return real(draw, x, y, text, fill, size, bold, anchor, max_width)

    monkeypatch.setattr(render, "draw_text", spy)
    render.render_scene(dev, nodes)
    monkeypatch.setattr(render, "draw_text", real)
    return seen


def test_list_item_value_gets_a_fair_share_of_the_row(monkeypatch):
    """A trailing value is no longer capped at 86 px: short titles leave it room; long ones share 55/45."""
    dev = SimDevice(form="phone", seed=0)
    dev.style.typeface = "gothic"  # the widths below are measured outside a render, in the default face
    W = dev.size[0]
    fs = dev.style.theme.font_scale
    value = "omar.tanaka.rodriguez@example.com"
    full = render.text_width(value, max(6, int(13 * fs)))
    assert full > 86
    room = W - 32 - 4  # paddings and the gap between title and value, at scale 1

    row = _node("list_item", 0, 100, W, 56, "Email")
    row.value = value
    widths = _text_widths(monkeypatch, dev, [row])
    assert widths[value] >= full, "a short title leaves the value all the room it needs"
    assert widths["Email"] >= render.text_width("Email", max(6, int(15 * fs)), dev.style.theme.bold_font)

    title = "Preferred electronic mail address for notices and receipts"
    row = _node("list_item", 0, 100, W, 56, title)
    row.value = value
    widths = _text_widths(monkeypatch, dev, [row])
    assert widths[value] == pytest.approx(0.45 * room, abs=1)
    assert widths[title] == pytest.approx(0.55 * room, abs=1)

    row = _node("list_item", 0, 100, W, 56, title)
    row.value = "3:45 PM"
    widths = _text_widths(monkeypatch, dev, [row])
    assert widths[title] == pytest.approx(room - render.text_width("3:45 PM", max(6, int(13 * fs))), abs=1)


def test_render_time_stays_low():
    for form, budget in (("phone", 12.0), ("desktop", 25.0)):  # generous: shared CI machines
        dev = SimDevice(form=form, seed=0)
        dev.launch("shop")
        dev.apps["shop"].scroll["main"] = 37
        dev.invalidate()
        scene = dev.scene()
        times = []
        for _ in range(15):
            start = time.perf_counter()
            dev.render(scene)
            times.append((time.perf_counter() - start) * 1000)
        assert sorted(times)[len(times) // 2] < budget, form
