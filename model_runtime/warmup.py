"""The first request's lazy work, done at init: one built-in sample request per input path.

Without it the first real request pays for what Python and the libraries load on first use:
Pillow's image plugins, numpy's first calls, ONNX Runtime's first run (memory planning),
the JSON encoder, the metrics line. The samples go through the whole handler like requests,
so whatever a request needs is loaded; what they print and record is dropped.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from model_store.manifest import ImageSpec, Manifest

if TYPE_CHECKING:
    from model_runtime.service import ModelService

# A 32×32 dark "7" on light paper, as JPEG (607 B) and PNG (150 B): the two formats clients
# send most; both decoders and the polarity flip run once.
SAMPLE_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwc"
    "KDcpLDAxNDQ0Hyc5PTgyPC4zNDL/wAALCAAgACABAREA/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QA"
    "tRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0"
    "NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2"
    "t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/9oACAEBAAA/APZq4v8A4W14I/6Df/kpN/8A"
    "EUf8La8Ef9Bv/wAlJv8A4iuts7uDULG3vbV/Mt7iNZYnwRuVhkHB5HB71PWL/wAId4Y/6FzSP/AGL/4mvJviXaaTqHiT"
    "TfBvhrRrCDUWnVrmaGzEZQsvyjcoyVCsXbggAKc8EV7NpGlWuiaRaaZZJtt7aMRpkAFsdWOABuJyScckk1drB8Y+I4vC"
    "vhe81RyhmRdlvG2P3kp4UYyMjPJAOdoY9q474R+GrqOG78X6q27UNX3MgKFGVGcszEcD52AYYGAACD8xA9Porm/GXg2z"
    "8aadb2l3c3NuIJ1lVoX4I6MCp4JK5AJGVJ9Mg9DDDFbwRwQRpFDGoRI0UKqqBgAAdAB2p9f/2Q==")
SAMPLE_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAACAAAAAgCAAAAABWESUoAAAAXUlEQVR42mN8xoAfMDEMAQUsMIYeuswliq2AGsn4DJck"
    "RVYgGUCeCcgGYFOgR4w3L+FRgGIBOY5EMwBDgR4x3ryERwG6BSQ7EtMAEk3AYgCqgksE3XAJUw3jIMibACtSEJbx+cOm"
    "AAAAAElFTkSuQmCC")


def sample_events(manifest: Manifest) -> list[dict[str, Any]]:
    """API Gateway events like a client's for ``manifest``'s model: a REST API (v1) JSON
    request and an HTTP API (v2) one (a raw PNG body for image models), so both adapters run."""
    path = f"/models/{manifest.name}/predict"
    if isinstance(manifest.input, ImageSpec):
        jpeg = photo_sized(SAMPLE_JPEG, manifest.input)
        body = {"instances": [{"b64": base64.b64encode(jpeg).decode()}]}
        return [_v1(path, "application/json", json.dumps(body)),
                _v2(path, "image/png", base64.b64encode(SAMPLE_PNG).decode(), encoded=True)]
    row = {f.name: _sample_value(f) for f in manifest.input.features}
    rows: list[Any] = [row, list(row.values())]  # both instance forms
    text = json.dumps({"instances": rows})
    return [_v1(path, "application/json", text), _v2(path, "application/json", text)]


def photo_sized(jpeg: bytes, spec: ImageSpec) -> bytes:
    """The sample as a JPEG 8× the model's side (224 px for 28×28, at most 512): decoding,
    draft scaling and the working-size buffers are then the sizes a real upload uses, so the
    first request does not pay for first-time allocations."""
    from PIL import Image

    side = min(512, 8 * max(spec.height, spec.width))  # bounded: it costs init time
    buffer = io.BytesIO()
    with Image.open(io.BytesIO(jpeg)) as small:
        small.convert("RGB").resize((side, side), Image.Resampling.BILINEAR).save(
            buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def warm_up(handler: Callable[[dict[str, Any], Any], dict[str, Any]], service: ModelService,
            passes: int = 1) -> list[int]:
    """Answer the sample events ``passes`` times through the whole handler; their statuses.

    What they print (the EMF metric lines) is swallowed and what they record is dropped: the
    samples are not traffic. Never raises: a model whose sample is refused still serves.
    """
    statuses: list[int] = []
    try:
        events = sample_events(service.ensure_loaded().manifest)
        with contextlib.redirect_stdout(io.StringIO()):
            for _ in range(passes):
                statuses += [int(handler(event, None)["statusCode"]) for event in events]
    except Exception:  # the model failed to load: init logged it, requests get 503
        statuses.append(503)
    finally:
        service.metrics.clear_metrics()
        service.logger.remove_keys(["cold_start", "function_request_id"])
    return statuses


def _v1(path: str, content_type: str, body: str) -> dict[str, Any]:
    return {"resource": path, "path": path, "httpMethod": "POST",
            "headers": {"Content-Type": content_type}, "queryStringParameters": None,
            "requestContext": {"requestId": "warm-up", "stage": "warm-up"},
            "body": body, "isBase64Encoded": False}


def _v2(path: str, content_type: str, body: str, *, encoded: bool = False) -> dict[str, Any]:
    return {"version": "2.0", "routeKey": f"POST {path}", "rawPath": path,
            "rawQueryString": "", "headers": {"content-type": content_type},
            "requestContext": {"http": {"method": "POST", "path": path},
                               "requestId": "warm-up", "stage": "$default"},
            "body": body, "isBase64Encoded": encoded}


def _sample_value(feature: Any) -> Any:
    if getattr(feature, "kind", "number") == "category":
        categories = tuple(getattr(feature, "categories", ()))
        return categories[0] if categories else None
    return _mid(feature.min, feature.max)


def _mid(low: float | None, high: float | None) -> float:
    if low is not None and high is not None:
        return (low + high) / 2
    return low if low is not None else (high if high is not None else 0.0)
