"""What decoding one image, and all the images of one request, may cost: checked from the
file's header and structure before any pixel is decoded.

    ImageLimits    per image: bytes, pixels, shortest and longest side
    PixelBudget    per request: the declared pixels of all its images together
    check_jpeg_scans
                   a progressive JPEG re-reads its whole coefficient buffer once per scan,
                   so a few KB of empty scans can cost seconds; real files have about 10

Decoding cost grows with the pixels a file declares, not with its size on the wire: a
42 KB PNG can declare 4096×4096 16-bit pixels. The budget is charged with the declared
size (before any draft or reduction), so its bound holds for every format.
"""

from __future__ import annotations

from dataclasses import dataclass

from preprocessing.errors import ImageTooLarge, InvalidImage

# 4 × 4096² pixels per request: the slowest format this size decodes in ~0.25 s on one
# Lambda vCPU share, and 4 full-size phone photos or thousands of small images still fit.
DEFAULT_REQUEST_PIXELS = 4 * 4096 * 4096
# libjpeg's progressive mode writes ~10 scans (mozjpeg up to ~20); 64 leaves room for any
# encoder and stops the many-empty-scans trick.
MAX_JPEG_SCANS = 64
_SOS = b"\xff\xda"


@dataclass(frozen=True)
class ImageLimits:
    """What one image instance may cost: checked before its pixels are decoded."""

    max_bytes: int = 5 * 1024 * 1024
    max_pixels: int = 4096 * 4096
    min_side: int = 8
    max_side: int = 4096


class PixelBudget:
    """The pixels one request may still decode; each image is charged before it is decoded."""

    def __init__(self, limit: int = DEFAULT_REQUEST_PIXELS) -> None:
        self.limit = limit
        self.used = 0

    def charge(self, width: int, height: int) -> None:
        pixels = width * height
        if self.used + pixels > self.limit:
            raise ImageTooLarge(
                f"the images of this request declare more than {self.limit} pixels in total "
                f"(this one is {width}x{height}); send fewer or smaller images per request",
                code="too_many_pixels")
        self.used += pixels


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


def check_jpeg_scans(data: bytes) -> None:
    """Refuse a JPEG with more scans than any encoder writes (a scan-flood costs seconds).

    Inside entropy-coded data 0xFF is always followed by 0x00 or a restart marker, so
    every FF DA is a real start-of-scan (an embedded EXIF thumbnail adds one or two).
    """
    scans = data.count(_SOS)
    if scans > MAX_JPEG_SCANS:
        raise ImageTooLarge(
            f"the JPEG has {scans} scans; the limit is {MAX_JPEG_SCANS} (ordinary progressive "
            "JPEGs have about 10): re-encode it", code="image_too_complex")
