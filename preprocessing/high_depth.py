"""16-bit greyscale (PNG) → 8-bit grey: shrunk first, then scaled to the bits really used.

Scanners write the full 0..65535 range; scientific and machine-vision cameras write their
10-, 12- or 14-bit readings into 16-bit PNGs unscaled (a 12-bit frame is 0..4095), often
without the ``sBIT`` chunk that would say so. Dividing those by 257 leaves 4 to 64 grey
levels, a near-black image with the detail rounded away. So the full scale is:

- the ``sBIT`` significant bits when the chunk is present and the values fit in them
  (unscaled data, as the chunk says); 65535 when they do not (the data were scaled);
- otherwise the smallest even bit depth from 8 to 16 that holds the brightest value,
  which is 65535 for full-range data and never clips anything.

The image is box-shrunk in its 16-bit mode before any of this, so a 4096×4096 frame never
becomes a float64 array (128 MB) at full size.
"""

from __future__ import annotations

import struct

import numpy as np
from PIL import Image

SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHUNK_HEAD = struct.Struct(">I4s")


def png_significant_bits(data: bytes) -> int | None:
    """The greyscale ``sBIT`` value of a PNG (chunks before the first IDAT), or None."""
    offset = len(_PNG_SIGNATURE)
    while offset + _CHUNK_HEAD.size <= len(data):
        length, kind = _CHUNK_HEAD.unpack_from(data, offset)
        start = offset + _CHUNK_HEAD.size
        if kind in (b"IDAT", b"IEND"):
            return None
        if kind == b"sBIT" and length >= 1 and start < len(data):
            bits = data[start]
            return bits if 1 <= bits <= 16 else None
        offset = start + length + 4  # data and CRC
    return None


def sixteen_bit_to_l(image: Image.Image, side: int | None, significant_bits: int | None
                     ) -> Image.Image:
    """A 16-bit greyscale image as 8-bit "L", box-shrunk to about ``side`` first."""
    if side is not None:
        factor = -(-max(image.size) // side)
        if factor >= 2:
            size = (-(-image.width // factor), -(-image.height // factor))
            image = image.resize(size, Image.Resampling.BOX)
    values = np.asarray(image).astype(np.float32)
    peak = float(values.max()) if values.size else 0.0
    full_scale = _full_scale(peak, significant_bits)
    scaled = np.rint(np.clip(values, 0.0, None) * np.float32(255.0 / full_scale))
    return Image.fromarray(np.minimum(scaled, 255.0).astype(np.uint8))


def _full_scale(peak: float, significant_bits: int | None) -> float:
    if peak > 65535.0:  # 32-bit "I" data: no convention to follow, so nothing is clipped
        return peak
    if significant_bits is not None:
        declared = float((1 << significant_bits) - 1)
        return declared if peak <= declared else 65535.0
    bits = 8
    while bits < 16 and peak > (1 << bits) - 1:
        bits += 2
    return float((1 << bits) - 1)
