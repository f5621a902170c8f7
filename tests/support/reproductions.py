"""Issue 10's reproductions as plain HTTP requests, answered in process and by serverless-offline.

Each is what a client sends (method, path with its query string, headers, body bytes) and
what the contract says it gets. ``offline`` overrides the expectation where
serverless-offline itself changes the request before the function sees it: it gives a
body without a Content-Type the type ``application/json`` and passes every body other
than ``application/octet-stream`` and ``multipart/form-data`` as UTF-8 text (a binary
body arrives corrupted), and it answers the CORS preflight itself. A header value with a
comma is sent as that many header lines there (hapi refuses a joined Content-Type; a
gateway joins repeated lines itself).
"""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from benchmarks import hostile_inputs as hostile

ROOT = Path(__file__).resolve().parents[2]
TABULAR = "breast_cancer"
IMAGE = "digits"


@dataclass(frozen=True)
class Expect:
    status: int
    code: str = ""  # the error code, for a 4xx
    labels: tuple[str, ...] = ()  # the predicted labels, for a 200
    message_has: str = ""  # a piece of the error message a client needs to fix the request


@dataclass(frozen=True)
class Reproduction:
    name: str
    method: str
    path: str  # with the query string, as sent
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    expect: Expect = Expect(200)
    offline: Expect | None = None  # what serverless-offline's rewriting leads to, if different

    @property
    def query(self) -> dict[str, str]:
        from urllib.parse import parse_qsl

        return dict(parse_qsl(self.path.partition("?")[2], keep_blank_values=True))

    @property
    def route(self) -> str:
        return self.path.partition("?")[0]


def digit_png() -> bytes:
    return (ROOT / "examples" / "digits.png").read_bytes()


def rows_json() -> bytes:
    return (ROOT / "examples" / "breast_cancer.json").read_bytes()


def one_row() -> dict[str, float]:
    row = json.loads(rows_json())["instances"][0]
    assert isinstance(row, dict)
    return row


def with_feature(value_literal: str) -> bytes:
    """The example row with its first feature's value written as ``value_literal``."""
    row = json.dumps({"instances": [one_row()]})
    return row.replace('"mean radius": 17.99', f'"mean radius": {value_literal}', 1).encode()


def b64_instances(encoded: str, copies: int = 1) -> bytes:
    return json.dumps({"instances": [{"b64": encoded}] * copies}).encode()


JSON = {"Content-Type": "application/json"}
OCTET = {"Content-Type": "application/octet-stream"}
SEVEN = ("7",)
MALIGNANT = ("malignant",)


@cache
def reproductions() -> tuple[Reproduction, ...]:
    predict_t, predict_i = f"/models/{TABULAR}/predict", f"/models/{IMAGE}/predict"
    png = digit_png()
    sixteen_bit = base64.b64encode(hostile.png16_grey()).decode()
    return (
        Reproduction("top_k superscript two", "POST", predict_t + "?top_k=%C2%B2", rows_json(),
                     JSON, Expect(400, "invalid_top_k", message_has="digits 0-9")),
        Reproduction("top_k of 4,301 digits", "POST", predict_t + "?top_k=" + "9" * 4301,
                     rows_json(), JSON, Expect(400, "invalid_top_k")),
        Reproduction("JSON nested 10^4 deep", "POST", predict_t,
                     b'{"instances": ' + b"[" * 10_000 + b"]" * 10_000 + b"}", JSON,
                     Expect(400, "malformed_json", message_has="deep")),
        Reproduction("JSON nested 10^5 deep", "POST", predict_t,
                     b'{"instances": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", JSON,
                     Expect(400, "malformed_json", message_has="deep")),
        Reproduction("integer too large for a float", "POST", predict_t,
                     with_feature("1" + "0" * 400), JSON,
                     Expect(422, "non_finite_value", message_has="mean radius")),
        Reproduction("float literal 1e400", "POST", predict_t, with_feature("1e400"), JSON,
                     Expect(422, "non_finite_value")),
        Reproduction("integer of 4,301 digits", "POST", predict_t, with_feature("7" * 4301),
                     JSON, Expect(422, "non_finite_value")),
        Reproduction("unpaired surrogate escape as a feature name", "POST", predict_t,
                     b'{"instances": [{"\\ud800": 1}]}', JSON, Expect(422, "missing_feature")),
        Reproduction("unpaired surrogate as bytes (CESU-8)", "POST", predict_t,
                     b'{"instances": [{"\xed\xa0\x80": 1}]}', JSON,
                     Expect(400, "malformed_json", message_has="UTF-8"),
                     offline=Expect(422, "missing_feature")),  # offline decodes it to U+FFFD
        Reproduction("undecodable image", "POST", predict_i,
                     b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, OCTET,
                     Expect(422, "undecodable_image")),
        Reproduction("64 copies of a 16-bit 4096x4096 PNG", "POST", predict_i,
                     b64_instances(sixteen_bit, 64), JSON, Expect(413, "too_many_pixels")),
        Reproduction("base64 wrapped every 76 characters", "POST", predict_i + "?top_k=2",
                     b64_instances(base64.encodebytes(png).decode()), JSON, Expect(200,
                                                                                    labels=SEVEN)),
        Reproduction("base64 without padding", "POST", predict_i,
                     b64_instances(base64.b64encode(png).decode().rstrip("=")), JSON,
                     Expect(200, labels=SEVEN)),
        Reproduction("raw image without a Content-Type", "POST", predict_i, png, {},
                     Expect(200, labels=SEVEN),
                     offline=Expect(400, "malformed_json", message_has="Content-Type")),
        Reproduction("HEAD on the model card", "HEAD", f"/models/{IMAGE}", expect=Expect(200)),
        Reproduction("gzip JSON body", "POST", predict_t, gzip.compress(rows_json()),
                     {**JSON, "Content-Encoding": "gzip"}, Expect(200, labels=MALIGNANT),
                     offline=Expect(415, "unsupported_content_encoding",
                                    message_has="uncompressed")),
        Reproduction("gzip image body", "POST", predict_i, gzip.compress(png),
                     {**OCTET, "Content-Encoding": "gzip"}, Expect(200, labels=SEVEN)),
        Reproduction("gzip bomb", "POST", predict_i, hostile.gzip_bomb(256 << 20),
                     {**OCTET, "Content-Encoding": "gzip"}, Expect(413, "body_too_large")),
        Reproduction("Content-Encoding br", "POST", predict_t, rows_json(),
                     {**JSON, "Content-Encoding": "br"},
                     Expect(415, "unsupported_content_encoding")),
        Reproduction("duplicated Content-Type joined with a comma", "POST", predict_t,
                     rows_json(), {"Content-Type": "application/json,application/json"},
                     Expect(200, labels=MALIGNANT)),
        Reproduction("conflicting Content-Types", "POST", predict_t, rows_json(),
                     {"Content-Type": "application/json, text/csv"},
                     Expect(415, "unsupported_media_type")),
        Reproduction("JPEG with 500 progressive scans", "POST", predict_i,
                     hostile.jpeg_progressive(64, scans=500), OCTET,
                     Expect(413, "image_too_complex")),
    )
