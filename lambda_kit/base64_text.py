"""Base64 as clients really send it: the one decoder for event bodies and image instances.

Accepted besides RFC 4648's canonical form: line breaks and other whitespace anywhere
(``base64.encodebytes``, ``openssl base64`` and MIME wrap every 64 or 76 characters),
missing ``=`` padding, and the URL-safe alphabet (``-`` and ``_``). Anything else is
refused: a stray character is never silently dropped.
"""

from __future__ import annotations

import base64
import binascii

_WHITESPACE = b" \t\r\n\f\v"
_URL_SAFE = bytes.maketrans(b"-_", b"+/")


class InvalidBase64(ValueError):
    """The text is not base64 in any of the accepted forms (the message is client-safe)."""


def decode_base64(text: str | bytes) -> bytes:
    if isinstance(text, str):
        try:
            raw = text.encode("ascii")
        except UnicodeEncodeError:
            raise InvalidBase64("it contains characters outside base64's alphabet") from None
    else:
        raw = text
    raw = raw.translate(None, _WHITESPACE)
    if b"-" in raw or b"_" in raw:
        if b"+" in raw or b"/" in raw:
            raise InvalidBase64("it mixes the standard (+/) and URL-safe (-_) alphabets")
        raw = raw.translate(_URL_SAFE)
    data = raw.rstrip(b"=")
    if len(raw) - len(data) > 2 or len(data) % 4 == 1:
        raise InvalidBase64("its length or '=' padding is wrong; it may be truncated")
    try:
        return base64.b64decode(data + b"=" * (-len(data) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidBase64("it contains characters outside base64's alphabet") from None
