"""Which file format a few leading bytes announce: no Pillow, so any handler can ask.

The image decoder uses it to pick the one plugin it lets parse a file (and to name a
refused format), and the HTTP runtime uses it to recognise an image body that came
without a Content-Type, or as text.
"""

from __future__ import annotations

# (offset, magic bytes, format name). Pillow's names for the formats it decodes; the rest
# are recognised only so that an error can say what the client sent.
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
# What a PNG or JPEG signature becomes when a gateway decodes the bytes as UTF-8 text and
# re-encodes them: every byte above 0x7f that is not valid UTF-8 turns into U+FFFD.
_REPLACEMENT = "\ufffd".encode()
_MANGLED = ((_REPLACEMENT + b"PNG\r\n\x1a\n", "PNG"), (_REPLACEMENT * 3, "JPEG"))


def sniff_format(data: bytes) -> str | None:
    """The file format the magic bytes announce (Pillow's names for decodable ones), or None."""
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


def sniff_text_mangled_image(data: bytes) -> str | None:
    """The image format of bytes that were decoded as UTF-8 text on their way here, or None."""
    for prefix, name in _MANGLED:
        if data.startswith(prefix):
            return name
    return None
