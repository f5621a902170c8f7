"""Image datasets as PIL images plus integer labels, split once with a fixed seed.

- ``digits``: scikit-learn's bundled 8×8 handwritten digits (values 0..16), rendered as
  light-on-dark "L" images and upscaled; no download.
- a folder: ``<root>/<label>/...``, labels are the sorted folder names; any common format,
  size and mode (``training.image.folder``). Files are read with the handler's own
  ``decode_for_spec``, so training sees exactly what a request would.

Every image later goes through ``prepare_image``, like a request does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from model_store.manifest import ImageSpec
from training.common import format_table
from training.image.folder import read_image_folder

DIGITS_RENDER_SIDE = 32  # the 8×8 glyphs are upscaled to this before preprocessing
Labels = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ImageDataset:
    """Train and test images with integer labels indexing ``label_names``."""

    name: str
    label_names: tuple[str, ...]
    train_images: list[Image.Image]
    train_labels: Labels
    test_images: list[Image.Image]
    test_labels: Labels
    description: str
    split: str


def render_sklearn_digit(values: npt.NDArray[np.float64],
                         side: int = DIGITS_RENDER_SIDE) -> Image.Image:
    """One 8×8 scikit-learn digit (0..16) → light-on-dark "L" image, ``side`` px, bicubic."""
    pixels = np.clip(np.rint(values.reshape(8, 8) * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels).resize((side, side), Image.Resampling.BICUBIC)


def load_sklearn_digits(*, seed: int, test_fraction: float = 0.25,
                        limit: int | None = None) -> ImageDataset:
    """scikit-learn's 1797 digits, a stratified ``test_fraction`` held out with ``seed``."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    data, labels = bunch.data, bunch.target.astype(np.int64)
    if limit is not None:
        keep = _stratified_subset(labels, limit, seed)
        data, labels = data[keep], labels[keep]
    images = [render_sklearn_digit(row) for row in data]
    train, test = stratified_split(labels, test_fraction, seed)
    split = (f"stratified {1 - test_fraction:.0%}/{test_fraction:.0%} train/test split of "
             f"scikit-learn load_digits ({len(labels)} images), seed {seed}")
    return ImageDataset(
        name="digits", label_names=tuple(str(d) for d in range(10)),
        train_images=[images[i] for i in train], train_labels=labels[train],
        test_images=[images[i] for i in test], test_labels=labels[test],
        description="scikit-learn load_digits: 8x8 handwritten digits, 0..16, upscaled "
                    f"bicubic to {DIGITS_RENDER_SIDE}px, light ink on dark",
        split=split)


def load_folder_dataset(root: Path, *, seed: int, test_fraction: float = 0.25,
                        name: str | None = None, spec: ImageSpec | None = None) -> ImageDataset:
    """``<root>/<label>/...`` → a stratified split (``training.image.folder`` reads it: any
    format, size and mode; unreadable files skipped with a warning; too few refused)."""
    root = Path(root)
    found = read_image_folder(root, spec)
    label_array = np.asarray(found.labels, dtype=np.int64)
    train, test = stratified_split(label_array, test_fraction, seed)
    images = found.images
    skipped = f", {len(found.skipped)} unreadable skipped" if found.skipped else ""
    return ImageDataset(
        name=name or root.name, label_names=found.label_names,
        train_images=[images[i] for i in train], train_labels=label_array[train],
        test_images=[images[i] for i in test], test_labels=label_array[test],
        description=f"image folder {root.name}/<label>/* ({len(images)} images{skipped})",
        split=f"stratified {1 - test_fraction:.0%}/{test_fraction:.0%} train/test split of "
              f"{len(images)} images, seed {seed}")


def stratified_split(labels: Labels, test_fraction: float,
                     seed: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Indices of a stratified train/test split; every class keeps at least one test image."""
    rng = np.random.default_rng(seed)
    train: list[int] = []
    test: list[int] = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_test = min(len(members) - 1, max(1, round(test_fraction * len(members))))
        test.extend(members[:n_test].tolist())
        train.extend(members[n_test:].tolist())
    return np.sort(np.asarray(train, dtype=np.intp)), np.sort(np.asarray(test, dtype=np.intp))


def _stratified_subset(labels: Labels, limit: int, seed: int) -> npt.NDArray[np.intp]:
    rng = np.random.default_rng(seed + 1)
    classes = np.unique(labels)
    per_class = max(2, limit // len(classes))
    keep = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in classes]
    return np.sort(np.concatenate(keep))


def class_balance(dataset: ImageDataset) -> str:
    """Images per class per split, as a table (printed by the build)."""
    n = len(dataset.label_names)
    train = np.bincount(dataset.train_labels, minlength=n)
    test = np.bincount(dataset.test_labels, minlength=n)
    rows = [[name, str(a), str(b)] for name, a, b in zip(dataset.label_names, train, test,
                                                          strict=True)]
    rows.append(["total", str(int(train.sum())), str(int(test.sum()))])
    return format_table(["label", "train", "test"], rows)
