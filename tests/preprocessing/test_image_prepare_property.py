"""Every resize policy is correct for every size, aspect ratio and mode (Hypothesis).

Two functions turn an image into a model input, and both are checked over the whole space:

- ``prepare_image`` (training runs it on every decoded training and test image, serving on
  every decoded request): any Pillow mode, 1 px up to the pixel budget, any aspect ratio;
- the served path, ``ImageInputs`` (the handler's ``image_bytes_to_array`` per instance),
  on encoded files of every accepted format and the modes each carries, against the
  training folder's decode of the same bytes (``decode_for_spec`` + ``prepare_image``):
  the same tensor, EXIF orientation included, so there is no train/serve skew.

The documented output: float32, C-contiguous, shape (channels, height, width), every value
within ``[(0 - mean) / std, (1 - mean) / std]`` of its channel; the only refusal is
``blank_image`` under "ink-box", and only when the image is too small to hold ink.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps

from lambda_kit.errors import HttpError
from model_runtime.image_inputs import ImageInputs
from model_runtime.settings import Settings
from model_store.manifest import ImageSpec
from preprocessing.errors import InvalidImage
from preprocessing.imaging import (
    DEFAULT_LIMITS,
    TRAINING_FORMATS,
    decode_for_spec,
    decode_image,
    prepare_image,
)
from preprocessing.prepare import reduce_to, working_side
from tests.support.images import (
    ALL_MODES,
    FORMAT_MODES,
    encode,
    in_mode,
    png_16bit_rgb,
    two_tone,
    with_orientation,
)
from training.image.config import digits_spec, photo_spec
from training.image.folder import TRAINING_LIMITS

BUDGET = DEFAULT_LIMITS.max_pixels  # 4096 × 4096
MAX_SIDE = DEFAULT_LIMITS.max_side
POLICIES = ("stretch", "fit-pad", "center-crop", "ink-box")
FAST = settings(derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def specs(draw: st.DrawFn) -> ImageSpec:
    """The presets as the CLI builds them, and any custom spec a manifest may carry."""
    preset = draw(st.sampled_from(("photo-rgb", "photo-gray", "digits", "custom")))
    size = draw(st.sampled_from((8, 16, 28, 64, 96)))
    if preset == "photo-rgb":
        return photo_spec(size, "rgb")
    if preset == "photo-gray":
        return photo_spec(size, "gray")
    if preset == "digits":
        return digits_spec(size)
    mode = draw(st.sampled_from(("L", "RGB")))
    channels = 1 if mode == "L" else 3
    return ImageSpec(height=size, width=draw(st.sampled_from((8, 20, 32, 100))), mode=mode,
                     mean=(0.2,) * channels, std=(0.4,) * channels,
                     invert=draw(st.sampled_from(("never", "always", "auto"))),
                     resize=draw(st.sampled_from(POLICIES)),
                     padding=draw(st.sampled_from((0.0, 0.15, 0.3))))


@st.composite
def sizes(draw: st.DrawFn, smallest: int = 1, budget: int = BUDGET) -> tuple[int, int]:
    """1 px up to the budget, any aspect ratio: a side, then the other within the budget."""
    first = draw(st.one_of(st.integers(smallest, 64), st.integers(smallest, MAX_SIDE)))
    other = draw(st.one_of(st.integers(smallest, 64),
                           st.integers(smallest, min(MAX_SIDE, budget // first))))
    return (first, other) if draw(st.booleans()) else (other, first)


@st.composite
def colours(draw: st.DrawFn) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """A dark and a light colour (luma ≥ 135 apart), in either role."""
    dark = tuple(draw(st.integers(0, 60)) for _ in range(3))
    light = tuple(draw(st.integers(195, 255)) for _ in range(3))
    pair = (dark, light) if draw(st.booleans()) else (light, dark)
    return pair  # type: ignore[return-value]


def assert_documented(out: np.ndarray, spec: ImageSpec) -> None:
    assert out.dtype == np.float32 and out.flags.c_contiguous
    assert out.shape == (spec.channels, spec.height, spec.width)
    assert np.isfinite(out).all()
    mean = np.asarray(spec.mean, dtype=np.float32).reshape(-1, 1, 1)
    std = np.asarray(spec.std, dtype=np.float32).reshape(-1, 1, 1)
    low, high = (0 - mean) / std, (1 - mean) / std
    assert (out >= low - 1e-5).all() and (out <= high + 1e-5).all()


def prepared_or_blank(image: Image.Image, spec: ImageSpec, *, light_mark: bool
                      ) -> np.ndarray | None:
    """``prepare_image``; None for a ``blank_image`` that the image explains: its mark has the
    polarity ``spec.invert`` rules out as ink, or is too small to find."""
    try:
        return prepare_image(image, spec)
    except InvalidImage as error:
        assert error.code == "blank_image" and spec.resize == "ink-box", error
        if spec.invert == ("never" if not light_mark else "always"):
            return None  # the only ink is the background's colour
        reduced = reduce_to(Image.new("L", image.size), working_side(spec)).size
        # The mark is the middle half: under 3×3 pixels once reduced, no blur window holds it.
        assert min(reduced) < 8, f"{image.size} → {reduced}: ink not found"
        return None


@settings(FAST, max_examples=300)
@given(size=sizes(), mode=st.sampled_from(ALL_MODES), spec=specs(), pair=colours())
def test_prepare_image_any_size_aspect_mode_and_policy(size, mode, spec, pair):
    image = in_mode(two_tone(size, *pair), mode)
    out = prepared_or_blank(image, spec, light_mark=sum(pair[1]) > sum(pair[0]))
    if out is not None:
        assert_documented(out, spec)


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("size", [(49, 64), (97, 300), (64, 64), (1, 1), (4096, 1), (1, 4096),
                                  (4096, 4096), (4095, 4097 - 1)])
def test_sizes_the_center_crop_failed_on_and_the_extremes(size, policy):
    spec = ImageSpec(height=64, width=64, mode="RGB", mean=(0.5,) * 3, std=(0.5,) * 3,
                     invert="never", resize=policy, padding=0.1)
    out = prepared_or_blank(two_tone(size, (10, 10, 10), (240, 200, 30)), spec,
                            light_mark=True)
    if out is not None:
        assert_documented(out, spec)


def test_the_1140_sizes_of_the_report_all_prepare():
    """Widths 20–400 at three heights (the issue's sweep; 153 of them raised before)."""
    spec = photo_spec(64, "rgb")
    image = two_tone((400, 300), (20, 40, 60), (200, 180, 20))
    for height in (64, 128, 300):
        for width in range(20, 400):
            assert_documented(prepare_image(image.resize((width, height)), spec), spec)


def _encoded(fmt: str, mode: str, image: Image.Image, progressive: bool) -> bytes:
    if fmt == "PNG16":
        return png_16bit_rgb(image, alpha=mode == "RGBA")
    options: dict[str, object] = {"progressive": True} if fmt == "JPEG" and progressive else {}
    return encode(in_mode(image, mode), fmt, **options)


FILE_KINDS = [(fmt, mode) for fmt, modes in FORMAT_MODES.items() for mode in modes]
FILE_KINDS += [("PNG16", "RGB"), ("PNG16", "RGBA")]


@settings(FAST, max_examples=150)
@given(kind=st.sampled_from(FILE_KINDS), size=sizes(smallest=8, budget=600 * 600),
       spec=specs(), pair=colours(), progressive=st.booleans(),
       orientation=st.integers(1, 8))
def test_served_and_training_decodes_agree_for_every_format(kind, size, spec, pair,
                                                            progressive, orientation):
    fmt, mode = kind
    image = two_tone(size, *pair)
    data = _encoded(fmt, mode, image, progressive)
    if fmt in ("JPEG", "PNG", "WEBP", "TIFF") and mode not in ("1", "P", "I;16B"):
        data = with_orientation(in_mode(image, mode), fmt, orientation) \
            if fmt != "JPEG" or not progressive else data
    trained_image = decode_for_spec(data, spec, TRAINING_LIMITS, formats=TRAINING_FORMATS)
    trained = prepared_or_blank(trained_image, spec, light_mark=sum(pair[1]) > sum(pair[0]))
    if fmt == "TIFF":  # training folders only: a request gets the contract's 415
        return
    inputs = ImageInputs(spec, Settings(model_source="unused"))
    body = [{"b64": base64.b64encode(data).decode()}]
    if trained is None:
        with pytest.raises(HttpError) as refused:
            inputs.from_instances(body)
        assert (refused.value.status, refused.value.code) == (422, "blank_image")
        return
    served = inputs.from_instances(body)[0]
    assert_documented(served, spec)
    np.testing.assert_array_equal(served, trained)


@settings(FAST, max_examples=60)
@given(fmt=st.sampled_from(("JPEG", "PNG", "WEBP", "TIFF")), orientation=st.integers(1, 8),
       size=st.tuples(st.integers(8, 200), st.integers(8, 200)))
def test_exif_orientation_is_applied_in_training_and_serving(fmt, orientation, size):
    # An L-shaped mark in one corner: where it lands says which way the image was turned.
    image = Image.new("RGB", size, (0, 0, 0))
    image.paste((255, 255, 255), (0, 0, max(1, size[0] // 3), max(1, size[1] // 2)))
    data = with_orientation(image, fmt, orientation, **({"quality": 95} if fmt == "JPEG"
                                                        else {}))
    raw = Image.open(io.BytesIO(data))
    raw.load()
    expected = ImageOps.exif_transpose(raw).convert("RGB")
    decoded = decode_image(data, TRAINING_LIMITS, formats=TRAINING_FORMATS)
    assert decoded.size == expected.size
    difference = np.abs(np.asarray(decoded, dtype=np.int16)
                        - np.asarray(expected, dtype=np.int16))
    assert float(difference.mean()) < 2.0
