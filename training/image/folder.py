"""An image folder as people have it → decoded images and labels, every skipped file named.

``<root>/<label>/...``: the labels are the sorted names of ``root``'s sub-folders, and a
label's images may sit in nested folders below it. Files are recognised by their bytes,
not their names, so upper-case, missing or wrong extensions all work; what is not an
image (notes, ``Thumbs.db``), is corrupt or truncated, or is out of ``TRAINING_LIMITS``
is skipped with a warning naming it. Hidden files and folders (``.DS_Store``, ``.git``,
a zip's ``__MACOSX``) are passed over silently.

Each file is decoded with the handler's own ``decode_for_spec`` (EXIF orientation, JPEG
draft scale, early box reduction) and checked with ``prepare_image``, so a file a request
would be refused for ("ink-box" on a blank page) is skipped here, not met mid-training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from model_store.manifest import ImageSpec
from preprocessing.errors import PreprocessingError
from preprocessing.formats import sniff_format
from preprocessing.imaging import (
    TRAINING_FORMATS,
    ImageLimits,
    decode_for_spec,
    decode_image,
    prepare_image,
)
from training.common import log
from training.errors import DataError

# Each class keeps at least one image for the test split and a few to learn from.
MIN_IMAGES_PER_CLASS = 5
# The user's own files on their own machine: larger than a request may be (a 48-megapixel
# phone photo, a 100 MB TIFF scan), and a thumbnail of a few pixels is still read.
TRAINING_LIMITS = ImageLimits(max_bytes=128 * 2**20, max_pixels=8192 * 8192, min_side=1,
                              max_side=16384, max_decode_bytes=1024 * 2**20)
_SNIFF_BYTES = 32


@dataclass(frozen=True)
class SkippedFile:
    path: Path
    reason: str


@dataclass
class FolderImages:
    """What was read: images with label indices into ``label_names``, and what was not."""

    root: Path
    label_names: tuple[str, ...]
    images: list[Image.Image] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)

    def counts(self) -> list[int]:
        return [self.labels.count(index) for index in range(len(self.label_names))]


def read_image_folder(root: Path, spec: ImageSpec | None = None,
                      limits: ImageLimits = TRAINING_LIMITS) -> FolderImages:
    """Every image under ``root/<label>/``, decoded as a request for ``spec`` would be
    (at full size when ``spec`` is None); refused when the classes are too few or too small."""
    root = Path(root)
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not _hidden(p.name))
    found = FolderImages(root, tuple(f.name for f in folders))
    for index, folder in enumerate(folders):
        for path in _files(folder):
            reason = _read_one(path, spec, limits, found, index)
            if reason is not None:
                found.skipped.append(SkippedFile(path, reason))
                log(f"warning: skipped {path}: {reason}")
    if found.skipped:
        log(f"warning: {len(found.skipped)} file(s) under {root} skipped (listed above)")
    check_classes(found)
    return found


def check_classes(found: FolderImages) -> None:
    """Refuse, with the numbers, a folder that cannot make a classifier and a test split."""
    counts = found.counts()
    skipped = (f"; {len(found.skipped)} file(s) were skipped as unreadable (warnings above)"
               if found.skipped else "")
    if len(counts) < 2:
        loose = sum(1 for p in found.root.iterdir() if p.is_file() and not _hidden(p.name))
        have = (f"1 label folder ({found.label_names[0]!r}, {counts[0]} images)"
                if counts else f"no label folders ({loose} files directly in it)")
        raise DataError(
            f"{found.root}: a classifier needs at least 2 labels, one sub-folder of images "
            f"per label ({found.root}/<label>/...); found {have}{skipped}")
    short = [f"{name!r} has {n}" for name, n in zip(found.label_names, counts, strict=True)
             if n < MIN_IMAGES_PER_CLASS]
    if short:
        raise DataError(
            f"{found.root}: every label needs at least {MIN_IMAGES_PER_CLASS} readable images "
            f"({MIN_IMAGES_PER_CLASS - 1} to train on, 1 to test); {', '.join(short)}"
            f"{skipped}")


def _read_one(path: Path, spec: ImageSpec | None, limits: ImageLimits, found: FolderImages,
              label: int) -> str | None:
    """Decode one file into ``found``; the reason it was skipped, or None."""
    try:
        size = path.stat().st_size
        with path.open("rb") as stream:
            head = stream.read(_SNIFF_BYTES)
        if sniff_format(head) is None:
            return f"not an image (the file starts with {head[:8].hex(' ') or 'nothing'})"
        if size > limits.max_bytes:
            return f"{size} bytes; the limit for one image is {limits.max_bytes}"
        data = path.read_bytes()
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"
    try:
        if spec is None:
            image = decode_image(data, limits, formats=TRAINING_FORMATS)
        else:
            image = decode_for_spec(data, spec, limits, formats=TRAINING_FORMATS)
            prepare_image(image, spec)  # what a request with this file would be refused for
    except PreprocessingError as exc:
        return f"{exc.code}: {exc.message}"
    found.images.append(image)
    found.labels.append(label)
    return None


def _files(folder: Path) -> list[Path]:
    """Regular files below ``folder``, in a stable order, hidden ones and their trees left out."""
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and not any(_hidden(part)
                                             for part in p.relative_to(folder).parts))


def _hidden(name: str) -> bool:
    """Dot files and folders, and the resource forks macOS puts in zip files."""
    return name.startswith(".") or name == "__MACOSX"
