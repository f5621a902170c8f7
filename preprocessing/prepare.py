"""``prepare_image``: the one preprocessing function, shared by training and serving.

An image becomes the model's float32 (C, H, W) tensor in fixed steps, all read from the
manifest's ``ImageSpec``:

1. flatten: any Pillow mode → 8-bit "L" or "RGB" (alpha over white), then ``spec.mode``;
2. reduce: an image larger than the input is box-reduced to a working size first
   (``working_side``: 4× the input, enough for the final Lanczos step), so a 4096×4096
   photo costs about what a 128×128 one does (JPEGs are even decoded at that size);
3. polarity (``spec.invert``): models are trained on light ink on a dark background;
   "auto" flips an image when its ink is darker than its background (see ``ink_contrast``,
   whose one blur also gives "ink-box" its contrast);
4. resize (``spec.resize``): "stretch", "fit-pad" (letterbox on black), "center-crop", or
   "ink-box": remove the background, crop to the ink, fit it in ``1 - 2 * padding`` of the
   canvas keeping its aspect ratio and centre its bounding box (see ``ink_box``);
5. normalise: ``(x / 255 - mean) / std`` per channel.

An image with no ink (a blank page, a uniform colour) under "ink-box" raises
``InvalidImage(code="blank_image")``: returning an empty canvas would make the
model answer confidently about nothing.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from PIL import Image

from model_store.manifest import ImageSpec
from preprocessing.errors import InvalidImage

FloatArray = npt.NDArray[np.float32]

# Ink must stand out from the background by this many grey levels (of 255), after a 3×3
# box blur, for "ink-box" to find it; JPEG noise on a uniform image stays well below.
BLANK_CONTRAST = 10.0
# A pixel is ink when, after background removal and contrast stretch, it is this bright.
INK_THRESHOLD = 0.3 * 255
# Ink mass ignored at each side of the bounding box, so stray specks do not stretch it.
INK_TRIM = 0.004
_HIGH_DEPTH_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")
_LANCZOS = Image.Resampling.LANCZOS
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def working_side(spec: ImageSpec) -> int:
    """The longest side worth keeping before resizing to ``spec``: 4× the input, 64..1024.

    Four times the input leaves the final Lanczos step enough pixels per output pixel (the
    ink box is at most 70% of the canvas), and a small working image keeps a request cheap.
    """
    return min(1024, max(64, 4 * max(spec.height, spec.width)))


class InkContrast(NamedTuple):
    """Background level and the extremes of a lightly blurred copy (grey levels, 0..255)."""

    background: float
    low: float
    high: float

    @property
    def dark_on_light(self) -> bool:
        return self.background - self.low > self.high - self.background

    def peak(self, flipped: bool) -> float:
        """How far the ink stands out from the background once light-on-dark."""
        return self.background - self.low if flipped else self.high - self.background


def prepare_image(image: Image.Image, spec: ImageSpec) -> FloatArray:
    """Any PIL image → the model input for ``spec``: float32, shape (channels, height, width)."""
    image = flatten_image(image)
    if image.mode != spec.mode:
        image = image.convert(spec.mode)
    image = reduce_to(image, working_side(spec))
    pixels = np.asarray(image, dtype=np.uint8)
    if spec.resize != "ink-box":
        if spec.invert == "always" or (spec.invert == "auto" and is_dark_on_light(pixels)):
            pixels = 255 - pixels
        return normalise(_resize_whole(Image.fromarray(pixels), spec), spec)
    contrast = ink_contrast(pixels)
    flip = spec.invert == "always" or (spec.invert == "auto" and contrast.dark_on_light)
    return normalise(ink_box(255 - pixels if flip else pixels, spec,
                             peak=contrast.peak(flip)), spec)


def flatten_image(image: Image.Image) -> Image.Image:
    """Any Pillow mode → 8-bit "L" or "RGB"; transparency is composited over white."""
    mode = image.mode
    if mode in ("L", "RGB"):
        return image
    if mode == "1":
        return image.convert("L")
    if mode in _HIGH_DEPTH_MODES:
        return _high_depth_to_l(image)
    if mode == "P":
        if "transparency" not in image.info:
            return image.convert("RGB")
        image, mode = image.convert("RGBA"), "RGBA"
    if mode in ("LA", "La", "PA"):
        image = image.convert("RGBA") if mode == "PA" else image.convert("LA")
        mode = image.mode
    if mode in ("RGBa", "RGBA"):
        image = image.convert("RGBA")
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image.convert("RGB"), mask=image.getchannel("A"))
        return background
    if mode == "LA":
        background = Image.new("L", image.size, 255)
        background.paste(image.getchannel("L"), mask=image.getchannel("A"))
        return background
    return image.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX


def _high_depth_to_l(image: Image.Image) -> Image.Image:
    """16-bit, 32-bit and float images → 8-bit grey, keeping their meaning where it is clear.

    "I;16*": full 16-bit range. "I": 8-bit values kept, 16-bit values scaled, anything else
    stretched. "F": [0, 1] is a fraction, [0, 255] kept, anything else stretched.
    """
    values = np.nan_to_num(np.asarray(image, dtype=np.float64))
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if image.mode.startswith("I;16"):
        scaled = values / 257.0
    elif image.mode == "F" and low >= 0.0 and high <= 1.0:
        scaled = values * 255.0
    elif low >= 0.0 and high <= 255.0:
        scaled = values
    elif image.mode == "I" and low >= 0.0 and high <= 65535.0:
        scaled = values / 257.0
    else:
        scaled = (values - low) * (255.0 / max(high - low, 1e-12))
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8))


def reduce_to(image: Image.Image, side: int) -> Image.Image:
    """Box-reduce by the smallest integer factor that brings the longest side to ``side``."""
    factor = -(-max(image.size) // side)
    return image.reduce(factor) if factor >= 2 else image


def luminance(pixels: npt.NDArray[np.uint8] | FloatArray) -> FloatArray:
    """Grey levels as float32 (always a new array); colour uses the ITU-R 601 luma weights."""
    values = pixels.astype(np.float32)
    return values if values.ndim == 2 else values @ _LUMA


def _median(values: npt.NDArray[np.float32]) -> float:
    """``np.median`` of a 1-D array, without its generic path (which imports numpy.ma)."""
    count = values.size
    middle = count // 2
    if count % 2:
        return float(np.partition(values, middle)[middle])
    part = np.partition(values, (middle - 1, middle))
    return (float(part[middle - 1]) + float(part[middle])) / 2


def border_median(gray: npt.NDArray[np.float32] | npt.NDArray[np.uint8]) -> float:
    """The background level: the median of a ring along the image's edges."""
    height, width = gray.shape
    ring = max(1, round(0.04 * min(height, width)))
    edges = np.concatenate([gray[:ring].ravel(), gray[-ring:].ravel(),
                            gray[:, :ring].ravel(), gray[:, -ring:].ravel()])
    return _median(edges)


def blurred_extremes(gray: npt.NDArray[np.float32] | npt.NDArray[np.uint8]
                     ) -> tuple[float, float]:
    """Darkest and brightest value after a 3×3 box blur, which keeps 1/9 of an isolated
    noisy pixel's contrast but 1/3 of a one-pixel-wide stroke's and all of a thick one's."""
    grey = gray if gray.dtype == np.uint8 else np.clip(np.rint(gray), 0, 255).astype(np.uint8)
    if min(grey.shape) < 3:  # too small for a 3×3 window: the extremes themselves
        return float(grey.min()), float(grey.max())
    # Sums of 3×3 windows in uint16 (at most 9 × 255), over every full window: a few
    # array additions, several times cheaper than a Pillow filter at the working size.
    wide = grey.astype(np.uint16)
    rows = wide[:-2] + wide[1:-1] + wide[2:]
    sums = rows[:, :-2] + rows[:, 1:-1] + rows[:, 2:]
    return float(sums.min()) / 9, float(sums.max()) / 9


def ink_contrast(pixels: npt.NDArray[np.uint8]) -> InkContrast:
    """The background (the border's median) and the blurred extremes, from one blur.

    Ink is whatever departs furthest from the background: the darkest and brightest points
    of a lightly blurred copy are compared, which works for thin strokes and off-centre
    digits (few ink pixels) and ignores isolated noise and gentle shading on photographed
    paper. The same numbers say how far the ink stands out, for "ink-box".
    """
    gray = pixels if pixels.ndim == 2 else luminance(pixels)
    low, high = blurred_extremes(gray)
    return InkContrast(border_median(gray), low, high)


def is_dark_on_light(pixels: npt.NDArray[np.uint8]) -> bool:
    """True when the ink is darker than the background (pen on paper), so it must be flipped."""
    return ink_contrast(pixels).dark_on_light


def ink_box(pixels: npt.NDArray[np.uint8], spec: ImageSpec, *,
            peak: float | None = None) -> FloatArray:
    """Light-on-dark pixels → the ink, cropped, scaled and centred on a black canvas (0..255).

    Background removal subtracts the border median (per channel) and stretches the ink to
    full contrast, so grey paper, dim photos and pale pencil look like the training data.
    ``peak`` is how far the ink stands out (``InkContrast.peak``); measured here if not given.
    """
    if peak is None:
        peak = ink_contrast(pixels).peak(flipped=False)
    work = pixels.astype(np.float32)
    if work.ndim == 2:
        work -= border_median(pixels)
    else:
        work -= np.array([border_median(pixels[..., c]) for c in range(work.shape[2])],
                         dtype=np.float32)
    np.maximum(work, 0.0, out=work)
    if peak < BLANK_CONTRAST:
        raise InvalidImage(
            "the image looks blank: no marks stand out from the background; send an image "
            "with visible content", code="blank_image")
    scale = np.float32(255.0 / peak)
    work *= scale
    np.minimum(work, 255.0, out=work)
    level = work if work.ndim == 2 else luminance(work)
    box = _ink_bounds(np.where(level >= INK_THRESHOLD, level, 0.0))
    return _fit_centred(work, box, spec)


def _ink_bounds(mass: npt.NDArray[np.float32]) -> tuple[float, float, float, float]:
    """The ink's box (left, top, right, bottom), minus ``INK_TRIM`` of its mass at each side.

    The edges are fractional (where the cumulative ink mass crosses the trim), so moving the
    ink by a fraction of a working pixel moves the box by as much: the crop stays put relative
    to the ink whatever the image's size or offset.
    """
    if float(mass.sum()) <= 0.0:  # ink only below the threshold: keep the whole frame
        return 0.0, 0.0, float(mass.shape[1]), float(mass.shape[0])
    top, bottom = _trimmed_span(mass.sum(axis=1))
    left, right = _trimmed_span(mass.sum(axis=0))
    return left, top, right, bottom


def _trimmed_span(profile: npt.NDArray[np.float32]) -> tuple[float, float]:
    cumulative = np.cumsum(profile, dtype=np.float64)
    total = float(cumulative[-1])
    start = _crossing(cumulative, profile, INK_TRIM * total)
    stop = _crossing(cumulative, profile, (1.0 - INK_TRIM) * total)
    # At least one pixel wide, never past the image's edge (a 1-pixel-wide working image,
    # from a very thin photo, would otherwise give a crop box outside it).
    length = float(len(profile))
    start = min(start, length - 1.0)
    return start, min(max(stop, start + 1.0), length)


def _crossing(cumulative: npt.NDArray[np.float64], profile: npt.NDArray[np.float32],
              level: float) -> float:
    """Where the mass running along ``profile`` reaches ``level``, within its pixel."""
    index = min(int(np.searchsorted(cumulative, level, side="left")), len(profile) - 1)
    before = float(cumulative[index - 1]) if index else 0.0
    inside = float(profile[index])
    return index + (min(max((level - before) / inside, 0.0), 1.0) if inside > 0 else 0.0)


def _fit_centred(work: FloatArray, box: tuple[float, float, float, float],
                 spec: ImageSpec) -> FloatArray:
    """Scale ``box`` of ``work`` to fit ``1 - 2 * padding`` of the canvas, centred."""
    box_w = max(1, round((1.0 - 2.0 * spec.padding) * spec.width))
    box_h = max(1, round((1.0 - 2.0 * spec.padding) * spec.height))
    left, top, right, bottom = box
    width, height = right - left, bottom - top
    scale = min(box_w / width, box_h / height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    channels = [work] if work.ndim == 2 else [work[..., c] for c in range(work.shape[2])]
    canvas = np.zeros((spec.height, spec.width, len(channels)), dtype=np.float32)
    x0, y0 = (spec.width - size[0]) // 2, (spec.height - size[1]) // 2
    for index, channel in enumerate(channels):
        plane = Image.fromarray(np.ascontiguousarray(channel))  # mode "F": no rounding
        resized = plane.resize(size, _LANCZOS, box=box, reducing_gap=2.0)
        canvas[y0:y0 + size[1], x0:x0 + size[0], index] = np.asarray(resized)
    np.maximum(canvas, 0.0, out=canvas)  # Lanczos over- and undershoots at edges
    np.minimum(canvas, 255.0, out=canvas)
    return canvas[..., 0] if work.ndim == 2 else canvas


def _resize_whole(image: Image.Image, spec: ImageSpec) -> FloatArray:
    """The "stretch", "fit-pad" and "center-crop" policies, on 8-bit pixels."""
    target = (spec.width, spec.height)
    width, height = image.size
    if spec.resize == "stretch":
        out = image.resize(target, _LANCZOS, reducing_gap=2.0)
    elif spec.resize == "fit-pad":
        scale = min(target[0] / width, target[1] / height)
        size = (min(target[0], max(1, round(width * scale))),
                min(target[1], max(1, round(height * scale))))
        out = Image.new(image.mode, target, 0)
        out.paste(image.resize(size, _LANCZOS, reducing_gap=2.0),
                  ((target[0] - size[0]) // 2, (target[1] - size[1]) // 2))
    else:
        out = image.resize(target, _LANCZOS, box=center_crop_box(image.size, target),
                           reducing_gap=2.0)
    return np.asarray(out, dtype=np.float32)


def center_crop_box(size: tuple[int, int], target: tuple[int, int]
                    ) -> tuple[float, float, float, float]:
    """The largest box of ``target``'s aspect ratio centred in ``size`` (left, top, right, bottom).

    The side that fits is taken whole, exactly (not ``target / scale``, which can land a hair
    outside the image in floating point), and the other is cut evenly from both ends.
    """
    width, height = size
    if target[0] * height >= target[1] * width:  # relatively wider target: keep the width
        crop_w, crop_h = float(width), min(float(height), width * target[1] / target[0])
    else:
        crop_w, crop_h = min(float(width), height * target[0] / target[1]), float(height)
    left, top = (width - crop_w) / 2, (height - crop_h) / 2
    return left, top, min(float(width), left + crop_w), min(float(height), top + crop_h)


def normalise(canvas: FloatArray, spec: ImageSpec) -> FloatArray:
    """0..255 (H, W[, C]) → ``(x / 255 - mean) / std``, float32 (C, H, W), contiguous."""
    planes = canvas[np.newaxis] if canvas.ndim == 2 else np.moveaxis(canvas, -1, 0)
    mean = np.asarray(spec.mean, dtype=np.float32).reshape(-1, 1, 1)
    std = np.asarray(spec.std, dtype=np.float32).reshape(-1, 1, 1)
    out = (planes * np.float32(1.0 / 255.0) - mean) / std
    return np.ascontiguousarray(out, dtype=np.float32)
