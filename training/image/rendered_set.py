"""The rendered-digit robustness set: ``python -m training.image.rendered_set [OUT_DIR]``.

80 image files (digits 0-9 × 8 canvas sizes from 28 to 1024 px), both polarities,
off-centre, some rotated, some in colour, PNG and JPEG, plus ``index.csv``. Font digits
come from fonts held out of training (``glyphs.HELD_OUT_FONTS``, when the machine has
them) and Pillow's built-in font; pen-stroke digits use their own seed and pen widths.
None of it reuses the training generator's seeds. The committed copy lives in
``tests/images/rendered_digits/``; regenerate it only on purpose (it changes the test set).
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from training.image.glyphs import (
    BUILTIN_FONT,
    FontChoice,
    available_fonts,
    render_font_digit,
    render_stroke_digit,
)

SEED = 917_2024
SIZES = (28, 40, 64, 128, 256, 512, 768, 1024)
# The committed set, in the checkout this code runs from (the CLI names its project's copy).
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "tests" / "images" / "rendered_digits"
INDEX = "index.csv"
COLUMNS = ("file", "label", "size", "polarity", "source", "font", "format")


def generate(out_dir: Path = DEFAULT_DIR) -> list[dict[str, str]]:
    """Write the set and its index to ``out_dir``; returns the index rows."""
    rng = np.random.default_rng(SEED)
    fonts = [*available_fonts(held_out=True), FontChoice(BUILTIN_FONT, None)]
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, str]] = []
    for digit in range(10):
        for k, size in enumerate(SIZES):
            dark_on_light = (digit + k) % 2 == 1
            from_font = (k // 2 + digit) % 2 == 0
            glyph, font = _glyph(digit, size, from_font, fonts, rng)
            colour = (digit * len(SIZES) + k) % 5 == 4
            image = _compose(glyph, size, dark_on_light, colour, rng)
            fmt = "JPEG" if (digit * len(SIZES) + k) % 4 == 3 else "PNG"
            polarity = "dark_on_light" if dark_on_light else "light_on_dark"
            source = "font" if from_font else "stroke"
            name = f"d{digit}_{size:04d}px_{polarity}_{source}.{fmt.lower().replace('jpeg', 'jpg')}"
            (out_dir / name).write_bytes(_encode(image, fmt))
            rows.append({"file": name, "label": str(digit), "size": str(size),
                         "polarity": polarity, "source": source, "font": font, "format": fmt})
    with (out_dir / INDEX).open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return rows


def _glyph(digit: int, size: int, from_font: bool, fonts: list[FontChoice],
           rng: np.random.Generator) -> tuple[Image.Image, str]:
    # Digit height on the canvas: most of a small canvas, 20-65% of a large one.
    low, high = (0.55, 0.8) if size <= 40 else (0.2, 0.65)
    height = max(12, round(size * float(rng.uniform(low, high))))
    if from_font:
        font = fonts[int(rng.integers(0, len(fonts)))]
        glyph = render_font_digit(digit, font, height, bold=int(rng.integers(0, 2)))
        return _fit_height(glyph, height), font.name
    glyph = render_stroke_digit(digit, rng, height,
                                width_fraction=float(rng.uniform(0.05, 0.14)),
                                slant=float(rng.uniform(-0.2, 0.2)), wobble=0.006)
    return glyph, "strokes"


def _fit_height(glyph: Image.Image, height: int) -> Image.Image:
    box = glyph.getbbox() or (0, 0, *glyph.size)
    glyph = glyph.crop(box)
    scale = height / glyph.height
    return glyph.resize((max(1, round(glyph.width * scale)), height), Image.Resampling.LANCZOS)


def _compose(glyph: Image.Image, size: int, dark_on_light: bool, colour: bool,
             rng: np.random.Generator) -> Image.Image:
    """Place the glyph off-centre on a ``size``×``size`` canvas, maybe rotated, in some colours."""
    glyph = glyph.rotate(float(rng.uniform(-8, 8)), resample=Image.Resampling.BICUBIC,
                         expand=True, fillcolor=0)
    if max(glyph.size) > size - 2:
        glyph.thumbnail((size - 2, size - 2), Image.Resampling.LANCZOS)
    mask = np.zeros((size, size), dtype=np.float32)
    x = int(rng.integers(0, size - glyph.width + 1))
    y = int(rng.integers(0, size - glyph.height + 1))
    mask[y:y + glyph.height, x:x + glyph.width] = np.asarray(glyph, dtype=np.float32) / 255.0
    if dark_on_light:
        paper = np.array([rng.uniform(200, 250)] * 3) if not colour else np.array(
            [rng.uniform(225, 250), rng.uniform(220, 245), rng.uniform(190, 225)])
        ink = np.array([rng.uniform(0, 60)] * 3) if not colour else np.array(
            [rng.uniform(10, 40), rng.uniform(20, 60), rng.uniform(90, 150)])
    else:
        paper = np.array([rng.uniform(0, 40)] * 3) if not colour else np.array(
            [rng.uniform(10, 30), rng.uniform(40, 70), rng.uniform(30, 50)])
        ink = np.array([rng.uniform(200, 255)] * 3) if not colour else np.array(
            [rng.uniform(220, 255), rng.uniform(220, 255), rng.uniform(150, 200)])
    pixels = paper + (ink - paper) * mask[..., np.newaxis]
    rgb = Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8))
    return rgb if colour else rgb.convert("L")


def _encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    if fmt == "JPEG":
        image.save(buffer, format="JPEG", quality=88)
    else:
        image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out_dir = Path(args[0]) if args else DEFAULT_DIR
    rows = generate(out_dir)
    total = sum((out_dir / row["file"]).stat().st_size for row in rows)
    print(f"wrote {len(rows)} images ({total / 1024:.0f} KiB) and {INDEX} to {out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
