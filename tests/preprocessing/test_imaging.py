"""preprocessing.imaging: every accepted format and mode decodes; every bad input is a 4xx."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFile, JpegImagePlugin

from model_runtime.image_inputs import http_error_for
from model_store.manifest import ImageSpec
from preprocessing.errors import (
    ImageTooLarge,
    InvalidImage,
    PreprocessingError,
    UnsupportedImageFormat,
)
from preprocessing.imaging import (
    ImageLimits,
    decode_image,
    flatten_image,
    image_bytes_to_array,
    prepare_image,
    sniff_format,
)

ROOT = Path(__file__).resolve().parents[2]
SPEC = ImageSpec(height=28, width=28, mode="L", mean=(0.1,), std=(0.3,))
LOW, HIGH = (0.0 - 0.1) / 0.3, (1.0 - 0.1) / 0.3


# -- helpers ------------------------------------------------------------------------------
def digit_image(size: int = 64, *, dark_on_light: bool = False, offset: tuple[float, float] =
                (0.5, 0.5), stroke: float = 0.08, background: int | None = None) -> Image.Image:
    """A "7" drawn with a round pen: light on dark by default."""
    bg = background if background is not None else (235 if dark_on_light else 10)
    ink = 20 if dark_on_light else 245
    image = Image.new("L", (size, size), bg)
    draw = ImageDraw.Draw(image)
    h = size * 0.4
    cx, cy = size * offset[0], size * offset[1]
    points = [(cx - 0.3 * h, cy - 0.5 * h), (cx + 0.3 * h, cy - 0.5 * h),
              (cx - 0.1 * h, cy + 0.5 * h)]
    draw.line(points, fill=ink, width=max(1, round(stroke * h)), joint="curve")
    return image


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A tiny, valid-looking PNG whose header claims ``width``×``height`` grey pixels."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 1024)) + chunk(b"IEND", b""))


def assert_model_input(array: np.ndarray, spec: ImageSpec = SPEC) -> None:
    assert array.shape == (spec.channels, spec.height, spec.width)
    assert array.dtype == np.float32
    assert np.isfinite(array).all()
    assert array.min() >= LOW - 1e-5 and array.max() <= HIGH + 1e-5
    assert array.max() > 1.0, "the ink should be visible"


# -- formats and modes --------------------------------------------------------------------
FORMATS = [
    ("PNG", {}), ("JPEG", {"quality": 90}), ("WEBP", {"quality": 90}), ("BMP", {}),
    ("GIF", {}), ("WEBP", {"lossless": True}),
]


@pytest.mark.parametrize(("fmt", "options"), FORMATS, ids=[f"{f}-{o}" for f, o in FORMATS])
def test_every_accepted_format_decodes_to_a_model_input(fmt, options):
    data = encode(digit_image(64, dark_on_light=True), fmt, **options)
    assert sniff_format(data) == fmt
    assert_model_input(image_bytes_to_array(data, SPEC, ImageLimits()))


def _rgba() -> Image.Image:
    image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))  # transparent *black*
    ImageDraw.Draw(image).line([(20, 10), (44, 10), (28, 54)], fill=(0, 0, 0, 255), width=5)
    return image


def _palette_transparent() -> bytes:
    image = digit_image(64, dark_on_light=True).convert("P")
    corner = image.getpixel((0, 0))
    assert isinstance(corner, int)
    return encode(image, "PNG", transparency=corner)


MODE_CASES: dict[str, Callable[[], bytes]] = {
    "L": lambda: encode(digit_image(), "PNG"),
    "LA": lambda: encode(_rgba().convert("LA"), "PNG"),
    "RGB": lambda: encode(digit_image().convert("RGB"), "PNG"),
    "RGBA": lambda: encode(_rgba(), "PNG"),
    "P": lambda: encode(digit_image().convert("P"), "PNG"),
    "P+transparency": _palette_transparent,
    "CMYK-jpeg": lambda: encode(digit_image(dark_on_light=True).convert("CMYK"), "JPEG"),
    "I;16-png": lambda: encode(Image.fromarray(
        (np.asarray(digit_image(), dtype=np.uint16) * 257).astype(np.uint16)), "PNG"),
    "1": lambda: encode(digit_image().convert("1"), "PNG"),
    "1-bmp": lambda: encode(digit_image().convert("1"), "BMP"),
    "P-gif-transparency": lambda: encode(digit_image(dark_on_light=True).convert("P"), "GIF",
                                         transparency=0),
}


@pytest.mark.parametrize("case", sorted(MODE_CASES))
def test_every_mode_decodes_to_8bit_l_or_rgb(case):
    data = MODE_CASES[case]()
    image = decode_image(data, ImageLimits())
    assert image.mode in ("L", "RGB")
    assert_model_input(image_bytes_to_array(data, SPEC, ImageLimits()))


@pytest.mark.parametrize("mode", ["I", "F", "I;16", "La", "RGBa", "PA", "YCbCr", "HSV"])
def test_prepare_accepts_in_memory_images_of_any_mode(mode):
    base = digit_image()
    if mode == "I":
        image = Image.fromarray(np.asarray(base, dtype=np.int32) * 200)
    elif mode == "F":
        image = Image.fromarray(np.asarray(base, dtype=np.float32) / 255.0)
    elif mode == "I;16":
        image = Image.fromarray(np.asarray(base, dtype=np.uint16) * 257)
    elif mode == "PA":
        image = base.convert("P").convert("PA")
    else:
        image = base.convert("RGBA" if mode == "RGBa" else "LA" if mode == "La" else "RGB")
        image = image.convert(mode)
    assert flatten_image(image).mode in ("L", "RGB")
    assert_model_input(prepare_image(image, SPEC))


def test_sixteen_bit_values_keep_their_meaning():
    grey = Image.fromarray(np.full((16, 16), 32896, dtype=np.uint16))  # 50% of 65535
    assert flatten_image(grey).getpixel((0, 0)) == 128


def test_alpha_is_composited_over_white():
    image = decode_image(encode(_rgba(), "PNG"), ImageLimits())
    assert image.mode == "RGB"
    assert image.getpixel((0, 0)) == (255, 255, 255)  # was transparent black
    assert image.getpixel((30, 10)) == (0, 0, 0)      # opaque ink stays


def test_animated_gif_uses_the_first_frame():
    first = digit_image(64)
    second = Image.new("L", (64, 64), 128)
    data = encode(first, "GIF", save_all=True, append_images=[second], duration=100, loop=0)
    with Image.open(io.BytesIO(data)) as check:
        assert getattr(check, "n_frames", 1) == 2
    decoded = decode_image(data, ImageLimits())
    assert np.array_equal(np.asarray(decoded.convert("L")), np.asarray(first))


def test_animated_webp_uses_the_first_frame():
    first, second = digit_image(64).convert("RGB"), Image.new("RGB", (64, 64), (128, 0, 0))
    data = encode(first, "WEBP", save_all=True, append_images=[second], lossless=True)
    decoded = np.asarray(decode_image(data, ImageLimits()).convert("L"), dtype=np.int16)
    assert np.abs(decoded - np.asarray(first.convert("L"), dtype=np.int16)).max() <= 2


def test_exif_orientation_is_applied():
    stored = Image.new("L", (64, 32), 0)
    stored.paste(255, (0, 0, 32, 32))  # left half white as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    data = encode(stored, "JPEG", quality=95, exif=exif.tobytes())
    image = decode_image(data, ImageLimits())
    assert image.size == (32, 64)
    pixels = np.asarray(image)
    assert pixels[:24].mean() > 200 and pixels[40:].mean() < 50  # white ends up on top


# -- sizes and speed ----------------------------------------------------------------------
def test_smallest_accepted_image():
    assert_model_input(image_bytes_to_array(encode(digit_image(8, stroke=0.3), "PNG"), SPEC))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_largest_accepted_image_is_read(fmt):
    # How long it takes is a benchmark's question (benchmarks/), not a unit test's.
    image = digit_image(4096, dark_on_light=True, offset=(0.3, 0.6), stroke=0.03)
    data = encode(image.convert("RGB") if fmt == "JPEG" else image, fmt)
    assert_model_input(image_bytes_to_array(data, SPEC, ImageLimits()))


def test_big_jpeg_is_decoded_in_draft_mode(monkeypatch):
    data = encode(digit_image(2048, dark_on_light=True).convert("RGB"), "JPEG")
    assert decode_image(data, ImageLimits()).size == (2048, 2048)
    drafted: list[tuple[int, int]] = []
    original = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        result = original(self, mode, size)
        drafted.append(self.size)  # the size libjpeg will decode at
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    reduced = decode_image(data, ImageLimits(), target_size=(448, 448))
    assert drafted == [(512, 512)]  # 1/4 scale: the smallest that still covers 448
    assert max(reduced.size) <= 448


# -- polarity and placement ---------------------------------------------------------------
POLARITY_CASES: dict[str, dict[str, Any]] = {
    "plain": {},
    "off-centre": {"offset": (0.25, 0.7)},
    "thin-strokes": {"stroke": 0.02},
    "big-canvas-thin": {"stroke": 0.015, "offset": (0.7, 0.3)},
}


@pytest.mark.parametrize("case", sorted(POLARITY_CASES))
def test_auto_polarity_gives_the_same_input_for_both_polarities(case):
    size = 512 if case.startswith("big") else 96
    light = prepare_image(digit_image(size, **POLARITY_CASES[case]), SPEC)
    dark = prepare_image(digit_image(size, dark_on_light=True, **POLARITY_CASES[case]), SPEC)
    assert np.abs(light - dark).mean() < 0.05
    assert light[0, 0, 0] == pytest.approx(LOW)  # background is dark after preprocessing


def test_photo_of_paper_with_shading_and_noise_reads_like_a_clean_digit():
    clean = prepare_image(digit_image(128), SPEC)
    paper = np.asarray(digit_image(128, dark_on_light=True), dtype=np.float32)
    ramp = np.linspace(-25, 10, 128, dtype=np.float32)[np.newaxis, :]
    noisy = paper * 0.75 + 40 + ramp + np.random.default_rng(0).normal(0, 4, paper.shape)
    photo = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    assert np.abs(prepare_image(photo, SPEC) - clean).mean() < 0.15


def test_ink_box_centres_and_scales_the_ink():
    near_corner = prepare_image(digit_image(256, offset=(0.25, 0.3)), SPEC)
    centred = prepare_image(digit_image(256), SPEC)
    # Not 0: the 256 px image is box-reduced to the ~4× working size, at a phase that
    # depends on the offset (the crop itself is sub-pixel); measured 0.021.
    assert np.abs(near_corner - centred).mean() < 0.025
    ink_rows = np.flatnonzero((centred[0] > 0.5).any(axis=1))
    assert ink_rows[0] >= 3 and ink_rows[-1] <= 24  # padding 0.15 of 28 px on each side


@pytest.mark.parametrize("size", [(9, 1400), (1400, 9), (8, 4096)])
def test_a_very_thin_image_with_a_line_is_read_not_a_crash(size):
    """Reduced to a working image one pixel across, the ink box still fits inside it (it
    used to reach past the edge: "box can't exceed original image size", a 500)."""
    width, height = size
    pixels = np.full((height, width), 255, np.uint8)
    if width < height:
        pixels[height // 3: 2 * height // 3, width // 2] = 0
    else:
        pixels[height // 2, width // 3: 2 * width // 3] = 0
    array = image_bytes_to_array(encode(Image.fromarray(pixels), "PNG"), SPEC)
    assert_model_input(array)


@pytest.mark.parametrize("policy", ["stretch", "fit-pad", "center-crop"])
def test_other_resize_policies(policy):
    spec = ImageSpec(height=32, width=48, mode="RGB", mean=(0.5,) * 3, std=(0.25,) * 3,
                     invert="never", resize=policy)
    wide = Image.new("RGB", (200, 50), (255, 255, 255))
    array = prepare_image(wide, spec)
    assert array.shape == (3, 32, 48) and array.dtype == np.float32
    white, black = (1 - 0.5) / 0.25, (0 - 0.5) / 0.25
    if policy == "fit-pad":  # letterboxed: black bars above and below
        assert array[:, 0].max() == pytest.approx(black) and array[:, 16].min() > 1.9
    else:
        assert array.min() == pytest.approx(white, abs=1e-4)


def test_invert_always_and_never():
    image = digit_image(64)
    never = prepare_image(image, ImageSpec(28, 28, invert="never", resize="stretch"))
    always = prepare_image(image, ImageSpec(28, 28, invert="always", resize="stretch"))
    np.testing.assert_allclose(never + always, 1.0, atol=1.01 / 255)  # uint8 rounding


# -- errors -------------------------------------------------------------------------------
def _truncated(fmt: str) -> bytes:
    data = encode(digit_image(256, dark_on_light=True), fmt)
    return data[: len(data) // 2]


ERRORS: dict[str, tuple[Callable[[], bytes], type[PreprocessingError], str]] = {
    "empty": (lambda: b"", InvalidImage, "empty_image"),
    "random-bytes": (lambda: np.random.default_rng(1).bytes(4096), InvalidImage,
                     "undecodable_image"),
    "text": (lambda: b'{"instances": []}', InvalidImage, "undecodable_image"),
    "truncated-png": (lambda: _truncated("PNG"), InvalidImage, "undecodable_image"),
    "truncated-jpeg": (lambda: _truncated("JPEG"), InvalidImage, "undecodable_image"),
    "png-signature-only": (lambda: b"\x89PNG\r\n\x1a\n", InvalidImage,
                           "undecodable_image"),
    "corrupt-png-body": (lambda: png_declaring(64, 64)[:40] + b"garbage" * 20,
                         InvalidImage, "undecodable_image"),
    "tiff": (lambda: encode(digit_image(), "TIFF"), UnsupportedImageFormat,
             "unsupported_image_format"),
    "ico": (lambda: encode(digit_image(), "ICO"), UnsupportedImageFormat,
            "unsupported_image_format"),
    "pdf": (lambda: b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n", UnsupportedImageFormat,
            "unsupported_image_format"),
    "svg": (lambda: b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>',
            UnsupportedImageFormat, "unsupported_image_format"),
    "bomb-20000x20000": (lambda: png_declaring(20000, 20000), ImageTooLarge,
                         "image_too_large"),
    "bomb-5000x5000": (lambda: png_declaring(5000, 5000), ImageTooLarge, "image_too_large"),
    "too-small": (lambda: encode(Image.new("L", (4, 30), 0), "PNG"), InvalidImage,
                  "image_too_small"),
    "side-too-long": (lambda: png_declaring(5000, 8), ImageTooLarge, "image_too_large"),
    "blank": (lambda: encode(Image.new("L", (64, 64), 200), "PNG"), InvalidImage,
              "blank_image"),
    "blank-jpeg-noise": (lambda: encode(Image.new("RGB", (64, 64), (90, 90, 90)), "JPEG"),
                         InvalidImage, "blank_image"),
}

HTTP_STATUS = {ImageTooLarge: 413, UnsupportedImageFormat: 415, InvalidImage: 422}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_bad_images_are_client_errors(case):
    make, error, code = ERRORS[case]
    with pytest.raises(error) as caught:
        image_bytes_to_array(make(), SPEC, ImageLimits())
    assert caught.value.code == code
    assert http_error_for(caught.value).status == HTTP_STATUS[error]
    assert caught.value.message


def test_unsupported_format_message_names_it_and_the_accepted_ones():
    with pytest.raises(UnsupportedImageFormat) as caught:
        decode_image(encode(digit_image(), "TIFF"), ImageLimits())
    assert "TIFF" in caught.value.message
    for accepted in ("PNG", "JPEG", "WebP", "BMP", "GIF"):
        assert accepted in caught.value.message


def test_size_errors_say_the_sizes():
    with pytest.raises(InvalidImage, match="4x30") as caught:
        decode_image(encode(Image.new("L", (4, 30), 0), "PNG"), ImageLimits())
    assert "8" in caught.value.message
    with pytest.raises(ImageTooLarge, match="5000x8"):
        decode_image(png_declaring(5000, 8), ImageLimits())


def test_byte_limit():
    data = encode(digit_image(), "PNG")
    with pytest.raises(ImageTooLarge) as caught:
        decode_image(data, ImageLimits(max_bytes=len(data) - 1))
    assert caught.value.code == "image_too_large"


def test_decompression_bomb_is_rejected_before_decoding():
    data = png_declaring(20000, 20000)
    tracemalloc.start()
    with pytest.raises(ImageTooLarge):
        decode_image(data, ImageLimits())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 2 * 1024 * 1024  # 20000² bytes would be 400 MB: nothing was decoded


def test_every_failure_is_an_http_error_never_a_crash():
    rng = np.random.default_rng(7)
    good = encode(digit_image(64, dark_on_light=True), "PNG")
    for _ in range(60):  # flip bytes after the signature: any outcome but a non-HTTP error
        corrupt = bytearray(good)
        for position in rng.integers(8, len(corrupt), size=4):
            corrupt[position] = int(rng.integers(0, 256))
        try:
            image_bytes_to_array(bytes(corrupt), SPEC, ImageLimits())
        except PreprocessingError as exc:
            assert http_error_for(exc).status in (413, 415, 422)


def test_truncated_images_stay_errors():
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_runtime_import_stays_light():
    code = ("import sys, preprocessing.imaging as m; "
            "heavy = [n for n in ('torch', 'sklearn', 'onnx', 'scipy', 'training', "
            "'PIL.TiffImagePlugin', 'PIL.ImageOps') if n in sys.modules]; print(heavy)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, cwd=ROOT, check=True)
    assert result.stdout.strip() == "[]"
