"""Image inputs: request bytes → a checked, decoded image → the model's float32 tensor.

    decode_image(data, limits, target_size)   bytes → PIL image, 8-bit "L" or "RGB"
    prepare_image(image, spec)                PIL image → float32 (C, H, W), per the manifest
    image_bytes_to_array(data, spec, limits)  both, the handler's one call per instance

``prepare_image`` (in ``imaging_prepare``) is also what training runs on every training and
test image, so a model sees exactly the same preprocessing when it is served.

Decoding is defensive, because the bytes come from the internet:

- the format is sniffed from the magic bytes and checked against an allowlist (PNG, JPEG,
  WebP, BMP, GIF) before any decoder runs; only that format's plugin is tried;
- the declared size is checked against ``ImageLimits`` from the header, before a single
  pixel is decoded, so a small file claiming 20000×20000 costs nothing;
- truncated files are errors (Pillow's ``LOAD_TRUNCATED_IMAGES`` is never switched on);
- animated GIF/WebP/PNG: the first frame is used and the rest are never decoded;
- EXIF orientation is applied; transparency is composited over white; 1-bit, palette,
  CMYK and 16/32-bit images become 8-bit "L" or "RGB";
- a large JPEG is decoded at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling, ``draft``) when
  the model input is much smaller than the photo.

Errors (``preprocessing.errors``, mapped to HTTP statuses by the handler runtime), by ``code``:

    415 unsupported_image_format  a real image format that is not on the allowlist (TIFF, ICO, ...)
    422 empty_image               zero bytes
    422 undecodable_image         not an image, truncated or corrupt
    422 image_too_small           a side below ``ImageLimits.min_side``
    422 blank_image               nothing to classify ("ink-box" found no ink; see imaging_prepare)
    413 image_too_large           too many bytes, pixels, or a side above ``max_side``
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

from model_store.manifest import ImageSpec
from preprocessing.errors import (
    ImageTooLarge,
    InvalidImage,
    PreprocessingError,
    UnsupportedImageFormat,
)
from preprocessing.prepare import (
    flatten_image,
    prepare_image,
    reduce_to,
    working_side,
)

__all__ = [
    "ACCEPTED_FORMATS",
    "ImageLimits",
    "decode_image",
    "flatten_image",
    "image_bytes_to_array",
    "prepare_image",
    "sniff_format",
]

ACCEPTED_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "WEBP", "BMP", "GIF")
_ACCEPTED_TEXT = "PNG, JPEG, WebP, BMP or GIF"
_REDUCIBLE_MODES = ("L", "RGB", "RGBA", "LA")  # Image.reduce works on these directly
_EXIF_ORIENTATION = 0x0112
_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# (offset, magic bytes, format name). Accepted formats first; the rest are recognised only
# so that the 415 can say what the client sent.
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", "PNG"),
    (0, b"\xff\xd8\xff", "JPEG"),
    (0, b"GIF87a", "GIF"),
    (0, b"GIF89a", "GIF"),
    (0, b"BM", "BMP"),
    (0, b"II*\x00", "TIFF"),
    (0, b"MM\x00*", "TIFF"),
    (0, b"II+\x00", "TIFF"),
    (0, b"MM\x00+", "TIFF"),
    (0, b"\x00\x00\x01\x00", "ICO"),
    (0, b"\x00\x00\x02\x00", "CUR"),
    (0, b"icns", "ICNS"),
    (0, b"%PDF", "PDF"),
    (0, b"%!PS", "PostScript"),
    (0, b"\xc5\xd0\xd3\xc6", "EPS"),
    (0, b"8BPS", "PSD"),
    (0, b"qoif", "QOI"),
    (0, b"DDS ", "DDS"),
    (0, b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
    (0, b"\xff\x4f\xff\x51", "JPEG 2000"),
    (0, b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JPEG XL"),
    (0, b"\xff\x0a", "JPEG XL"),
    (0, b"PK\x03\x04", "ZIP"),
)
_ISO_BRANDS = {b"avif": "AVIF", b"avis": "AVIF", b"heic": "HEIC", b"heix": "HEIC",
               b"mif1": "HEIF", b"msf1": "HEIF", b"heif": "HEIF"}


@dataclass(frozen=True)
class ImageLimits:
    """What one image instance may cost: checked before its pixels are decoded."""

    max_bytes: int = 5 * 1024 * 1024
    max_pixels: int = 4096 * 4096
    min_side: int = 8
    max_side: int = 4096


DEFAULT_LIMITS = ImageLimits()


def sniff_format(data: bytes) -> str | None:
    """The image format the magic bytes announce (Pillow's names for accepted ones), or None."""
    head = data[:32]
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:4] == b"RIFF":
        return "RIFF (not WebP)"
    if head[4:8] == b"ftyp":
        return _ISO_BRANDS.get(head[8:12], "ISO media (MP4/HEIF)")
    for offset, magic, name in _SIGNATURES:
        if head[offset:offset + len(magic)] == magic:
            return name
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<?xml", b"<svg", b"<!doctype svg")):
        return "SVG/XML"
    return None


def decode_image(data: bytes, limits: ImageLimits = DEFAULT_LIMITS,
                 target_size: tuple[int, int] | None = None,
                 draft_mode: str | None = None) -> Image.Image:
    """Decode untrusted image bytes into an 8-bit "L" or "RGB" image, or raise a PreprocessingError.

    ``target_size`` (width, height) is the smallest size the caller needs; a JPEG much larger
    than that is decoded directly at a reduced scale that still covers it, and any other
    image is box-reduced by an integer factor to about that size. ``draft_mode="L"`` lets a
    colour JPEG decode its luma plane only (no colour conversion) when grey is all that's used.
    """
    if not data:
        raise InvalidImage("the image is empty (0 bytes); send the image file's bytes",
                                    code="empty_image")
    if len(data) > limits.max_bytes:
        raise ImageTooLarge(f"the image is {len(data)} bytes; the limit is {limits.max_bytes}",
                              code="image_too_large")
    detected = sniff_format(data)
    if detected is None:
        raise InvalidImage(
            f"the bytes are not a recognisable image (they start with {data[:8]!r}); "
            f"send a {_ACCEPTED_TEXT} file", code="undecodable_image")
    if detected not in ACCEPTED_FORMATS:
        raise UnsupportedImageFormat(
            f"image format {detected} is not supported; send {_ACCEPTED_TEXT}",
            code="unsupported_image_format")
    image = _open_header(data, detected, limits)
    if detected == "JPEG" and target_size is not None:
        # libjpeg decodes at 1/2, 1/4 or 1/8 scale, never below target_size: far less work.
        image.draft(draft_mode, (max(1, target_size[0]), max(1, target_size[1])))
    _decode_pixels(image, detected)
    image = _apply_exif_orientation(image)
    if target_size is not None:
        # Box-reduce before flattening: compositing 16 M RGBA pixels costs more than decoding.
        side = max(target_size)
        if image.mode in _REDUCIBLE_MODES:
            image = reduce_to(image, side)
        return reduce_to(flatten_image(image), side)
    return flatten_image(image)


def image_bytes_to_array(data: bytes, spec: ImageSpec,
                         limits: ImageLimits = DEFAULT_LIMITS) -> npt.NDArray[np.float32]:
    """Request bytes → the model's input tensor for one instance, float32 (C, H, W)."""
    side = working_side(spec)
    return prepare_image(decode_image(data, limits, target_size=(side, side),
                                      draft_mode="L" if spec.mode == "L" else None), spec)


# -- steps -----------------------------------------------------------------------------
def _open_header(data: bytes, detected: str, limits: ImageLimits) -> Image.Image:
    """Parse the header only (no pixels yet) and enforce the size limits on what it declares."""
    if detected == "WEBP":
        # Registers the plugin without Image.init(), which would import every plugin.
        from PIL import WebPImagePlugin  # noqa: F401
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[detected])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge(f"the {detected} image declares too many pixels ({exc}); "
                              f"the limit is {limits.max_pixels}", code="image_too_large") from exc
    except Exception as exc:  # Pillow's plugins raise many types on malformed headers
        raise _undecodable(detected, exc) from exc
    _check_size(image.size, limits)
    return image


def _check_size(size: tuple[int, int], limits: ImageLimits) -> None:
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


def _decode_pixels(image: Image.Image, detected: str) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()  # for animations this decodes the first frame only
    except PreprocessingError:
        raise
    except Exception as exc:  # truncated data, bad chunks, decoder errors: the client's file
        raise _undecodable(detected, exc) from exc


def _apply_exif_orientation(image: Image.Image) -> Image.Image:
    """Rotate/flip as the EXIF Orientation tag says (like ImageOps.exif_transpose, no copy)."""
    try:
        orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # a corrupt EXIF block is not worth failing the request for
        return image
    method = _ORIENTATION_TRANSPOSE.get(orientation) if isinstance(orientation, int) else None
    return image if method is None else image.transpose(method)


def _undecodable(detected: str, exc: BaseException) -> InvalidImage:
    reason = str(exc).strip() or type(exc).__name__
    return InvalidImage(
        f"the {detected} image could not be decoded ({reason[:200]}); it may be truncated "
        "or corrupt", code="undecodable_image")
