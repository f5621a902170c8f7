"""Image bytes for tests: real encodings made with Pillow, and hostile ones made by hand."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image, ImageDraw


def digit_image(size: int = 224, mode: str = "L", *, dark_on_light: bool = True) -> Image.Image:
    """A hand-drawn-looking "7"."""
    paper, ink = (235, 25) if dark_on_light else (10, 240)
    image = Image.new("L", (size, size), paper)
    scale = size / 224
    draw = ImageDraw.Draw(image)
    points = [(70, 55), (160, 50), (118, 120), (95, 185)]
    draw.line([(x * scale, y * scale) for x, y in points], fill=ink,
              width=max(2, int(14 * scale)), joint="curve")
    return image.convert(mode)


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def decompression_bomb_png(side: int = 30000) -> bytes:
    """A few hundred bytes whose header declares side×side pixels (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (side + 1) * 4, 9)  # the first rows only; never reached
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", rows)
            + png_chunk(b"IEND", b""))


def animated_gif(frames: int = 3) -> bytes:
    images = [digit_image(64, dark_on_light=True)] + [
        Image.new("L", (64, 64), 128) for _ in range(frames - 1)]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=100,
                   loop=0)
    return buffer.getvalue()
