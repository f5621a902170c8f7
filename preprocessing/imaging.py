"""Image inputs: request bytes → a checked, decoded image → the model's float32 tensor.

    decode_image(data, limits, target_size)   bytes → PIL image, 8-bit "L" or "RGB"
    decode_for_spec(data, spec, limits)       bytes → the image prepare_image gets for spec
    prepare_image(image, spec)                PIL image → float32 (C, H, W), per the manifest
    image_bytes_to_array(data, spec, limits)  both, the handler's one call per instance

Training reads every file of an image folder with ``decode_for_spec`` (TIFF allowed too,
``TRAINING_FORMATS``) and then runs ``prepare_image``: the same two calls, so a served image
is decoded (JPEG draft scale, EXIF orientation, early box reduction) exactly like a trained one.

``prepare_image`` (in ``preprocessing.prepare``) is also what training runs on every training and
test image, so a model sees exactly the same preprocessing when it is served.

Decoding is defensive, because the bytes come from the internet:

- the format is sniffed from the magic bytes and checked against an allowlist (PNG, JPEG,
  WebP, BMP, GIF) before any decoder runs; only that format's plugin is tried;
- the declared size is checked against ``ImageLimits`` from the header, before a single
  pixel is decoded, so a small file claiming 20000×20000 costs nothing; a request's
  images together are charged to one ``DecodeBudget`` the same way (``preprocessing.limits``);
- a JPEG with more progressive scans than any encoder writes is refused unread, and PNG
  text chunks may inflate to 256 KB each, 1 MB per image (Pillow allows 1 MB and 64 MB);
- truncated files are errors (Pillow's ``LOAD_TRUNCATED_IMAGES`` is never switched on);
- animated GIF/WebP/PNG: the first frame is used and the rest are never decoded;
- EXIF orientation is applied; transparency is composited over white; 1-bit, palette,
  CMYK images become 8-bit "L" or "RGB"; 16-bit greyscale is shrunk first, then scaled to
  the bits it really uses (``preprocessing.high_depth``);
- error messages describe the file, never the decoder's internals (they reach clients).
- a large JPEG is decoded at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling, ``draft``) when
  the model input is much smaller than the photo.

Errors (``preprocessing.errors``, mapped to HTTP statuses by the handler runtime), by ``code``:

    415 unsupported_image_format  a real image format that is not on the allowlist (TIFF, ICO, ...)
    422 empty_image               zero bytes
    422 undecodable_image         not an image, truncated or corrupt
    422 image_too_small           a side below ``ImageLimits.min_side``
    422 blank_image               nothing to classify (the ink box found no ink: ``prepare``)
    413 image_too_large           too many bytes, pixels, or a side above ``max_side``
    413 too_many_pixels           the request's images together exceed its ``DecodeBudget``
    413 image_too_complex         a JPEG with more than ``MAX_JPEG_SCANS`` scans
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import numpy.typing as npt
from PIL import Image, PngImagePlugin

from model_store.manifest import ImageSpec
from preprocessing.errors import (
    ImageTooLarge,
    InvalidImage,
    PreprocessingError,
    UnsupportedImageFormat,
)
from preprocessing.formats import sniff_format
from preprocessing.high_depth import SIXTEEN_BIT_MODES, png_significant_bits, sixteen_bit_to_l
from preprocessing.limits import (
    DecodeBudget,
    ImageLimits,
    check_cost,
    check_jpeg_scans,
    check_size,
    decode_cost,
)
from preprocessing.prepare import (
    flatten_image,
    prepare_image,
    reduce_to,
    working_side,
)

__all__ = [
    "ACCEPTED_FORMATS",
    "TRAINING_FORMATS",
    "DecodeBudget",
    "ImageLimits",
    "decode_for_spec",
    "decode_image",
    "flatten_image",
    "image_bytes_to_array",
    "prepare_image",
    "sniff_format",
]

ACCEPTED_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "WEBP", "BMP", "GIF")
# A training folder is the user's own files on their own machine: TIFF (scanners, cameras,
# microscopes) is read there; requests keep the HTTP contract's list above.
TRAINING_FORMATS: tuple[str, ...] = (*ACCEPTED_FORMATS, "TIFF")
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

# Text chunks (tEXt/zTXt/iTXt/iCCP) are inflated while the header is read, before any size
# check: bounded here so a PNG full of compressed text costs little (Pillow allows 64 MB).
PngImagePlugin.MAX_TEXT_CHUNK = 256 * 1024
PngImagePlugin.MAX_TEXT_MEMORY = 1024 * 1024
DEFAULT_LIMITS = ImageLimits()


def decode_image(data: bytes, limits: ImageLimits = DEFAULT_LIMITS,
                 target_size: tuple[int, int] | None = None,
                 draft_mode: str | None = None,
                 budget: DecodeBudget | None = None,
                 formats: tuple[str, ...] = ACCEPTED_FORMATS) -> Image.Image:
    """Decode untrusted image bytes into an 8-bit "L" or "RGB" image, or raise a PreprocessingError.

    ``target_size`` (width, height) is the smallest size the caller needs; a JPEG much larger
    than that is decoded directly at a reduced scale that still covers it, and any other
    image is box-reduced by an integer factor to about that size. ``draft_mode="L"`` lets a
    colour JPEG decode its luma plane only (no colour conversion) when grey is all that's used.
    ``budget``: the request's decode budget, charged with this image's raster before decoding.
    ``formats``: the allowlist (``TRAINING_FORMATS`` adds TIFF for training folders).
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
            f"the bytes are not a recognisable image (they start with {data[:8].hex(' ')}); "
            f"send a {_ACCEPTED_TEXT} file", code="undecodable_image")
    if detected not in formats:
        accepted = (_ACCEPTED_TEXT if formats == ACCEPTED_FORMATS
                    else _ACCEPTED_TEXT.replace(" or ", ", ") + " or TIFF")
        raise UnsupportedImageFormat(
            f"image format {detected} is not supported; send {accepted}",
            code="unsupported_image_format")
    scans = check_jpeg_scans(data) if detected == "JPEG" else 0
    image = _open_header(data, detected, limits)
    declared = image.size
    if detected == "JPEG" and target_size is not None:
        # libjpeg decodes at 1/2, 1/4 or 1/8 scale, never below target_size: far less work.
        image.draft(draft_mode, (max(1, target_size[0]), max(1, target_size[1])))
    cost = _cost(image, detected, data, declared, scans)
    check_cost(cost, declared, limits)
    if budget is not None:
        budget.charge(cost, declared)
    _decode_pixels(image, detected)
    image = _apply_exif_orientation(image)
    side = max(target_size) if target_size is not None else None
    if image.mode in SIXTEEN_BIT_MODES:
        significant = png_significant_bits(data) if detected == "PNG" else None
        image = sixteen_bit_to_l(image, side, significant)
    if side is not None:
        # Box-reduce before flattening: compositing 16 M RGBA pixels costs more than decoding.
        if image.mode in _REDUCIBLE_MODES:
            image = reduce_to(image, side)
        return reduce_to(flatten_image(image), side)
    return flatten_image(image)


def decode_for_spec(data: bytes, spec: ImageSpec, limits: ImageLimits = DEFAULT_LIMITS,
                    budget: DecodeBudget | None = None,
                    formats: tuple[str, ...] = ACCEPTED_FORMATS) -> Image.Image:
    """Image bytes → the decoded image ``prepare_image(·, spec)`` takes, as a request gets it."""
    side = working_side(spec)
    return decode_image(data, limits, target_size=(side, side),
                        draft_mode="L" if spec.mode == "L" else None, budget=budget,
                        formats=formats)


def image_bytes_to_array(data: bytes, spec: ImageSpec, limits: ImageLimits = DEFAULT_LIMITS,
                         budget: DecodeBudget | None = None) -> npt.NDArray[np.float32]:
    """Request bytes → the model's input tensor for one instance, float32 (C, H, W)."""
    return prepare_image(decode_for_spec(data, spec, limits, budget), spec)


# -- steps -----------------------------------------------------------------------------
def _open_header(data: bytes, detected: str, limits: ImageLimits) -> Image.Image:
    """Parse the header only (no pixels yet) and enforce the size limits on what it declares."""
    if detected == "WEBP":
        # Registers the plugin without Image.init(), which would import every plugin.
        from PIL import WebPImagePlugin  # noqa: F401
    elif detected == "TIFF":  # training folders only (TRAINING_FORMATS)
        from PIL import TiffImagePlugin  # noqa: F401
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[detected])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge(f"the {detected} image declares more pixels than the limit of "
                            f"{limits.max_pixels}", code="image_too_large") from exc
    except Exception as exc:  # Pillow's plugins raise many types on malformed headers
        raise _undecodable(detected) from exc
    check_size(image.size, limits)
    return image


def _cost(image: Image.Image, detected: str, data: bytes, declared: tuple[int, int],
          scans: int) -> int:
    if detected == "JPEG" and image.info.get("progressive"):
        return decode_cost(detected, image.mode, declared, progressive_scans=max(scans, 1))
    # PNG's IHDR: bit depth at byte 24, interlace method at 28 (Adam7 decodes in 7 passes).
    factor = 1
    if detected == "PNG":
        factor = (2 if data[24:25] == b"\x10" else 1) * (2 if data[28:29] == b"\x01" else 1)
    return decode_cost(detected, image.mode, image.size, sample_bytes=factor)


def _decode_pixels(image: Image.Image, detected: str) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()  # for animations this decodes the first frame only
    except PreprocessingError:
        raise
    except Exception as exc:  # truncated data, bad chunks, decoder errors: the client's file
        raise _undecodable(detected) from exc


def _apply_exif_orientation(image: Image.Image) -> Image.Image:
    """Rotate/flip as the EXIF Orientation tag says (like ImageOps.exif_transpose, no copy)."""
    try:
        orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # a corrupt EXIF block is not worth failing the request for
        return image
    method = _ORIENTATION_TRANSPOSE.get(orientation) if isinstance(orientation, int) else None
    return image if method is None else image.transpose(method)


def _undecodable(detected: str) -> InvalidImage:
    # The decoder's own words name its buffers and internals (``<_io.BytesIO object at
    # 0x...>``): the cause stays chained for the log, the client gets a description.
    return InvalidImage(
        f"the {detected} image could not be decoded: it is truncated, corrupt or not "
        f"really a {detected} file", code="undecodable_image")
