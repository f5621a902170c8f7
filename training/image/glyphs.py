"""Synthetic digits: glyphs rendered from fonts, and digits drawn as pen strokes.

Both return light ink on a black "L" canvas, tightly framed; ``augment`` adds the variation
real inputs have. The built-in Pillow font always exists; DejaVu fonts are used when the
machine has them (``available_fonts``), and a few of them are held out of training so the
rendered-digit robustness set can test fonts the model never saw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

Point = tuple[float, float]
Stroke = list[Point]

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/TTF"),
             Path("/usr/share/fonts/dejavu"))
BUILTIN_FONT = "builtin"
# Never used for training: the robustness set draws its font digits from these.
HELD_OUT_FONTS = ("DejaVuSerifCondensed-BoldItalic", "DejaVuSansMono-BoldOblique",
                  "DejaVuMathTeXGyre")


@dataclass(frozen=True)
class FontChoice:
    name: str
    path: Path | None  # None: Pillow's built-in font


def available_fonts(*, held_out: bool = False) -> list[FontChoice]:
    """The built-in font plus every DejaVu font found; ``held_out`` picks the held-out ones."""
    found: dict[str, Path] = {}
    for folder in FONT_DIRS:
        if folder.is_dir():
            for path in sorted(folder.glob("DejaVu*.ttf")):
                found.setdefault(path.stem, path)
    if held_out:
        return [FontChoice(name, found[name]) for name in HELD_OUT_FONTS if name in found]
    fonts = [FontChoice(BUILTIN_FONT, None)]
    fonts += [FontChoice(name, path) for name, path in sorted(found.items())
              if name not in HELD_OUT_FONTS]
    return fonts


def load_font(choice: FontChoice, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if choice.path is None:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(str(choice.path), size=size)


def render_font_digit(digit: int, font: FontChoice, size: int, *,
                      bold: int = 0) -> Image.Image:
    """``digit`` in ``font`` at ``size`` px, white on black, a few pixels of margin."""
    face = load_font(font, size)
    text = str(digit)
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    box = probe.textbbox((0, 0), text, font=face, stroke_width=bold)
    left, top, right, bottom = (math.floor(box[0]), math.floor(box[1]), math.ceil(box[2]),
                                math.ceil(box[3]))
    margin = max(2, size // 8)
    canvas = Image.new("L", (right - left + 2 * margin, bottom - top + 2 * margin), 0)
    ImageDraw.Draw(canvas).text((margin - left, margin - top), text, fill=255, font=face,
                                stroke_width=bold, stroke_fill=255)
    if font.path is None and size > 24 and max(canvas.size) < size // 2:
        # No FreeType: the built-in bitmap font ignores size; scale it up instead.
        factor = size / max(1, bottom - top)
        canvas = canvas.resize((round(canvas.width * factor), round(canvas.height * factor)),
                               Image.Resampling.BICUBIC)
    return canvas


# -- pen-stroke digits ---------------------------------------------------------------------
def _arc(cx: float, cy: float, rx: float, ry: float, start: float, stop: float,
         steps: int = 24) -> Stroke:
    """Points on an ellipse, angles in degrees, y pointing down (90° is the bottom)."""
    angles = np.linspace(math.radians(start), math.radians(stop), steps)
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]


def _line(*points: Point) -> Stroke:
    return list(points)


def digit_strokes(digit: int, rng: np.random.Generator) -> list[Stroke]:
    """One hand-drawn-looking variant of ``digit`` as polylines in a unit box (y down)."""
    def j(scale: float = 0.04) -> float:  # a little jitter: no two digits drawn alike
        return float(rng.normal(0.0, scale))

    variant = int(rng.integers(0, 3))
    if digit == 0:
        start = float(rng.uniform(-120, -60))
        return [_arc(0.5 + j(), 0.5, 0.27 + j(), 0.48, start, start + 360 + rng.uniform(0, 25))]
    if digit == 1:
        stem = _line((0.5 + j(), 0.0), (0.5 + j(), 1.0))
        strokes = [stem]
        if variant >= 1:
            strokes.append(_line((0.3 + j(), 0.22 + j()), stem[0]))
        if variant == 2:
            strokes.append(_line((0.3 + j(), 1.0), (0.7 + j(), 1.0)))
        return strokes
    if digit == 2:
        top = _arc(0.5, 0.28 + j(), 0.27 + j(), 0.27, 195 + j(8), 390 + j(8))
        foot = (0.2 + j(), 1.0)
        return [[*top, foot, (0.82 + j(), 1.0 + j(0.02))]]
    if digit == 3:
        upper = _arc(0.48, 0.26, 0.25 + j(), 0.25, 205 + j(8), 450)
        lower = _arc(0.48, 0.74, 0.29 + j(), 0.26, 270, 505 + j(8))
        return [upper + lower]
    if digit == 4:
        if variant == 0:  # closed top
            x = 0.66 + j()
            return [_line((x, 1.0), (x, 0.0), (0.16 + j(), 0.68), (0.86 + j(), 0.68))]
        y = 0.62 + j()
        return [_line((0.26 + j(), 0.0), (0.2, y), (0.84 + j(), y)),
                _line((0.66 + j(), 0.25 + j()), (0.66 + j(), 1.0))]
    if digit == 5:
        bowl = _arc(0.5, 0.69, 0.29 + j(), 0.31, 215, 500 + j(8))
        return [[(0.78 + j(), 0.0), (0.3 + j(), 0.02), *bowl]]
    if digit == 6:
        sweep = _arc(0.76 + j(), 0.62, 0.5, 0.6, 262, 180)
        loop = _arc(0.5, 0.73, 0.26 + j(), 0.26 + j(), 180, 540)
        return [sweep + loop]
    if digit == 7:
        strokes = [_line((0.18 + j(), 0.0), (0.82 + j(), 0.0), (0.38 + j(0.08), 1.0))]
        if variant == 2:
            strokes.append(_line((0.36 + j(), 0.52), (0.76 + j(), 0.5)))
        return strokes
    if digit == 8:
        return [_arc(0.5, 0.26, 0.22 + j(), 0.24, 0, 360),
                _arc(0.5 + j(), 0.74, 0.27 + j(), 0.26, 270, 630)]
    if digit == 9:
        loop = _arc(0.48, 0.28, 0.27 + j(), 0.27, 0, 360)
        stem_top = (0.75, 0.28)
        if variant == 0:
            return [loop, _arc(0.15, 0.28, 0.6, 0.72, 0, 88)]
        return [loop, _line(stem_top, (0.7 + j(0.06), 1.0))]
    raise ValueError(f"no strokes for {digit!r}")


def render_stroke_digit(digit: int, rng: np.random.Generator, height: int, *,
                        width_fraction: float, slant: float = 0.0,
                        wobble: float = 0.01) -> Image.Image:
    """Draw ``digit`` with a round pen ``width_fraction`` of its height, antialiased (4×)."""
    strokes = digit_strokes(digit, rng)
    aspect = float(rng.uniform(0.55, 0.8))
    supersample = 4
    scale = height * supersample
    pen = max(1, round(width_fraction * scale))
    placed: list[list[Point]] = []
    for stroke in strokes:
        points = []
        for x, y in stroke:
            x = (x - 0.5) * aspect + slant * (0.5 - y) + float(rng.normal(0.0, wobble))
            y = y + float(rng.normal(0.0, wobble))
            points.append((x * scale, y * scale))
        placed.append(points)
    xs = [x for points in placed for x, _ in points]
    ys = [y for points in placed for _, y in points]
    margin = pen + 2
    left, top = min(xs) - margin, min(ys) - margin
    size = (math.ceil(max(xs) - left) + margin, math.ceil(max(ys) - top) + margin)
    canvas = Image.new("L", size, 0)
    draw = ImageDraw.Draw(canvas)
    radius = pen / 2
    for points in placed:
        shifted = [(x - left, y - top) for x, y in points]
        draw.line(shifted, fill=255, width=pen, joint="curve")
        for px, py in (shifted[0], shifted[-1]):
            draw.ellipse((px - radius, py - radius, px + radius, py + radius), fill=255)
    return canvas.resize((max(1, size[0] // supersample), max(1, size[1] // supersample)),
                         Image.Resampling.LANCZOS, reducing_gap=2.0)
