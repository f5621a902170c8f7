"""Seeded augmentation for photos: what differs between two pictures of the same thing
(framing, mirror image, light) and never what tells classes apart (colour is kept: hue,
saturation and channels are left alone)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageEnhance


def augment_photo(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """One random variation of ``image`` in its own mode."""
    width, height = image.size
    scale = float(rng.uniform(0.75, 1.0))
    crop_w, crop_h = max(1, round(width * scale)), max(1, round(height * scale))
    left = int(rng.integers(0, width - crop_w + 1))
    top = int(rng.integers(0, height - crop_h + 1))
    image = image.crop((left, top, left + crop_w, top + crop_h))
    if rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    image = ImageEnhance.Brightness(image).enhance(float(rng.uniform(0.8, 1.2)))
    return ImageEnhance.Contrast(image).enhance(float(rng.uniform(0.8, 1.2)))
