"""The training set a model actually sees: real images, augmented copies and synthetic digits,
all preprocessed by ``prepare_image`` into one float32 array.

scikit-learn's digits are 8×8: alone they teach a model nothing about a crisp 300 px digit
from a font or a thin pen stroke. For the ``digits`` model the mixture therefore adds digits
rendered from fonts and digits drawn as pen strokes (``glyphs``), all augmented. The test
split stays pure held-out scikit-learn digits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from PIL import Image

from model_store.manifest import ImageSpec
from preprocessing.errors import PreprocessingError
from preprocessing.imaging import prepare_image
from training.common import log, progress
from training.image.augment import AugmentConfig, augment
from training.image.datasets import ImageDataset
from training.image.glyphs import FontChoice, render_font_digit, render_stroke_digit
from training.image.photo_augment import augment_photo

_CHUNK = 250


@dataclass(frozen=True)
class MixtureConfig:
    augmented_copies: int = 3          # per real training image, besides the image itself
    font_digits: int = 3000            # synthetic digits rendered from fonts
    stroke_digits: int = 3000          # synthetic digits drawn as pen strokes
    glyph_height: tuple[int, int] = (14, 110)   # px, before augmentation
    font_bold: tuple[int, int] = (0, 3)         # extra stroke px for fonts
    pen_width: tuple[float, float] = (0.035, 0.17)  # fraction of the digit's height
    slant: tuple[float, float] = (-0.3, 0.3)
    augment: AugmentConfig = field(default_factory=AugmentConfig)


@dataclass(frozen=True)
class PreparedSet:
    x: npt.NDArray[np.float32]
    y: npt.NDArray[np.int64]
    sources: dict[str, int]   # how many samples came from where
    skipped: int              # images prepare_image rejected (blank after augmentation)


def build_training_set(dataset: ImageDataset, spec: ImageSpec, config: MixtureConfig, *,
                       seed: int, fonts: list[FontChoice] | None) -> PreparedSet:
    """Real + augmented (+ synthetic digits when ``fonts`` is given) → preprocessed arrays."""
    rng = np.random.default_rng(seed)
    makers: list[tuple[str, int, Callable[[int], tuple[Image.Image, int]]]] = []
    real = dataset.train_images
    real_labels = dataset.train_labels
    makers.append(("real", len(real), lambda i: (real[i], int(real_labels[i]))))
    copies = config.augmented_copies * len(real)
    if spec.preset == "digits" or fonts:
        def vary(image: Image.Image) -> Image.Image:
            return augment(image, rng, config.augment)
    else:  # photos: framing, mirror, light; colour untouched (it may be what separates classes)
        def vary(image: Image.Image) -> Image.Image:
            return augment_photo(image, rng)
    makers.append(("real-augmented", copies,
                   lambda i: (vary(real[i % len(real)]), int(real_labels[i % len(real)]))))
    if fonts:
        makers.append(("font-digits", config.font_digits,
                       lambda i: _font_sample(i, fonts, rng, config)))
        makers.append(("stroke-digits", config.stroke_digits,
                       lambda i: _stroke_sample(i, rng, config)))
    return prepare_samples(_generate(makers), spec, total=sum(n for _, n, _ in makers),
                           counts={name: n for name, n, _ in makers})


def prepare_samples(samples: Iterator[tuple[Image.Image, int]], spec: ImageSpec, *,
                    total: int, counts: dict[str, int]) -> PreparedSet:
    """Run ``prepare_image`` over (image, label) pairs; blank results are skipped and counted."""
    arrays: list[npt.NDArray[np.float32]] = []
    labels: list[int] = []
    skipped = 0
    chunks = -(-total // _CHUNK)
    for chunk in progress(f"preprocessing {total} images, x{_CHUNK}", _chunked(samples),
                          total=chunks):
        for image, label in chunk:
            try:
                arrays.append(prepare_image(image, spec))
            except PreprocessingError as exc:
                skipped += 1
                if skipped <= 3:
                    log(f"  skipped a training image: {exc.code}")
                continue
            labels.append(label)
    x = np.stack(arrays).astype(np.float32) if arrays else np.zeros(
        (0, spec.channels, spec.height, spec.width), np.float32)
    return PreparedSet(x=x, y=np.asarray(labels, dtype=np.int64), sources=counts,
                       skipped=skipped)


def prepare_test_set(images: list[Image.Image], labels: npt.NDArray[np.int64],
                     spec: ImageSpec) -> npt.NDArray[np.float32]:
    """Test images must all prepare: a blank test image is a dataset bug, so it raises."""
    return np.stack([prepare_image(image, spec) for image in images]).astype(np.float32)


def _chunked(samples: Iterator[tuple[Image.Image, int]]
             ) -> Iterator[list[tuple[Image.Image, int]]]:
    """Groups of ``_CHUNK`` samples, so progress updates once per group, not per image."""
    chunk: list[tuple[Image.Image, int]] = []
    for sample in samples:
        chunk.append(sample)
        if len(chunk) == _CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _generate(makers: list[tuple[str, int, Callable[[int], tuple[Image.Image, int]]]]
              ) -> Iterator[tuple[Image.Image, int]]:
    for _name, count, make in makers:
        for i in range(count):
            yield make(i)


def _font_sample(i: int, fonts: list[FontChoice], rng: np.random.Generator,
                 config: MixtureConfig) -> tuple[Image.Image, int]:
    digit = i % 10
    font = fonts[int(rng.integers(0, len(fonts)))]
    glyph = render_font_digit(digit, font, int(rng.integers(*config.glyph_height)),
                              bold=int(rng.integers(*config.font_bold)))
    return augment(glyph, rng, config.augment), digit


def _stroke_sample(i: int, rng: np.random.Generator,
                   config: MixtureConfig) -> tuple[Image.Image, int]:
    digit = i % 10
    glyph = render_stroke_digit(digit, rng, int(rng.integers(*config.glyph_height)),
                                width_fraction=float(rng.uniform(*config.pen_width)),
                                slant=float(rng.uniform(*config.slant)))
    return augment(glyph, rng, config.augment), digit
