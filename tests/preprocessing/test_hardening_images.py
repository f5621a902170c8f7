"""Images: every common variant read correctly (16-bit greyscale scaled to the bits it uses),
and what one image or one request may cost, checked from headers before decoding."""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from benchmarks import hostile_inputs as hostile
from featherserve.support.events import load_event, with_body
from model_runtime import Settings, serve_model
from preprocessing.errors import ImageTooLarge, InvalidImage
from preprocessing.high_depth import png_significant_bits, sixteen_bit_to_l
from preprocessing.imaging import decode_image
from preprocessing.limits import (
    MAX_JPEG_SCANS,
    DecodeBudget,
    ImageLimits,
    decode_cost,
)
from tests.support.contract import check_answer

ROOT = Path(__file__).resolve().parents[2]
SIDE = 96


def digit(mode: str = "L", side: int = SIDE) -> Image.Image:
    return hostile.digit(side).convert(mode)


def encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    return hostile.encode(image, fmt, **options)


def grey16(scale: float, side: int = SIDE) -> np.ndarray:
    return np.rint(np.asarray(digit("L", side)).astype(np.float64) * scale).astype(np.uint16)


def with_chunk(png: bytes, kind: bytes, data: bytes) -> bytes:
    """``png`` with a chunk inserted right after IHDR (where sBIT, tEXt... may go)."""
    chunk = (struct.pack(">I", len(data)) + kind + data
             + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    return png[:33] + chunk + png[33:]


def exif_rotated() -> bytes:
    """Pixels stored turned 90° clockwise, with the EXIF tag (6) that says so."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(digit("RGB").transpose(Image.Transpose.ROTATE_90), "JPEG", exif=exif)


def animated(fmt: str) -> bytes:
    frames = [digit("RGB")] + [Image.new("RGB", (SIDE, SIDE), (90, 90, 90))] * 2
    buffer = io.BytesIO()
    frames[0].save(buffer, format=fmt, save_all=True, append_images=frames[1:], duration=80,
                   loop=0)
    return buffer.getvalue()


def transparent(mode: str) -> Image.Image:
    """The digit as opaque ink on a fully transparent background (composited over white)."""
    ink = np.asarray(digit("L")) < 128
    rgba = np.zeros((SIDE, SIDE, 4), np.uint8)
    rgba[ink] = (20, 20, 20, 255)
    image = Image.fromarray(rgba)
    return image.convert(mode) if mode != "RGBA" else image


VARIANTS = {
    "png-grey": lambda: encode(digit(), "PNG"),
    "png-grey-alpha": lambda: encode(transparent("LA"), "PNG"),
    "png-rgb": lambda: encode(digit("RGB"), "PNG"),
    "png-rgba": lambda: encode(transparent("RGBA"), "PNG"),
    "png-palette": lambda: encode(digit("P"), "PNG"),
    "png-palette-transparent": lambda: encode(transparent("RGBA").convert("P"), "PNG"),
    "png-1-bit": lambda: encode(digit("1"), "PNG"),
    "png-4-bit-palette": lambda: encode(digit("RGB").quantize(16), "PNG", bits=4),
    "png-16-bit-full-range": lambda: encode(Image.fromarray(grey16(257)), "PNG"),
    "png-16-bit-12-bit-camera": lambda: encode(Image.fromarray(grey16(4095 / 255)), "PNG"),
    "png-16-bit-10-bit-camera": lambda: encode(Image.fromarray(grey16(1023 / 255)), "PNG"),
    "png-16-bit-8-bit-values": lambda: encode(Image.fromarray(grey16(1)), "PNG"),
    "png-16-bit-sbit-12": lambda: with_chunk(
        encode(Image.fromarray(grey16(4095 / 255)), "PNG"), b"sBIT", b"\x0c"),
    "png-16-bit-rgba": lambda: hostile.png_rgba16(SIDE),
    "png-interlaced": lambda: hostile.png_interlaced(SIDE),
    "apng": lambda: animated("PNG"),
    "jpeg-grey": lambda: encode(digit(), "JPEG"),
    "jpeg-rgb-420": lambda: encode(digit("RGB"), "JPEG", subsampling=2),
    "jpeg-progressive": lambda: encode(digit("RGB"), "JPEG", progressive=True),
    "jpeg-cmyk": lambda: encode(digit("CMYK"), "JPEG"),
    "jpeg-exif-rotated": exif_rotated,
    "jpeg-large": lambda: encode(digit("RGB", 3000), "JPEG", quality=70),
    "webp-lossy": lambda: encode(digit("RGB"), "WEBP"),
    "webp-lossless": lambda: encode(digit(), "WEBP", lossless=True),
    "webp-alpha": lambda: encode(transparent("RGBA"), "WEBP", lossless=True),
    "webp-animated": lambda: animated("WEBP"),
    "bmp-24": lambda: encode(digit("RGB"), "BMP"),
    "bmp-8-palette": lambda: encode(digit("P"), "BMP"),
    "bmp-1-bit": lambda: encode(digit("1"), "BMP"),
    "bmp-rle8": lambda: hostile.bmp_rle8(SIDE),
    "gif": lambda: encode(digit(), "GIF"),
    "gif-interlaced-transparent": lambda: encode(transparent("RGBA").convert("P"), "GIF",
                                                 interlace=True),
    "gif-animated": lambda: animated("GIF"),
}


@pytest.fixture(scope="module")
def digits():
    return serve_model("digits", settings=Settings(model_source=str(ROOT / "models"),
                                                   warmup=0))


def predict(handler: Any, *images: bytes) -> dict[str, Any]:
    body = json.dumps({"instances": [{"b64": base64.b64encode(i).decode()} for i in images]})
    event = with_body(load_event("digits_predict_v2"), body, content_type="application/json")
    response = handler(event, None)
    payload = check_answer(response)
    assert response["statusCode"] == 200, response["body"]
    return payload


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_common_variant_reads_the_seven(digits, variant):
    payload = predict(digits, VARIANTS[variant]())
    assert payload["predictions"][0]["label"] == "7"


@pytest.mark.parametrize(("variant", "scale"), [
    ("png-16-bit-full-range", 257), ("png-16-bit-12-bit-camera", 4095 / 255),
    ("png-16-bit-10-bit-camera", 1023 / 255), ("png-16-bit-8-bit-values", 1),
    ("png-16-bit-sbit-12", 4095 / 255)])
def test_16_bit_grey_uses_the_bits_it_has_and_keeps_the_8_bit_picture(variant, scale):
    reference = np.asarray(digit(), dtype=np.int16)
    decoded = np.asarray(decode_image(VARIANTS[variant]()), dtype=np.int16)
    assert decoded.shape == reference.shape
    assert int(np.abs(decoded - reference).max()) <= 1  # neither dimmed, nor clipped


def test_16_bit_scaling_rules():
    full = Image.fromarray(np.array([[0, 257 * 128, 65535]] * 8, np.uint16))
    assert np.asarray(sixteen_bit_to_l(full, None, None))[0].tolist() == [0, 128, 255]
    twelve = Image.fromarray(np.array([[0, 2048, 4095]] * 8, np.uint16))
    assert np.asarray(sixteen_bit_to_l(twelve, None, None))[0].tolist() == [0, 128, 255]
    # sBIT says 12 bits, but the values were scaled to 16 (as the PNG spec asks): /65535.
    scaled = Image.fromarray(np.array([[0, 2048 << 4, 65520]] * 8, np.uint16))
    assert np.asarray(sixteen_bit_to_l(scaled, None, 12))[0].tolist() == [0, 128, 255]
    # Shrunk in 16 bits first: the big frame never becomes a float64 array of its size.
    big = Image.fromarray(np.full((2048, 2048), 40000, np.uint16))
    small = sixteen_bit_to_l(big, 256, None)
    assert small.size == (256, 256) and small.mode == "L"
    assert png_significant_bits(VARIANTS["png-16-bit-sbit-12"]()) == 12
    assert png_significant_bits(VARIANTS["png-16-bit-full-range"]()) is None


def test_decode_cost_from_headers():
    assert decode_cost("PNG", "L", (100, 10)) == 1000
    assert decode_cost("PNG", "RGBA", (100, 10), sample_bytes=2) == 8000
    assert decode_cost("PNG", "I;16", (100, 10)) == 2000
    assert decode_cost("GIF", "P", (100, 10)) == 4000  # a palette expands to RGBA
    assert decode_cost("WEBP", "RGB", (100, 10)) == 12000  # libwebp's copies
    assert decode_cost("JPEG", "L", (100, 10), progressive_scans=10) == 2000
    assert decode_cost("JPEG", "L", (100, 10), progressive_scans=64) == 16000


def test_the_budget_lets_the_first_image_through_and_refuses_past_the_limit():
    budget = DecodeBudget(limit=1000)
    budget.charge(5000, (50, 100))  # the first: its own ImageLimits bound it
    with pytest.raises(ImageTooLarge) as refused:
        budget.charge(1, (1, 1))
    assert refused.value.code == "too_many_pixels"
    budget = DecodeBudget(limit=1000)
    budget.charge(600, (20, 30))
    budget.charge(400, (20, 20))
    with pytest.raises(ImageTooLarge):
        budget.charge(1, (1, 1))


def test_a_request_of_many_declared_4096_images_is_refused_before_decoding(digits):
    frame = hostile.png16_grey()
    body = json.dumps({"instances": [{"b64": base64.b64encode(frame).decode()}] * 64})
    event = with_body(load_event("digits_predict_v2"), body, content_type="application/json")
    response = digits(event, None)
    error = check_answer(response)["error"]
    assert (response["statusCode"], error["code"]) == (413, "too_many_pixels")
    assert "fewer or smaller images" in error["message"]


@pytest.mark.parametrize(("data", "code"), [
    (lambda: hostile.jpeg_progressive(64, scans=MAX_JPEG_SCANS + 1), "image_too_complex"),
    (lambda: hostile.webp_lossless(4096), "image_too_large"),
    (lambda: hostile.jpeg_progressive(4096, scans=64), "image_too_large"),
])
def test_one_image_that_would_cost_too_much_is_refused_from_its_header(data, code):
    with pytest.raises(ImageTooLarge) as refused:
        decode_image(data(), ImageLimits(max_bytes=10**8), target_size=(448, 448))
    assert refused.value.code == code


def test_png_text_chunks_cannot_inflate_to_megabytes():
    with pytest.raises(InvalidImage) as refused:
        decode_image(hostile.png_text_bomb(chunks=8))
    assert refused.value.code == "undecodable_image"
    small_text = with_chunk(encode(digit(), "PNG"), b"tEXt", b"Comment\x00scanned at 600 dpi")
    assert decode_image(small_text).size == (SIDE, SIDE)


@pytest.mark.parametrize("data", [
    b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,
    b"\xff\xd8\xff\xe0" + b"\x00" * 40,
    b"GIF89a" + b"\xff" * 40,
    b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"\x00" * 40,
    b"BM" + b"\x00" * 60,
    b"\x00\x01\x02\x03 not an image",
])
def test_undecodable_messages_describe_the_file_not_the_decoder(data):
    with pytest.raises(InvalidImage) as refused:
        decode_image(data)
    message = refused.value.message
    assert "BytesIO" not in message and "object at" not in message and "Error" not in message
    assert "b'" not in message  # bytes are shown as hex, not as a Python literal
