"""The most expensive inputs we can construct within a request's body limit.

Each builder returns the bytes of one file (or body). They are what an attacker would
send: tiny on the wire, huge once decoded (4096×4096 declared pixels in a few KB), or
shaped to make a parser work hard (nesting, scan floods, text chunks, gzip bombs).
Used by ``benchmarks.worst_case`` (time and memory) and by
tests/preprocessing/test_hardening_images.py (that each is answered with the right status).
"""

from __future__ import annotations

import gzip
import io
import struct
import zlib
from functools import cache

import numpy as np
from PIL import Image, ImageDraw

SIDE = 4096


@cache
def digit(side: int = SIDE) -> Image.Image:
    """A dark "7" on light paper: compresses to almost nothing, yet is not blank."""
    image = Image.new("L", (side, side), 230)
    draw = ImageDraw.Draw(image)
    points = [(0.3, 0.25), (0.7, 0.22), (0.5, 0.55), (0.42, 0.82)]
    draw.line([(x * side, y * side) for x, y in points], fill=20, width=max(2, side // 16))
    return image


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def photo(side: int) -> Image.Image:
    """The digit on noisy, tinted paper: what a phone photo costs to encode and decode."""
    noise = np.random.default_rng(side).integers(-12, 12, (side, side, 3))
    grey = np.asarray(digit(side)).astype(np.int16)[:, :, None]
    tinted = grey + noise + np.array([8, 0, -8])
    return Image.fromarray(np.clip(tinted, 0, 255).astype(np.uint8))


def photo_jpeg(side: int) -> bytes:
    return encode(photo(side), "JPEG", quality=35)


def photo_png(side: int) -> bytes:
    return encode(photo(side), "PNG")


def png8(side: int = SIDE) -> bytes:
    return encode(digit(side), "PNG")


def png16_grey(side: int = SIDE, scale: int = 257) -> bytes:
    """16-bit greyscale: ``scale=257`` full range (scanners), 16 a 12-bit camera's readings."""
    values = np.asarray(digit(side)).astype(np.uint16) * np.uint16(scale)
    return encode(Image.fromarray(values), "PNG")


def png_rgba(side: int = SIDE) -> bytes:
    return encode(digit(side).convert("RGBA"), "PNG")


def png_rgba16(side: int = SIDE) -> bytes:
    """16 bits per sample, 4 samples: the largest raster a PNG header can declare per pixel."""
    grey = np.asarray(digit(side)).astype(">u2") * 257
    rows = np.repeat(grey[:, :, None], 4, axis=2)
    rows[:, :, 3] = 65535
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)
    return _png(side, side, bit_depth=16, color_type=6, idat=zlib.compress(raw, 9))


def png_interlaced(side: int = SIDE) -> bytes:
    """Adam7: seven passes, the slowest way a PNG decodes (written by hand: Pillow can't)."""
    grey = np.asarray(digit(side))
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
              (1, 0, 2, 2), (0, 1, 1, 2)]
    raw = bytearray()
    for x0, y0, dx, dy in passes:
        sub = grey[y0::dy, x0::dx]
        for row in sub:
            raw += b"\x00" + row.tobytes()
    return _png(side, side, bit_depth=8, color_type=0, idat=zlib.compress(bytes(raw), 9),
                interlace=1)


def png_text_bomb(side: int = 64, chunks: int = 64) -> bytes:
    """A small PNG carrying ``chunks`` zTXt chunks that each inflate to 1 MB."""
    text = zlib.compress(b"\x00" * (1 << 20), 9)
    extra = b"".join(_chunk(b"zTXt", b"k%d\x00\x00" % i + text) for i in range(chunks))
    image = png8(side)
    return image[:33] + extra + image[33:]  # after the signature and IHDR


def gif(side: int = SIDE) -> bytes:
    return encode(digit(side), "GIF")


def webp_lossless(side: int = SIDE) -> bytes:
    return encode(digit(side), "WEBP", lossless=True)


def webp_lossy(side: int = SIDE) -> bytes:
    return encode(digit(side), "WEBP", quality=50)


def bmp_rle8(side: int = SIDE) -> bytes:
    """An 8-bit run-length BMP: 4096×4096 in ~130 KB (Pillow can only read these)."""
    grey = np.asarray(digit(side))
    body = bytearray()
    for row in grey[::-1]:  # BMP rows go bottom-up
        values = row.tobytes()
        start = 0
        while start < len(values):
            run = 1
            while start + run < len(values) and run < 255 and values[start + run] == values[start]:
                run += 1
            body += bytes((run, values[start]))
            start += run
        body += b"\x00\x00"  # end of line
    body += b"\x00\x01"  # end of bitmap
    palette = b"".join(bytes((i, i, i, 0)) for i in range(256))
    info = struct.pack("<IiiHHIIiiII", 40, side, side, 1, 8, 1, len(body), 2835, 2835, 256, 0)
    offset = 14 + len(info) + len(palette)
    header = b"BM" + struct.pack("<IHHI", offset + len(body), 0, 0, offset)
    return header + info + palette + bytes(body)


def jpeg_progressive(side: int = SIDE, scans: int = 0, mode: str = "L") -> bytes:
    """A progressive JPEG; ``scans`` > its own pads it with copies of its last scan."""
    data = encode(digit(side).convert(mode), "JPEG", quality=50, progressive=True)
    markers = _jpeg_segments(data)
    sos = [(start, end) for start, marker, end in markers if marker == 0xDA]
    if scans <= len(sos):
        return data
    start, end = sos[-1]
    eoi = markers[-1][0]
    return data[:eoi] + data[start:end] * (scans - len(sos)) + data[eoi:]


def gzip_bomb(inflated: int = 1 << 30) -> bytes:
    """~1 MB that inflates to ``inflated`` bytes of zeros."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as stream:
        block = b"\x00" * (1 << 20)
        for _ in range(inflated // len(block)):
            stream.write(block)
    return out.getvalue()


def deep_json(size: int) -> bytes:
    return b'{"instances":' + b"[" * (size - 15) + b"}"


def wide_json(size: int) -> bytes:
    """A valid body of ``size`` bytes holding as many (empty) Python objects as possible."""
    count = (size - 20) // 3
    return b'{"instances":[[' + b",".join([b"[]"] * count) + b"]]}"


def huge_number_json(size: int) -> bytes:
    return b'{"instances":[[1' + b"0" * (size - 24) + b',2,3]]}'


def _png(width: int, height: int, *, bit_depth: int, color_type: int, idat: bytes,
         interlace: int = 0) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, interlace)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat)
            + _chunk(b"IEND", b""))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def _jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """(start, marker, end) of each segment; a scan's end is past its entropy-coded data."""
    out = []
    index = 2
    while index < len(data):
        marker = data[index + 1]
        if marker == 0xD9:
            out.append((index, marker, index + 2))
            break
        end = index + 2 + int.from_bytes(data[index + 2:index + 4], "big")
        if marker == 0xDA:
            while True:
                end = data.index(b"\xff", end)
                if data[end + 1] == 0 or 0xD0 <= data[end + 1] <= 0xD7:
                    end += 2
                    continue
                break
        out.append((index, marker, end))
        index = end
    return out
