"""Seeded augmentation: turn a clean light-on-dark glyph into what real requests look like.

Real inputs differ in position (off-centre), scale, a few degrees of rotation, stroke width,
contrast and brightness, polarity (pen on paper is dark on light), blur, noise, resolution
and JPEG artefacts. Every augmented image then goes through ``prepare_image`` exactly like a
request, so the model learns what survives preprocessing, not what precedes it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFilter


@dataclass(frozen=True)
class AugmentConfig:
    # geometry
    max_rotation: float = 12.0       # degrees, either way
    max_shear: float = 0.15          # horizontal shear (slant), either way
    canvas_scale: tuple[float, float] = (1.2, 4.0)  # canvas side / glyph side
    # strokes
    p_thicker: float = 0.2           # MaxFilter(3): fatter strokes
    p_thinner: float = 0.15          # MinFilter(3): thinner strokes (only if ink survives)
    # photometry
    p_invert: float = 0.5            # dark ink on light paper
    ink_level: tuple[int, int] = (110, 255)
    background_level: tuple[int, int] = (0, 90)
    p_gradient: float = 0.2          # uneven lighting across the page
    p_blur: float = 0.25
    max_blur: float = 1.2
    p_noise: float = 0.25
    max_noise: float = 12.0          # grey levels, standard deviation
    p_low_resolution: float = 0.15   # down to 8..20 px and back up
    p_jpeg: float = 0.2
    jpeg_quality: tuple[int, int] = (25, 90)


def augment(glyph: Image.Image, rng: np.random.Generator,
            config: AugmentConfig = AugmentConfig()) -> Image.Image:
    """One random variation of ``glyph`` (light ink on black, "L"); returns an "L" image."""
    image = _geometry(glyph, rng, config)
    image = _stroke_width(image, rng, config)
    if rng.random() < config.p_low_resolution:
        image = _low_resolution(image, rng)
    if rng.random() < config.p_blur:
        image = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, config.max_blur))))
    pixels = _photometry(np.asarray(image, dtype=np.float32) / 255.0, rng, config)
    image = Image.fromarray(pixels)
    if rng.random() < config.p_jpeg:
        image = _jpeg(image, int(rng.integers(*config.jpeg_quality)))
    return image


def _geometry(glyph: Image.Image, rng: np.random.Generator,
              config: AugmentConfig) -> Image.Image:
    shear = float(rng.uniform(-config.max_shear, config.max_shear))
    width, height = glyph.size
    if abs(shear) > 0.01:
        extra = round(abs(shear) * height)
        glyph = glyph.transform((width + extra, height), Image.Transform.AFFINE,
                                (1.0, shear, -extra if shear > 0 else 0.0, 0.0, 1.0, 0.0),
                                resample=Image.Resampling.BICUBIC, fillcolor=0)
    angle = float(rng.uniform(-config.max_rotation, config.max_rotation))
    glyph = glyph.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=0)
    side = max(glyph.size)
    canvas_side = max(side + 2, round(side * float(rng.uniform(*config.canvas_scale))))
    canvas_w = max(glyph.width + 2, round(canvas_side * float(rng.uniform(0.8, 1.25))))
    canvas = Image.new("L", (canvas_w, canvas_side), 0)
    x = int(rng.integers(0, canvas_w - glyph.width + 1))
    y = int(rng.integers(0, canvas_side - glyph.height + 1))
    canvas.paste(glyph, (x, y))
    return canvas


def _stroke_width(image: Image.Image, rng: np.random.Generator,
                  config: AugmentConfig) -> Image.Image:
    roll = rng.random()
    if roll < config.p_thicker:
        return image.filter(ImageFilter.MaxFilter(3))
    if roll < config.p_thicker + config.p_thinner:
        thinner = image.filter(ImageFilter.MinFilter(3))
        ink_before = np.count_nonzero(np.asarray(image) > 128)
        if np.count_nonzero(np.asarray(thinner) > 128) > 0.4 * ink_before:
            return thinner
    return image


def _low_resolution(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    side = int(rng.integers(8, 21))
    factor = side / max(image.size)
    if factor >= 1.0:
        return image
    small = image.resize((max(1, round(image.width * factor)),
                          max(1, round(image.height * factor))), Image.Resampling.BOX)
    resample = (Image.Resampling.NEAREST, Image.Resampling.BILINEAR,
                Image.Resampling.BICUBIC)[int(rng.integers(0, 3))]
    return small.resize(image.size, resample)


def _photometry(ink: npt.NDArray[np.float32], rng: np.random.Generator,
                config: AugmentConfig) -> npt.NDArray[np.uint8]:
    """Ink coverage 0..1 → grey levels: ink/background levels, polarity, shading, noise."""
    ink_level = float(rng.integers(*config.ink_level))
    background = float(rng.integers(*config.background_level))
    if ink_level - background < 60:
        background = max(0.0, ink_level - 60)
    if rng.random() < config.p_gradient:
        height, width = ink.shape
        ramp_x = np.linspace(-1.0, 1.0, width, dtype=np.float32)[np.newaxis, :]
        ramp_y = np.linspace(-1.0, 1.0, height, dtype=np.float32)[:, np.newaxis]
        angle = float(rng.uniform(0, 2 * np.pi))
        shade = (np.cos(angle) * ramp_x + np.sin(angle) * ramp_y) * float(rng.uniform(5, 30))
        background_map = background + shade
    else:
        background_map = np.full_like(ink, background)
    pixels = background_map + (ink_level - background_map) * ink
    if rng.random() < config.p_invert:
        pixels = 255.0 - pixels
    if rng.random() < config.p_noise:
        pixels = pixels + rng.normal(0.0, float(rng.uniform(2, config.max_noise)), ink.shape)
    grey: npt.NDArray[np.uint8] = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
    return grey


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("L")
