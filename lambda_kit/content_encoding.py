"""``Content-Encoding`` on request bodies: gzip and deflate are decoded, never past a cap.

A gzip bomb (a few KB that inflate to gigabytes) is stopped as soon as the output passes
the body limit, so it costs at most that many bytes of memory and the time to make them.

    413 body_too_large                 the decoded body is over the limit
    400 invalid_content_encoding       the bytes are not the gzip/deflate data they claim
    415 unsupported_content_encoding   another coding (br, zstd, ...), or several
"""

from __future__ import annotations

import zlib

from lambda_kit.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

_GZIP_MAGIC = b"\x1f\x8b"
# zlib's window bits: gzip framing, zlib framing, raw deflate (some clients send that).
_GZIP, _ZLIB, _RAW = 16 + zlib.MAX_WBITS, zlib.MAX_WBITS, -zlib.MAX_WBITS
_IDENTITY = ("", "identity")
_CHUNK = 1 << 16


def decode_content_encoding(body: bytes, header: str, max_bytes: int) -> bytes:
    """The body with its Content-Encoding undone, at most ``max_bytes`` long."""
    codings = [c.strip().lower() for c in header.split(",") if c.strip().lower() not in _IDENTITY]
    if not codings:
        return body
    if len(codings) > 1 or codings[0] not in ("gzip", "x-gzip", "deflate"):
        raise UnsupportedMediaType(
            f"Content-Encoding {header.strip()!r} is not supported; send the body "
            "uncompressed, or compressed once with gzip or deflate",
            code="unsupported_content_encoding")
    if codings[0] == "deflate":
        return _inflate(body, max_bytes, (_ZLIB, _RAW), "deflate")
    if not body.startswith(_GZIP_MAGIC):
        raise UnsupportedMediaType(
            "the body is marked Content-Encoding: gzip but is not gzip data; a gateway that "
            "passes this Content-Type as text corrupts compressed bytes: send the body "
            "uncompressed, or gzip it with Content-Type application/octet-stream",
            code="unsupported_content_encoding")
    return _inflate(body, max_bytes, (_GZIP,), "gzip")


def _inflate(body: bytes, max_bytes: int, framings: tuple[int, ...], name: str) -> bytes:
    for index, wbits in enumerate(framings):
        try:
            return _inflate_members(body, max_bytes, wbits)
        except zlib.error:
            if index == len(framings) - 1:
                raise BadRequest(f"the body is not valid {name} data (corrupt or truncated)",
                                 code="invalid_content_encoding") from None
    raise AssertionError("unreachable")


def _inflate_members(body: bytes, max_bytes: int, wbits: int) -> bytes:
    """Inflate every concatenated member (gzip allows several), stopping past ``max_bytes``."""
    out = bytearray()
    rest = body
    while rest:
        inflater = zlib.decompressobj(wbits)
        pending = rest
        while pending:
            out += inflater.decompress(pending, max(1, max_bytes + 1 - len(out)))
            if len(out) > max_bytes:
                raise PayloadTooLarge(
                    f"the body inflates to more than {max_bytes} bytes, the limit; send "
                    "less data", code="body_too_large")
            pending = inflater.unconsumed_tail
        if not inflater.eof:
            raise zlib.error("truncated")
        rest = inflater.unused_data
        if wbits != _GZIP or not rest.startswith(_GZIP_MAGIC):
            if rest.strip(b"\x00"):
                raise zlib.error("trailing data")
            break
    return bytes(out)
