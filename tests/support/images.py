"""Image bytes for tests: real encodings made with Pillow, and hostile ones made by hand."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image, ImageDraw

# Labels told apart by their dominant colour (the photo folders of the training tests).
COLOURS = {"blue": (40, 70, 200), "green": (50, 170, 60), "red": (210, 50, 40)}


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


def colour_photo(colour: tuple[int, int, int], size: tuple[int, int], rng: np.random.Generator,
                 *, light: tuple[float, float] = (0.8, 1.1), grey: tuple[int, int] = (80, 180),
                 spot: float = 0.3) -> Image.Image:
    """The label's colour, lit unevenly and noisy, with a grey object somewhere on it:
    brightness drawn from ``light``, the object's grey from ``grey``, its size ``spot``."""
    width, height = size
    shade = rng.uniform(*light) * np.linspace(0.85, 1.1, width)[np.newaxis, :, np.newaxis]
    pixels = np.asarray(colour, dtype=np.float64) * shade + rng.normal(0, 12, (height, width, 3))
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    x, y = rng.uniform(0, 0.6) * width, rng.uniform(0, 0.6) * height
    tone = int(rng.integers(*grey))
    ImageDraw.Draw(image).ellipse((x, y, x + spot * width, y + spot * height),
                                  fill=(tone, tone, tone))
    return image


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


# -- every mode and format users bring (test_image_prepare_property.py, test_photo_folder.py)
ALL_MODES = ("1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr",
             "LAB", "HSV", "I;16", "I;16L", "I;16B", "I", "F")
# What each format can carry, as Pillow writes it (16-bit RGB PNG: ``png_16bit_rgb``).
FORMAT_MODES: dict[str, tuple[str, ...]] = {
    "PNG": ("1", "L", "LA", "P", "RGB", "RGBA", "I;16"),
    "JPEG": ("L", "RGB", "CMYK"),
    "WEBP": ("RGB", "RGBA"),
    "GIF": ("L", "P"),
    "BMP": ("1", "L", "P", "RGB"),
    "TIFF": ("1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "YCbCr", "LAB", "I;16", "I;16B",
             "I", "F"),
}


def two_tone(size: tuple[int, int], background: tuple[int, int, int],
             mark: tuple[int, int, int]) -> Image.Image:
    """An RGB image of ``background`` with a ``mark`` rectangle over its middle half."""
    width, height = size
    image = Image.new("RGB", size, background)
    box = (width // 4, height // 4, width - width // 4 - 1, height - height // 4 - 1)
    ImageDraw.Draw(image).rectangle(box, fill=mark)
    return image


def in_mode(image: Image.Image, mode: str) -> Image.Image:
    """An RGB image converted to any Pillow mode, high-depth ones with their own value range."""
    import numpy as np

    grey = np.asarray(image.convert("L"), dtype=np.float64)
    if mode in ("I;16", "I;16L", "I;16B"):
        dtype = ">u2" if mode == "I;16B" else "<u2"
        return Image.frombytes(mode, image.size, (grey * 257).astype(dtype).tobytes())
    if mode == "I":
        return Image.fromarray((grey * 257).astype(np.int32))
    if mode == "F":
        return Image.fromarray((grey / 255).astype(np.float32))
    if mode == "1":
        return image.convert("L").convert("1", dither=Image.Dither.NONE)
    if mode in ("P", "PA"):
        palette = image.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
        if mode == "PA":
            palette = palette.convert("PA")
        return palette
    return image.convert(mode)


def png_16bit_rgb(image: Image.Image, alpha: bool = False) -> bytes:
    """A 16-bit-per-sample RGB(A) PNG (Pillow reads these but cannot write them)."""
    import numpy as np

    pixels = np.asarray(image.convert("RGB"), dtype=np.uint16) * 257
    if alpha:
        pixels = np.concatenate([pixels, np.full((*pixels.shape[:2], 1), 65535,
                                                 dtype=np.uint16)], axis=2)
    height, width = pixels.shape[:2]
    rows = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in pixels)
    header = struct.pack(">IIBBBBB", width, height, 16, 6 if alpha else 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
            + png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b""))


def with_orientation(image: Image.Image, fmt: str, orientation: int, **options: object) -> bytes:
    """``image`` encoded with an EXIF Orientation tag (as a phone writes a rotated photo)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(image, fmt, exif=exif.tobytes(), **options)
