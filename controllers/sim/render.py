"""Pillow rendering of the sim scene: real pixels for screenshot-reading models.

Every node is laid out with its own, unclipped geometry, like a real toolkit: the
children of a clipped node (a scrolling page body) and of a desktop window are
painted on a layer that is pasted back through the clip rectangle only, so a row
half scrolled out shows cut off at the viewport edge instead of squashed into it.
Shapes and text go through guards, so no node geometry (zero, negative, huge or
not finite) and no string (any length, any code points) can make Pillow raise or hang.
"""
from __future__ import annotations

import bisect
import contextvars
import functools
import glob
import math
import os
import re

from PIL import Image, ImageDraw, ImageFont

from controllers.sim.ui import Node

# Fonts with Hangul first, so Korean renders as text, not boxes.
_FONT_CANDIDATES = [
    "/usr/share/fonts/truetype/nanum/NanumGothic.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
]
_BOLD_CANDIDATES = [
    "/usr/share/fonts/truetype/nanum/NanumGothicBold.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
]

STRICT = False  # tests set this: a node that fails to paint raises instead of being left out


def _first_existing(paths: list[str]) -> str | None:
    env = os.environ.get("HANDA_FONT")
    if env and os.path.exists(env):
        return env
    for p in paths:
        if os.path.exists(p):
            return p
    found = glob.glob("/usr/share/fonts/**/*Nanum*Gothic*.ttf", recursive=True)
    return found[0] if found else None


# Hangul typefaces by the names ``Style.typeface`` draws from (regular, bold); Gothic when one is missing.
_NANUM = "/usr/share/fonts/truetype/nanum/"
TYPEFACE_FILES = {
    "gothic": ("NanumGothic.ttf", "NanumGothicBold.ttf"),
    "barun": ("NanumBarunGothic.ttf", "NanumBarunGothicBold.ttf"),
    "square": ("NanumSquareR.ttf", "NanumSquareB.ttf"),
    "square_round": ("NanumSquareRoundR.ttf", "NanumSquareRoundB.ttf"),
    "myeongjo": ("NanumMyeongjo.ttf", "NanumMyeongjoBold.ttf"),
}
# the typeface of the screen being rendered; every text cache is keyed by it
_FACE: contextvars.ContextVar[str] = contextvars.ContextVar("typeface", default="gothic")


def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The current screen's typeface at ``size`` px."""
    return _font(size, bold, _FACE.get())


@functools.lru_cache(maxsize=256)
def _font(size: int, bold: bool, face: str) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    files = TYPEFACE_FILES.get(face)
    path = _NANUM + files[1 if bold else 0] if files else None
    if path is None or not os.path.exists(path) or os.environ.get("HANDA_FONT"):
        path = _first_existing(_BOLD_CANDIDATES if bold else _FONT_CANDIDATES)
    if path is None:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(path, size=size, layout_engine=ImageFont.Layout.BASIC)


@functools.lru_cache(maxsize=64)
def fallback_font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu covers the Latin accents, maths and symbols the Hangul font lacks (ã, −, ✓, ⚠)."""
    path = _FALLBACK_BOLD if bold else _FALLBACK
    if not os.path.exists(path):
        return font(size, bold)
    return ImageFont.truetype(path, size=size, layout_engine=ImageFont.Layout.BASIC)


_FALLBACK = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
_FALLBACK_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
_NOTDEF: dict[str, bytes] = {}


@functools.lru_cache(maxsize=8192)
def _has_glyph(path: str, ch: str) -> bool:
    """Whether the font at ``path`` draws ``ch`` as itself rather than its missing-glyph box."""
    f = ImageFont.truetype(path, size=24, layout_engine=ImageFont.Layout.BASIC)
    if path not in _NOTDEF:
        m = f.getmask("\ue000")  # a private-use code point no text font maps
        _NOTDEF[path] = bytes(m) + repr(m.size).encode()
    m = f.getmask(ch)
    return bytes(m) + repr(m.size).encode() != _NOTDEF[path]


# ------------------------------------------------------------------ text

_MAX_FONT_PX = 512  # FreeType sizes beyond this only cost time: nothing on a screen is that tall
_MAX_CHARS = 4096  # no single line drawn needs more characters than this
_MIN_ADVANCE_EM = 0.2  # narrower than any printing glyph of the fonts above (space and "i" are ~0.27 em)
# line and paragraph breaks read as spaces on a one-line label; other controls and lone surrogates can't be drawn
_BREAKS = str.maketrans({c: " " for c in "\n\r\t\v\f\x1c\x1d\x1e\x85\u2028\u2029"})
_UNDRAWABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _clean(text) -> str:
    """One drawable line: breaks become spaces, controls and lone surrogates U+FFFD (same length)."""
    if not isinstance(text, str):
        text = str(text)
    if text.isascii() and text.isprintable():
        return text
    return _UNDRAWABLE.sub("\ufffd", text.translate(_BREAKS))


def _runs(text: str, size: int, bold: bool) -> list[tuple[str, object]]:
    """Split ``text`` into runs drawn with the main font or, glyph by glyph, the fallback."""
    main = font(size, bold)
    path = getattr(main, "path", None)
    if path is None or text.isascii():
        return [(text, main)]
    alt = fallback_font(size, bold)
    runs: list[tuple[str, object]] = []
    for ch in text:
        f = main if (ch.isspace() or _has_glyph(path, ch)) else alt
        if runs and runs[-1][1] is f:
            runs[-1] = (runs[-1][0] + ch, f)
        else:
            runs.append((ch, f))
    return runs


_CACHED_CHARS = 512  # labels up to this long have their layout cached: screens redraw the same texts


def _fit(text: str, size: int, bold: bool, max_width: float) -> tuple[tuple[tuple[str, object], ...], tuple]:
    """The runs (text, font) of one line of ``text`` and their widths, cut with an ellipsis to ``max_width``."""
    if len(text) <= _CACHED_CHARS:
        return _fit_cached(text, size, bold, max_width, _FACE.get())
    runs, widths = _fit_any(text, size, bold, max_width)
    return tuple(runs), tuple(widths)


@functools.lru_cache(maxsize=8192)
def _fit_cached(text: str, size: int, bold: bool, max_width: float, face: str):
    # keyed like ``font``: by size, weight and the current typeface
    runs, widths = _fit_any(text, size, bold, max_width)
    return tuple(runs), tuple(widths)


def _fit_any(text: str, size: int, bold: bool, max_width: float) -> tuple[list[tuple[str, object]], list[float]]:
    """``_fit`` for any length: the string is first cut to the most characters that could fit (no glyph
    is narrower than ``_MIN_ADVANCE_EM``), then the cut point is found by binary search over prefix widths.
    """
    limit = min(_MAX_CHARS, int(max(0.0, max_width) / max(1.0, _MIN_ADVANCE_EM * size)) + 8)
    while True:
        cut = len(text) > limit
        runs = _runs(_clean(text[:limit]), size, bold)
        widths = [f.getlength(t) for t, f in runs]
        total = sum(widths)
        # zero-width characters (combining marks, joiners) can make more fit: look further, within reason
        if not cut or total > max_width or limit >= _MAX_CHARS:
            break
        limit = min(_MAX_CHARS, limit * 4)
    if not cut and total <= max_width:
        return runs, widths
    ell = _runs("…", size, bold)
    ell_w = sum(f.getlength(t) for t, f in ell)
    avail = max_width - ell_w
    if avail < 0:
        return [], []  # not even the ellipsis fits
    starts, before, acc, pos = [], [], 0.0, 0
    for (t, _), w in zip(runs, widths):
        starts.append(pos)
        before.append(acc)
        pos += len(t)
        acc += w

    def prefix(k: int) -> float:
        i = max(0, bisect.bisect_right(starts, k) - 1)
        t, f = runs[i]
        return before[i] + (f.getlength(t[:k - starts[i]]) if k > starts[i] else 0.0)

    lo, hi = 0, pos
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if prefix(mid) <= avail:
            lo = mid
        else:
            hi = mid - 1
    kept = []
    for (t, f), st in zip(runs, starts):
        if st >= lo:
            break
        kept.append((t[:lo - st], f))
    kept += ell
    return kept, [f.getlength(t) for t, f in kept]


def text_width(text: str, size: int, bold: bool = False, max_width: float = 1e4) -> float:
    """The width ``draw_text`` gives ``text`` when cut to ``max_width``."""
    if not text:
        return 0.0
    size = max(1, min(int(size), _MAX_FONT_PX))
    if not math.isfinite(max_width):
        max_width = 1e4
    return sum(_fit(text, size, bold, max_width)[1])


def draw_text(draw: ImageDraw.ImageDraw, x: float, y: float, text: str, fill, size: int, bold: bool = False,
              anchor: str = "lm", max_width: float | None = None) -> None:
    """Draw one line with per-glyph font fallback, cut with an ellipsis to ``max_width``.

    ``anchor`` is "lm" (x is the left edge), "mm" (x is the centre) or "rm" (x is the right edge); y is the middle.
    A multi-line value shows as a single line; characters no font can draw show as U+FFFD.
    """
    if not text or not (math.isfinite(x) and math.isfinite(y)):
        return
    size = max(1, min(int(size), _MAX_FONT_PX))
    width = draw.im.size[0]
    cap = 2.0 * width + 2 * size  # more than this is off the canvas wherever the anchor is
    if max_width is None or not math.isfinite(max_width) or max_width > cap:
        max_width = cap
    runs, widths = _fit(text, size, bold, max_width)
    total = sum(widths)
    left = x if anchor == "lm" else (x - total / 2 if anchor == "mm" else x - total)
    if left > width + size or left + total < -size or abs(y) > 1e6:
        return  # wholly off the canvas
    for (t, f), w in zip(runs, widths):
        if t:
            draw.text((left, y), t, fill=fill, font=f, anchor="lm")
        left += w


def _mix(a, b, t: float):
    return tuple(int(a[i] * (1 - t) + b[i] * t) for i in range(3))


# ------------------------------------------------------------------ guarded shapes


class _Canvas:
    """An image (the screen or a clip layer) whose top-left is at (ox, oy) screen pixels.

    The shape methods take any coordinates: boxes are normalised, clamped to a margin around the
    canvas (which changes no visible pixel), and shapes too large to matter are skipped, so Pillow
    never raises (x1 < x0, negative radius) nor spends seconds on a million-pixel ellipse.
    """

    __slots__ = ("H", "W", "big", "draw", "img", "ox", "oy")

    def __init__(self, img: Image.Image, ox: int = 0, oy: int = 0):
        self.img, self.draw = img, ImageDraw.Draw(img)
        self.ox, self.oy = ox, oy
        self.W, self.H = img.size
        self.big = 4 * max(self.W, self.H) + 64

    def _box(self, box, margin: float):
        x0, y0, x1, y1 = box
        if not (math.isfinite(x0) and math.isfinite(y0) and math.isfinite(x1) and math.isfinite(y1)):
            return None
        if x1 < x0 or y1 < y0:
            return None
        x0, y0 = max(x0, -margin), max(y0, -margin)
        x1, y1 = min(x1, self.W + margin), min(y1, self.H + margin)
        if x1 < x0 or y1 < y0:
            return None  # wholly outside
        return [x0, y0, x1, y1]

    def _points(self, pts):
        m = max(self.W, self.H)
        out = []
        for i in range(0, len(pts) - 1, 2):
            x, y = pts[i], pts[i + 1]
            if not (math.isfinite(x) and math.isfinite(y)):
                return None
            out += [min(max(x, -m), self.W + m), min(max(y, -m), self.H + m)]
        return out

    def rect(self, box, fill=None, outline=None, width: int = 1) -> None:
        b = self._box(box, width + 2)
        if b is not None:
            self.draw.rectangle(b, fill=fill, outline=outline, width=width)

    def rrect(self, box, radius: float, fill=None, outline=None, width: int = 1) -> None:
        x0, y0, x1, y1 = box
        if not (x1 >= x0 and y1 >= y0):  # also false for NaN
            return
        r = radius if math.isfinite(radius) else 0
        r = int(max(0, min(r, (x1 - x0) / 2, (y1 - y0) / 2, self.big)))
        b = self._box(box, 2 * r + width + 2)  # clamped corners stay off the canvas
        if b is not None:
            self.draw.rounded_rectangle(b, radius=r, fill=fill, outline=outline, width=width)

    def ellipse(self, box, fill=None, outline=None, width: int = 1) -> None:
        x0, y0, x1, y1 = box
        if not (x1 >= x0 and y1 >= y0) or x1 - x0 > self.big or y1 - y0 > self.big:
            return
        if x1 < -width or y1 < -width or x0 > self.W + width or y0 > self.H + width:
            return
        self.draw.ellipse([x0, y0, x1, y1], fill=fill, outline=outline, width=width)

    def line(self, pts, fill, width: int = 1) -> None:
        p = self._points(pts)
        if p is not None and len(p) >= 4:
            self.draw.line(p, fill=fill, width=width)

    def polygon(self, pts: list[tuple[float, float]], fill) -> None:
        p = self._points([v for xy in pts for v in xy])
        if p is not None and len(p) >= 6:
            self.draw.polygon(p, fill=fill)

    def region(self, box):
        """Whole pixels of ``box`` (inclusive corners) on the canvas, as a crop box, or None."""
        b = self._box(box, 0)
        if b is None:
            return None
        r = (max(0, int(b[0])), max(0, int(b[1])), min(self.W, int(b[2]) + 1), min(self.H, int(b[3]) + 1))
        return r if r[2] > r[0] and r[3] > r[1] else None


def _px_rect(rect, s: float) -> tuple[int, int, int, int] | None:
    """A dp rectangle (x0, y0, x1, y1) as the screen pixels whose centres lie inside it, or None if empty.

    The same pixels input maps back inside the rectangle (pixel p is at dp (p + 0.5) / scale).
    """
    out = []
    for v in rect:
        v = v * s
        if math.isnan(v):
            return None
        out.append(math.ceil(max(-1e9, min(1e9, v)) - 0.5 - 1e-9))
    return (out[0], out[1], out[2], out[3]) if out[2] > out[0] and out[3] > out[1] else None


# ------------------------------------------------------------------ the scene

_SHADOWED = {"menu": 4.0, "dialog": 4.0, "window": 1.0}  # kinds painted a little outside their box (dp)


_BLEED = 16.0  # dp a node's paint may reach past its box (text taller than a thin box, shadows)


def _inside(n: Node, rect, pad: float = 0.0) -> bool:
    """Whether the node's own box (grown by ``pad``) lies in the dp rectangle ``rect``; False for NaN."""
    return (rect[0] <= n.x - pad and rect[1] <= n.y - pad and n.x + n.w + pad <= rect[2]
            and n.y + n.h + pad <= rect[3])


def _bounds(n: Node, clip, pad: float):
    """The dp box around ``n`` and its descendants under ``clip``, grown by ``pad``."""
    x0, y0, x1, y1 = n.x, n.y, n.x + n.w, n.y + n.h
    for ch in n.children:
        if ch.clip is None or ch.clip == clip:
            b = _bounds(ch, clip, 0.0)
            x0, y0, x1, y1 = min(x0, b[0]), min(y0, b[1]), max(x1, b[2]), max(y1, b[3])
    return x0 - pad, y0 - pad, x1 + pad, y1 + pad


def _intersect(a, b):
    """The overlap of two dp rectangles; ``a`` where ``b`` is not a number."""
    box = (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))
    return a if any(map(math.isnan, box)) else box


def _escapes(n: Node, rect, clip) -> bool:
    """Whether ``n`` or a descendant paints outside the dp rectangle ``rect``.

    Subtrees under a clip of their own (other than ``clip``, the one in force) are left out: their
    layer keeps them in. Not-a-number geometry counts as escaping.
    """
    if n.clip is not None and n.clip != clip:
        return False
    if not _inside(n, rect, _SHADOWED.get(n.kind, 0.0)):
        return True
    return any(_escapes(ch, rect, clip) for ch in n.children)


def render_scene(device, scene=None) -> Image.Image:
    """Render ``scene`` (default: the current one) at the device's pixel size, in the device's typeface."""
    token = _FACE.set(getattr(device.style, "typeface", "gothic"))
    try:
        return _render_scene(device, scene)
    finally:
        _FACE.reset(token)


def _render_scene(device, scene=None) -> Image.Image:
    theme = device.style.theme
    s = device.scale
    W, H = device.size
    img = Image.new("RGB", (device.frame().width, device.frame().height), theme.bg)
    fs = theme.font_scale * s
    rad = int(theme.radius * s)
    lw = max(1, int(s))  # hairline
    lw2 = max(1, int(2 * s))  # stroke

    def R(n: Node, c: _Canvas):
        """The node's own box in the canvas' pixels, inclusive corners (clipping is the layer's job)."""
        x0, y0 = n.x * s - c.ox, n.y * s - c.oy
        return [x0, y0, x0 + n.w * s - 1, y0 + n.h * s - 1]

    def text(c: _Canvas, box, label: str, color, size: float = 15, bold: bool = False, center: bool = False,
             dx: float = 10):
        if not label or box[3] - box[1] < 6:
            return
        px = max(6, int(size * fs))
        mid = (box[1] + box[3]) / 2
        if center:
            draw_text(c.draw, (box[0] + box[2]) / 2, mid, label, color, px, bold or theme.bold_font, "mm",
                      max_width=box[2] - box[0] - 4 * s)
        else:
            draw_text(c.draw, box[0] + dx * s, mid, label, color, px, bold or theme.bold_font, "lm",
                      max_width=box[2] - box[0] - dx * s - 2 * s)

    def list_item(c: _Canvas, n: Node, box) -> None:
        draw = c.draw
        if n.selected:
            c.rect(box, fill=_mix(theme.bg, theme.accent, 0.15))
        c.line([box[0] + 16 * s, box[3], box[2], box[3]], fill=theme.divider)
        mid = (box[1] + box[3]) / 2
        check = 40 * s if n.checked is not None else 0
        title_px, desc_px, value_px = max(6, int(15 * fs)), max(6, int(12 * fs)), max(6, int(13 * fs))
        room = box[2] - box[0] - 32 * s - check
        value_room = 0.0
        if n.value:
            # title and value share the row: each shows whole if both fit; else the value gets what the
            # title leaves, and at least a fair share (45%) of it
            room -= 4 * s  # the gap between them
            value_room = text_width(n.value, value_px, False, room)
            if value_room > 0.45 * room:
                title_w = max(text_width(n.name, title_px, theme.bold_font, room),
                              text_width(n.desc, desc_px, False, room))
                if value_room + title_w > room:
                    value_room = max(0.45 * room, room - title_w)
            room -= value_room
        if n.desc:
            top = box[1] + 8 * s
            draw_text(draw, box[0] + 16 * s, top + 9 * fs, n.name, theme.fg, title_px, theme.bold_font,
                      max_width=room)
            draw_text(draw, box[0] + 16 * s, top + 30 * fs, n.desc, theme.muted, desc_px, max_width=room)
        else:
            draw_text(draw, box[0] + 16 * s, mid, n.name, theme.fg, title_px, theme.bold_font, max_width=room)
        if n.value:
            draw_text(draw, box[2] - 12 * s - check, mid, n.value, theme.muted, value_px, anchor="rm",
                      max_width=value_room + 0.5)
        if n.checked is not None:
            c.rect([box[2] - 36 * s, mid - 9 * s, box[2] - 18 * s, mid + 9 * s], outline=theme.accent,
                   fill=theme.accent if n.checked else None)

    def paint_node(c: _Canvas, n: Node) -> None:
        box = R(n, c)
        if not all(map(math.isfinite, box)) or box[2] <= box[0] or box[3] <= box[1]:
            return
        k = n.kind
        draw = c.draw
        if k in ("page", "launcher"):
            c.rect(box, fill=theme.bg)
        elif k in ("header", "titlebar", "taskbar", "bottom_bar"):
            color = theme.accent if (k == "titlebar" and n.selected) else theme.surface
            c.rect(box, fill=color)
            c.line([box[0], box[3], box[2], box[3]], fill=theme.divider, width=lw)
        elif k in ("statusbar", "navbar"):
            c.rect(box, fill=_mix(theme.bg, theme.fg, 0.08))
        elif k == "window":
            c.rect([box[0] - 1, box[1] - 1, box[2] + 1, box[3] + 1], outline=theme.divider)
            c.rect(box, fill=theme.bg)
        elif k == "title":
            text(c, box, n.name, theme.fg, 19, bold=True, dx=4)
        elif k == "title_small":
            text(c, box, n.name, theme.on_accent if n.selected else theme.fg, 14, bold=True, dx=2)
        elif k in ("text", "caption", "status_text"):
            color = theme.muted if k == "caption" else theme.fg
            text(c, box, n.name, color, 12 if k != "text" else 15, dx=0 if k != "status_text" else 2)
        elif k == "text_big":
            text(c, box, n.name, theme.fg, 30, bold=True, dx=0)
        elif k == "section":
            text(c, box, n.name.upper() if n.name.isascii() else n.name, theme.accent, 13, bold=True, dx=0)
        elif k == "header_action":
            text(c, box, n.name, theme.accent if n.enabled else theme.muted, 15, bold=True, center=True)
        elif k == "button":
            fill = {1: theme.accent, 2: (211, 47, 47), 3: theme.surface}.get(n.emphasis, theme.surface)
            fg = theme.on_accent if n.emphasis in (1, 2) else theme.accent
            if not n.enabled:
                fill, fg = _mix(theme.bg, theme.muted, 0.3), theme.muted
            c.rrect(box, rad, fill=fill, outline=theme.divider if n.emphasis in (0, 3) else None)
            text(c, box, n.name or n.desc, fg, 15, bold=True, center=True)
        elif k in ("field", "field_multi", "dropdown"):
            outline = theme.accent if n.focused else theme.divider
            c.rrect(box, min(rad, 8), fill=theme.surface, outline=outline, width=lw2 if n.focused else lw)
            shown = ("•" * min(len(n.value), _MAX_CHARS) if n.password else n.value) or n.hint
            color = theme.fg if n.value else theme.muted
            if k == "dropdown":
                shown = n.value or n.hint or "Select…"
                c.polygon([(box[2] - 22 * s, box[1] + 18 * s), (box[2] - 10 * s, box[1] + 18 * s),
                           (box[2] - 16 * s, box[1] + 26 * s)], fill=theme.muted)
            text(c, box, shown + ("|" if n.focused else ""), color, 15)
        elif k == "switch":
            on = bool(n.checked)
            track = theme.accent if on else _mix(theme.bg, theme.muted, 0.5)
            c.rrect(box, 15 * s, fill=track)
            r = (box[3] - box[1]) / 2 - 3 * s
            if r > 0:
                cx = box[2] - r - 3 * s if on else box[0] + r + 3 * s
                cy = (box[1] + box[3]) / 2
                c.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(255, 255, 255))
        elif k in ("checkbox", "radio"):
            cy = (box[1] + box[3]) / 2
            b = [box[0] + 4 * s, cy - 10 * s, box[0] + 24 * s, cy + 10 * s]
            if k == "checkbox":
                c.rrect(b, 3 * s, outline=theme.accent, width=lw2, fill=theme.accent if n.checked else None)
                if n.checked:
                    c.line([b[0] + 4 * s, cy, b[0] + 9 * s, cy + 5 * s, b[2] - 4 * s, cy - 6 * s],
                           fill=theme.on_accent, width=lw2)
            else:
                c.ellipse(b, outline=theme.accent, width=lw2)
                if n.checked:
                    c.ellipse([b[0] + 5 * s, b[1] + 5 * s, b[2] - 5 * s, b[3] - 5 * s], fill=theme.accent)
            text(c, box, n.name, theme.fg, 15, dx=34)
        elif k == "slider":
            cy = (box[1] + box[3]) / 2
            frac = n.fraction if isinstance(n.fraction, (int, float)) and math.isfinite(n.fraction) else 0.0
            frac = min(1.0, max(0.0, frac))
            c.line([box[0], cy, box[2], cy], fill=_mix(theme.bg, theme.muted, 0.5), width=max(2, int(4 * s)))
            px = box[0] + frac * (box[2] - box[0])
            c.line([box[0], cy, px, cy], fill=theme.accent, width=max(2, int(4 * s)))
            c.ellipse([px - 9 * s, cy - 9 * s, px + 9 * s, cy + 9 * s], fill=theme.accent)
            if n.focused:
                c.ellipse([px - 13 * s, cy - 13 * s, px + 13 * s, cy + 13 * s], outline=theme.accent)
        elif k == "list_item":
            list_item(c, n, box)
        elif k == "tab":
            if n.selected:
                c.rect([box[0], box[3] - 3 * s, box[2], box[3]], fill=theme.accent)
            text(c, box, n.name, theme.accent if n.selected else theme.muted, 14, bold=n.selected, center=True)
        elif k in ("menu", "dialog"):
            c.rrect([box[0] + 3 * s, box[1] + 3 * s, box[2] + 3 * s, box[3] + 3 * s], rad,
                    fill=_mix(theme.bg, (0, 0, 0), 0.35))
            c.rrect(box, rad, fill=theme.surface, outline=theme.divider)
        elif k == "menu_item":
            text(c, box, n.name, theme.fg, 15, dx=16)
        elif k == "scrim":
            region = c.region(box)
            if region is not None:
                size = (region[2] - region[0], region[3] - region[1])
                c.img.paste(Image.blend(c.img.crop(region), Image.new("RGB", size), 0.4), region[:2])
        elif k in ("app_icon", "desk_icon"):
            app = device.apps.get(n.rid)
            color = app.icon if app else theme.accent
            size = min(n.w, n.h - 26) * s
            cx = (box[0] + box[2]) / 2
            if n.selected:
                c.rect(box, fill=_mix(theme.bg, theme.accent, 0.2))
            if size >= 1:
                top = box[1] + 4 * s
                c.rrect([cx - size / 2, top, cx + size / 2, top + size], size / 4, fill=color)
                letter = _clean(n.name[:1]) or "?"
                if -size < cx < c.W + size and -size < top < c.H + size:
                    draw.text((cx, top + size / 2), letter, fill=(255, 255, 255),
                              font=font(max(6, min(int(size / 2), _MAX_FONT_PX)), True), anchor="mm")
            draw_text(draw, cx, box[3] - 8 * s, n.name, theme.fg, max(6, int(11 * fs)), anchor="mm",
                      max_width=box[2] - box[0])
        elif k == "fab":
            c.ellipse(box, fill=theme.accent)
            text(c, box, "+", theme.on_accent, 26, bold=True, center=True)
        elif k in ("icon_back", "nav_back"):
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            c.line([cx + 6 * s, cy - 8 * s, cx - 4 * s, cy, cx + 6 * s, cy + 8 * s], fill=theme.fg, width=lw2)
        elif k == "nav_home":
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            c.ellipse([cx - 9 * s, cy - 9 * s, cx + 9 * s, cy + 9 * s], outline=theme.fg, width=lw2)
        elif k == "nav_recents":
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            c.rect([cx - 8 * s, cy - 8 * s, cx + 8 * s, cy + 8 * s], outline=theme.fg, width=lw2)
        elif k in ("icon_close", "win_close"):
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            d = 6 * s
            c.line([cx - d, cy - d, cx + d, cy + d], fill=theme.fg, width=lw2)
            c.line([cx - d, cy + d, cx + d, cy - d], fill=theme.fg, width=lw2)
        elif k == "win_min":
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            c.line([cx - 6 * s, cy + 4 * s, cx + 6 * s, cy + 4 * s], fill=theme.fg, width=lw2)
        elif k == "card":
            c.rrect(box, rad, fill=theme.surface, outline=theme.divider)
            if n.name and n.role.value == "list_item":
                text(c, box, n.name, theme.fg, 16, bold=True)
        elif k == "image":
            c.rrect(box, rad, fill=_mix(theme.accent, theme.bg, 0.6))
            c.polygon([(box[0] + 20 * s, box[3] - 10 * s), ((box[0] + box[2]) / 2, box[1] + 20 * s),
                       (box[2] - 20 * s, box[3] - 10 * s)], fill=_mix(theme.accent, theme.bg, 0.3))
        elif k in ("battery", "wifi_icon"):
            c.rect([box[0] + 4 * s, box[1] + 4 * s, box[2] - 4 * s, box[3] - 4 * s], outline=theme.fg)

    def in_layer(c: _Canvas, rect, paint) -> None:
        """Run ``paint`` on a layer that shows only through the dp rectangle ``rect``."""
        px = _px_rect(rect, s)
        if px is None:
            return
        x0, y0 = max(px[0], c.ox), max(px[1], c.oy)
        x1, y1 = min(px[2], c.ox + c.W), min(px[3], c.oy + c.H)
        if x1 <= x0 or y1 <= y0:
            return  # the clip shows nothing of this canvas
        region = (x0 - c.ox, y0 - c.oy, x1 - c.ox, y1 - c.oy)
        layer = _Canvas(c.img.crop(region), x0, y0)
        paint(layer)
        c.img.paste(layer.img, region[:2])

    def paint_clipped(c: _Canvas, n: Node, clip) -> None:
        """Paint ``n`` under the dp rectangle ``clip``, with layers only around what crosses its edge."""
        if not _escapes(n, clip, clip):
            paint(c, n, clip)  # wholly inside: nothing to cut
        elif not n.children or not _inside(n, clip):
            # a row half scrolled out: painted on a layer the size of the row (not of the whole viewport)
            in_layer(c, _intersect(clip, _bounds(n, clip, _BLEED)), lambda layer: paint(layer, n, clip))
        else:  # the body itself: inside its clip, but some children cross the edge
            paint(c, n, clip, children=False)
            for ch in n.children:
                paint_clipped(c, ch, clip)

    def paint(c: _Canvas, n: Node, clip, children: bool = True) -> None:
        if n.clip is not None and n.clip != clip:
            paint_clipped(c, n, n.clip)
            return
        try:
            paint_node(c, n)
        except Exception:
            if STRICT:
                raise
            # a node that cannot be drawn is left out rather than losing the whole screenshot
        if not (children and n.children):
            return
        frame = (n.x, n.y, n.x + n.w, n.y + n.h)
        if n.kind == "window" and any(_escapes(ch, frame, clip) for ch in n.children):
            # a window's content never spills out of its frame
            in_layer(c, frame, lambda layer: [paint(layer, ch, clip) for ch in n.children])
        else:
            for ch in n.children:
                paint(c, ch, clip)

    screen = _Canvas(img)
    for root in (scene if scene is not None else device.scene()):
        paint(screen, root, None)
    return img
