"""What decoding one image, and all the images of one request, may cost: checked from the
file's header and structure before any pixel is decoded.

    ImageLimits    per image: bytes, pixels, shortest and longest side
    DecodeBudget   per request: what all its images together may decode, in raster bytes
    decode_cost    one image's raster bytes, from its header (mode, bit depth, JPEG scans)
    check_jpeg_scans
                   a progressive JPEG re-reads its whole coefficient buffer once per scan,
                   so a few KB of empty scans can cost seconds; real files have about 10

Decoding time and memory grow with the raster a file declares, not with its size on the
wire: a 42 KB PNG can declare 4096×4096 16-bit pixels. On this kind of CPU every format
decodes at about 3-5 ms per MB of raster (measured: ``python -m benchmarks.worst_case``),
so the request budget is a time budget too.
"""

from __future__ import annotations

from dataclasses import dataclass

from preprocessing.errors import ImageTooLarge, InvalidImage

# 96 MiB of raster per request: one 4096×4096 RGBA PNG, five 8-bit greyscale ones, or
# thousands of small images; under half a second of decoding on one core here.
DEFAULT_REQUEST_BUDGET = 96 * 1024 * 1024
# One image may cost more than a request's budget (the first image always decodes), up to
# this: a 4096×4096 16-bit RGBA PNG (128 MiB), a 13.9 M-pixel WebP (see decode_cost).
DEFAULT_IMAGE_BUDGET = 160 * 1024 * 1024
# libjpeg's progressive mode writes ~10 scans (mozjpeg up to ~20); 64 leaves room for any
# encoder and stops the many-empty-scans trick.
MAX_JPEG_SCANS = 64
# A progressive JPEG keeps every DCT coefficient (2 bytes a sample) until its last scan,
# whatever the output scale, and walks them once per scan: cost grows past 8 scans.
_PROGRESSIVE_SCANS_FREE = 8
_SOS = b"\xff\xda"
# Pillow decodes WebP through libwebp's animation decoder, whatever the file: its RGBA
# canvas, the RGBA frame it hands over, and Pillow's own image are alive at once.
_WEBP_BYTES_PER_PIXEL = 12
_BANDS = {"1": 1, "L": 1, "P": 4, "PA": 4, "LA": 2, "La": 2, "RGB": 3, "YCbCr": 3,
          "LAB": 3, "HSV": 3, "RGBA": 4, "RGBa": 4, "RGBX": 4, "CMYK": 4, "I": 4, "F": 4}


@dataclass(frozen=True)
class ImageLimits:
    """What one image instance may cost: checked before its pixels are decoded."""

    max_bytes: int = 5 * 1024 * 1024
    max_pixels: int = 4096 * 4096
    min_side: int = 8
    max_side: int = 4096
    max_decode_bytes: int = DEFAULT_IMAGE_BUDGET


class DecodeBudget:
    """What one request may still decode (raster bytes); each image is charged before it
    is decoded. The first image is always let through: its own ``ImageLimits`` bound it."""

    def __init__(self, limit: int = DEFAULT_REQUEST_BUDGET) -> None:
        self.limit = limit
        self.used = 0

    def charge(self, cost: int, size: tuple[int, int]) -> None:
        if self.used and self.used + cost > self.limit:
            raise ImageTooLarge(
                f"the images of this request decode to more than {self.limit // 2**20} MiB "
                f"of pixels together (this one is {size[0]}x{size[1]}); send fewer or "
                "smaller images per request", code="too_many_pixels")
        self.used += cost


def decode_cost(fmt: str, mode: str, size: tuple[int, int], *, sample_bytes: int = 1,
                progressive_scans: int = 0) -> int:
    """The raster bytes decoding an image costs: pixels × bands (palettes expand to RGBA)
    × bytes per sample; a progressive JPEG's coefficient passes, WebP's extra copies."""
    pixels = size[0] * size[1]
    if fmt == "WEBP":
        return pixels * _WEBP_BYTES_PER_PIXEL
    bands = 2 if mode.startswith("I;16") else _BANDS.get(mode, 4)
    if progressive_scans:
        return pixels * bands * 2 * max(1, progressive_scans // _PROGRESSIVE_SCANS_FREE)
    return pixels * bands * sample_bytes


def check_cost(cost: int, size: tuple[int, int], limits: ImageLimits) -> None:
    if cost > limits.max_decode_bytes:
        raise ImageTooLarge(
            f"the image is {size[0]}x{size[1]} pixels and would take {cost // 2**20} MiB to "
            f"decode; the limit is {limits.max_decode_bytes // 2**20} MiB: send it smaller",
            code="image_too_large")


def check_size(size: tuple[int, int], limits: ImageLimits) -> None:
    width, height = size
    if min(width, height) < limits.min_side:
        raise InvalidImage(
            f"the image is {width}x{height} pixels; each side must be at least "
            f"{limits.min_side}", code="image_too_small")
    if max(width, height) > limits.max_side:
        raise ImageTooLarge(
            f"the image is {width}x{height} pixels; each side must be at most "
            f"{limits.max_side}", code="image_too_large")
    if width * height > limits.max_pixels:
        raise ImageTooLarge(
            f"the image is {width}x{height} = {width * height} pixels; the limit is "
            f"{limits.max_pixels}", code="image_too_large")


def check_jpeg_scans(data: bytes) -> int:
    """A JPEG's scan count; more than any encoder writes is refused (a scan flood costs seconds).

    Inside entropy-coded data 0xFF is always followed by 0x00 or a restart marker, so
    every FF DA is a real start-of-scan (an embedded EXIF thumbnail adds one or two).
    """
    scans = data.count(_SOS)
    if scans > MAX_JPEG_SCANS:
        raise ImageTooLarge(
            f"the JPEG has {scans} scans; the limit is {MAX_JPEG_SCANS} (ordinary progressive "
            "JPEGs have about 10): re-encode it", code="image_too_complex")
    return scans
