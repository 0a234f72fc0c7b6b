"""Pillow rendering of the sim scene: real pixels for screenshot-reading models."""
from __future__ import annotations

import functools
import glob
import os

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


def _first_existing(paths: list[str]) -> str | None:
    env = os.environ.get("HANDA_FONT")
    if env and os.path.exists(env):
        return env
    for p in paths:
        if os.path.exists(p):
            return p
    found = glob.glob("/usr/share/fonts/**/*Nanum*Gothic*.ttf", recursive=True)
    return found[0] if found else None


@functools.lru_cache(maxsize=64)
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
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


def draw_text(draw: ImageDraw.ImageDraw, x: float, y: float, text: str, fill, size: int, bold: bool = False,
              anchor: str = "lm", max_width: float | None = None) -> None:
    """Draw one line with per-glyph font fallback, cut with an ellipsis to ``max_width``.

    ``anchor`` is "lm" (x is the left edge), "mm" (x is the centre) or "rm" (x is the right edge); y is the middle.
    """
    text = " ".join(text.split("\n"))  # one line: a multi-line value shows as a single line
    runs = _runs(text, size, bold)
    widths = [f.getlength(t) for t, f in runs]
    if max_width is not None and sum(widths) > max_width:
        ell = font(size, bold).getlength("…")
        kept, total = [], 0.0
        for (t, f), w in zip(runs, widths):
            if total + w <= max_width - ell:
                kept.append((t, f))
                total += w
                continue
            while t and total + f.getlength(t) > max_width - ell:
                t = t[:-1]
            if t:
                kept.append((t, f))
            break
        runs = kept + [("…", font(size, bold))]
        widths = [f.getlength(t) for t, f in runs]
    total = sum(widths)
    left = x if anchor == "lm" else (x - total / 2 if anchor == "mm" else x - total)
    for (t, f), w in zip(runs, widths):
        draw.text((left, y), t, fill=fill, font=f, anchor="lm")
        left += w


def _mix(a, b, t: float):
    return tuple(int(a[i] * (1 - t) + b[i] * t) for i in range(3))


def render_scene(device, scene=None) -> Image.Image:
    """Render ``scene`` (default: the current one) at the device's pixel size."""
    theme = device.style.theme
    s = device.scale
    W, H = device.size
    img = Image.new("RGB", (int(W * s), int(H * s)), theme.bg)
    draw = ImageDraw.Draw(img)
    fs = theme.font_scale * s

    def R(n: Node):
        x0, y0, x1, y1 = n.x, n.y, n.x + n.w, n.y + n.h
        if n.clip is not None:
            x0, y0, x1, y1 = max(x0, n.clip[0]), max(y0, n.clip[1]), min(x1, n.clip[2]), min(y1, n.clip[3])
        return [x0 * s, y0 * s, max(x0, x1) * s - 1, max(y0, y1) * s - 1]

    def text(n: Node, label: str, color, size: float = 15, bold: bool = False, center: bool = False, dx: float = 10):
        if not label:
            return
        box = R(n)
        if box[3] - box[1] < 6:
            return
        px = max(6, int(size * fs))
        mid = (box[1] + box[3]) / 2
        if center:
            draw_text(draw, (box[0] + box[2]) / 2, mid, label, color, px, bold or theme.bold_font, "mm",
                      max_width=box[2] - box[0] - 4 * s)
        else:
            draw_text(draw, box[0] + dx * s, mid, label, color, px, bold or theme.bold_font, "lm",
                      max_width=box[2] - box[0] - dx * s - 2 * s)

    rad = int(theme.radius * s)
    for root in (scene if scene is not None else device.scene()):
        for n in root.walk():
            k = n.kind
            box = R(n)
            if box[2] <= box[0] or box[3] <= box[1]:
                continue
            if k in ("page", "launcher"):
                draw.rectangle(box, fill=theme.bg)
            elif k in ("header", "titlebar", "taskbar", "bottom_bar"):
                color = theme.accent if (k == "titlebar" and n.selected) else theme.surface
                draw.rectangle(box, fill=color)
                draw.line([box[0], box[3], box[2], box[3]], fill=theme.divider, width=max(1, int(s)))
            elif k in ("statusbar", "navbar"):
                draw.rectangle(box, fill=_mix(theme.bg, theme.fg, 0.08))
            elif k == "window":
                draw.rectangle([box[0] - 1, box[1] - 1, box[2] + 1, box[3] + 1], outline=theme.divider)
                draw.rectangle(box, fill=theme.bg)
            elif k == "title":
                text(n, n.name, theme.fg, 19, bold=True, dx=4)
            elif k == "title_small":
                text(n, n.name, theme.on_accent if n.selected else theme.fg, 14, bold=True, dx=2)
            elif k in ("text", "caption", "status_text"):
                color = theme.muted if k == "caption" else theme.fg
                text(n, n.name, color, 12 if k != "text" else 15, dx=0 if k != "status_text" else 2)
            elif k == "text_big":
                text(n, n.name, theme.fg, 30, bold=True, dx=0)
            elif k == "section":
                text(n, n.name.upper() if n.name.isascii() else n.name, theme.accent, 13, bold=True, dx=0)
            elif k in ("button", "header_action"):
                if k == "header_action":
                    text(n, n.name, theme.accent if n.enabled else theme.muted, 15, bold=True, center=True)
                    continue
                fill = {1: theme.accent, 2: (211, 47, 47), 3: theme.surface}.get(n.emphasis, theme.surface)
                fg = theme.on_accent if n.emphasis in (1, 2) else theme.accent
                if not n.enabled:
                    fill, fg = _mix(theme.bg, theme.muted, 0.3), theme.muted
                draw.rounded_rectangle(box, radius=rad, fill=fill, outline=theme.divider if n.emphasis in (0, 3) else None)
                text(n, n.name or n.desc, fg, 15, bold=True, center=True)
            elif k in ("field", "field_multi", "dropdown"):
                outline = theme.accent if n.focused else theme.divider
                draw.rounded_rectangle(box, radius=min(rad, 8), fill=theme.surface, outline=outline,
                                       width=max(1, int(2 * s if n.focused else s)))
                shown = ("•" * len(n.value) if n.password else n.value) or n.hint
                color = theme.fg if n.value else theme.muted
                if k == "dropdown":
                    shown = n.value or n.hint or "Select…"
                    draw.polygon([(box[2] - 22 * s, box[1] + 18 * s), (box[2] - 10 * s, box[1] + 18 * s),
                                  (box[2] - 16 * s, box[1] + 26 * s)], fill=theme.muted)
                text(n, shown + ("|" if n.focused else ""), color, 15)
            elif k == "switch":
                on = bool(n.checked)
                track = theme.accent if on else _mix(theme.bg, theme.muted, 0.5)
                draw.rounded_rectangle(box, radius=int(15 * s), fill=track)
                r = (box[3] - box[1]) / 2 - 3 * s
                cx = box[2] - r - 3 * s if on else box[0] + r + 3 * s
                cy = (box[1] + box[3]) / 2
                draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(255, 255, 255))
            elif k in ("checkbox", "radio"):
                cy = (box[1] + box[3]) / 2
                b = [box[0] + 4 * s, cy - 10 * s, box[0] + 24 * s, cy + 10 * s]
                if k == "checkbox":
                    draw.rounded_rectangle(b, radius=int(3 * s), outline=theme.accent, width=max(1, int(2 * s)),
                                           fill=theme.accent if n.checked else None)
                    if n.checked:
                        draw.line([b[0] + 4 * s, cy, b[0] + 9 * s, cy + 5 * s, b[2] - 4 * s, cy - 6 * s],
                                  fill=theme.on_accent, width=max(1, int(2 * s)))
                else:
                    draw.ellipse(b, outline=theme.accent, width=max(1, int(2 * s)))
                    if n.checked:
                        draw.ellipse([b[0] + 5 * s, b[1] + 5 * s, b[2] - 5 * s, b[3] - 5 * s], fill=theme.accent)
                text(n, n.name, theme.fg, 15, dx=34)
            elif k == "slider":
                cy = (box[1] + box[3]) / 2
                draw.line([box[0], cy, box[2], cy], fill=_mix(theme.bg, theme.muted, 0.5), width=max(2, int(4 * s)))
                px = box[0] + n.fraction * (box[2] - box[0])
                draw.line([box[0], cy, px, cy], fill=theme.accent, width=max(2, int(4 * s)))
                draw.ellipse([px - 9 * s, cy - 9 * s, px + 9 * s, cy + 9 * s], fill=theme.accent)
                if n.focused:
                    draw.ellipse([px - 13 * s, cy - 13 * s, px + 13 * s, cy + 13 * s], outline=theme.accent)
            elif k == "list_item":
                if n.selected:
                    draw.rectangle(box, fill=_mix(theme.bg, theme.accent, 0.15))
                draw.line([box[0] + 16 * s, box[3], box[2], box[3]], fill=theme.divider)
                room = box[2] - box[0] - 32 * s - (90 * s if n.value else 0) - (40 * s if n.checked is not None else 0)
                if n.desc:
                    top = box[1] + 8 * s
                    draw_text(draw, box[0] + 16 * s, top + 9 * fs, n.name, theme.fg, max(6, int(15 * fs)),
                              theme.bold_font, max_width=room)
                    draw_text(draw, box[0] + 16 * s, top + 30 * fs, n.desc, theme.muted, max(6, int(12 * fs)),
                              max_width=room)
                else:
                    draw_text(draw, box[0] + 16 * s, (box[1] + box[3]) / 2, n.name, theme.fg, max(6, int(15 * fs)),
                              theme.bold_font, max_width=room)
                if n.value:
                    draw_text(draw, box[2] - 12 * s - (40 * s if n.checked is not None else 0), (box[1] + box[3]) / 2,
                              n.value, theme.muted, max(6, int(13 * fs)), anchor="rm", max_width=86 * s)
                if n.checked is not None:
                    b = [box[2] - 36 * s, (box[1] + box[3]) / 2 - 9 * s, box[2] - 18 * s, (box[1] + box[3]) / 2 + 9 * s]
                    draw.rectangle(b, outline=theme.accent, fill=theme.accent if n.checked else None)
            elif k in ("tab",):
                if n.selected:
                    draw.rectangle([box[0], box[3] - 3 * s, box[2], box[3]], fill=theme.accent)
                text(n, n.name, theme.accent if n.selected else theme.muted, 14, bold=n.selected, center=True)
            elif k in ("menu", "dialog"):
                draw.rounded_rectangle([box[0] + 3 * s, box[1] + 3 * s, box[2] + 3 * s, box[3] + 3 * s], radius=rad,
                                       fill=_mix(theme.bg, (0, 0, 0), 0.35))
                draw.rounded_rectangle(box, radius=rad, fill=theme.surface, outline=theme.divider)
            elif k == "menu_item":
                text(n, n.name, theme.fg, 15, dx=16)
            elif k == "scrim":
                region = (int(box[0]), int(box[1]), int(box[2]) + 1, int(box[3]) + 1)
                dimmed = Image.blend(img.crop(region), Image.new("RGB", (region[2] - region[0], region[3] - region[1])), 0.4)
                img.paste(dimmed, region[:2])
            elif k in ("app_icon", "desk_icon"):
                app = device.apps.get(n.rid)
                color = app.icon if app else theme.accent
                size = min(n.w, n.h - 26) * s
                cx = (box[0] + box[2]) / 2
                if n.selected:
                    draw.rectangle(box, fill=_mix(theme.bg, theme.accent, 0.2))
                draw.rounded_rectangle([cx - size / 2, box[1] + 4 * s, cx + size / 2, box[1] + 4 * s + size],
                                       radius=int(size / 4), fill=color)
                draw.text((cx, box[1] + 4 * s + size / 2), (n.name[:1] or "?"), fill=(255, 255, 255),
                          font=font(max(6, int(size / 2)), True), anchor="mm")
                draw_text(draw, cx, box[3] - 8 * s, n.name, theme.fg, max(6, int(11 * fs)), anchor="mm",
                          max_width=box[2] - box[0])
            elif k == "fab":
                draw.ellipse(box, fill=theme.accent)
                text(n, "+", theme.on_accent, 26, bold=True, center=True)
            elif k in ("icon_back", "nav_back"):
                cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
                draw.line([cx + 6 * s, cy - 8 * s, cx - 4 * s, cy, cx + 6 * s, cy + 8 * s], fill=theme.fg,
                          width=max(1, int(2 * s)))
            elif k == "nav_home":
                cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
                draw.ellipse([cx - 9 * s, cy - 9 * s, cx + 9 * s, cy + 9 * s], outline=theme.fg, width=max(1, int(2 * s)))
            elif k == "nav_recents":
                cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
                draw.rectangle([cx - 8 * s, cy - 8 * s, cx + 8 * s, cy + 8 * s], outline=theme.fg, width=max(1, int(2 * s)))
            elif k in ("icon_close", "win_close"):
                cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
                d = 6 * s
                draw.line([cx - d, cy - d, cx + d, cy + d], fill=theme.fg, width=max(1, int(2 * s)))
                draw.line([cx - d, cy + d, cx + d, cy - d], fill=theme.fg, width=max(1, int(2 * s)))
            elif k == "win_min":
                cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
                draw.line([cx - 6 * s, cy + 4 * s, cx + 6 * s, cy + 4 * s], fill=theme.fg, width=max(1, int(2 * s)))
            elif k == "card":
                draw.rounded_rectangle(box, radius=rad, fill=theme.surface, outline=theme.divider)
                if n.name and n.role.value == "list_item":
                    text(n, n.name, theme.fg, 16, bold=True)
            elif k == "image":
                draw.rounded_rectangle(box, radius=rad, fill=_mix(theme.accent, theme.bg, 0.6))
                draw.polygon([(box[0] + 20 * s, box[3] - 10 * s), ((box[0] + box[2]) / 2, box[1] + 20 * s),
                              (box[2] - 20 * s, box[3] - 10 * s)], fill=_mix(theme.accent, theme.bg, 0.3))
            elif k in ("battery", "wifi_icon"):
                draw.rectangle([box[0] + 4 * s, box[1] + 4 * s, box[2] - 4 * s, box[3] - 4 * s], outline=theme.fg)
    return img
