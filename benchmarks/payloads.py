"""The requests every scenario answers: real API Gateway v2 events, written once per run.

- breast_cancer: ``tests/events/breast_cancer_predict_v2.json`` as captured (2 instances);
- another tabular model: the same envelope, 2 instances at each feature's mid-range;
- an image model: a 224×224 JPEG of a handwritten-looking digit, as a JSON ``b64``
  instance and as a raw ``application/octet-stream`` body (base64, as API Gateway sends it).
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from benchmarks.scenarios import ShippedModel
from featherserve.support.events import load_event, with_body, with_route
from model_store.manifest import TabularSpec

TEMPLATE = "breast_cancer_predict_v2"
# A real photo-sized digit: dark ink on light paper, resized, re-encoded as JPEG.
DIGIT_IMAGE = Path(__file__).resolve().parents[1] / "tests/images/rendered_digits" \
    / "d3_0256px_dark_on_light_stroke.png"
IMAGE_SIDE = 224
JPEG_QUALITY = 90


@dataclass(frozen=True)
class ModelRequests:
    """Event files for one model: ``first`` is the cold-start request; ``warm`` by variant."""

    first: Path
    warm: dict[str, Path]
    image: Path | None = None       # the image file itself, for image models


def write_requests(model: ShippedModel, folder: Path) -> ModelRequests:
    folder.mkdir(parents=True, exist_ok=True)
    image_file = None
    if model.is_image:
        jpeg = digit_jpeg()
        image_file = folder / f"{model.name}.jpg"
        image_file.write_bytes(jpeg)
        variants = {"json b64 JPEG 224×224": image_json_event(model.name, jpeg),
                    "raw octet-stream JPEG 224×224": image_raw_event(model.name, jpeg)}
    else:
        variants = {"json v2, 2 instances": tabular_event(model)}
    paths = {}
    for index, (variant, event) in enumerate(variants.items()):
        path = folder / f"{model.name}-{index}.json"
        path.write_text(json.dumps(event))
        paths[variant] = path
    return ModelRequests(first=next(iter(paths.values())), warm=paths, image=image_file)


def tabular_event(model: ShippedModel) -> dict[str, Any]:
    if model.name == "breast_cancer":
        return load_event(TEMPLATE)
    spec = model.manifest.input
    assert isinstance(spec, TabularSpec)
    row = {f.name: _mid(f.min, f.max) for f in spec.features}
    body = json.dumps({"instances": [row, list(row.values())]})
    return with_body(_routed(model.name), body, content_type="application/json")


def image_json_event(name: str, image: bytes) -> dict[str, Any]:
    body = json.dumps({"instances": [{"b64": base64.b64encode(image).decode()}]})
    return with_body(_routed(name), body, content_type="application/json")


def image_raw_event(name: str, image: bytes) -> dict[str, Any]:
    return with_body(_routed(name), image, content_type="application/octet-stream",
                     base64_encoded=True)


def digit_jpeg() -> bytes:
    """A 224×224 RGB JPEG of a digit (drawn, if the rendered-digit set is not checked out)."""
    if DIGIT_IMAGE.is_file():
        with Image.open(DIGIT_IMAGE) as source:
            image = source.convert("RGB").resize((IMAGE_SIDE, IMAGE_SIDE),
                                                 Image.Resampling.LANCZOS)
    else:
        image = Image.new("RGB", (IMAGE_SIDE, IMAGE_SIDE), (236, 232, 222))
        pen = ImageDraw.Draw(image)
        pen.line([(60, 50), (165, 50), (95, 185)], fill=(30, 30, 40), width=16, joint="curve")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def _routed(name: str) -> dict[str, Any]:
    event = with_route(load_event(TEMPLATE), "POST", f"/models/{name}/predict")
    event["pathParameters"] = {"name": name}
    return event


def _mid(low: float | None, high: float | None) -> float:
    if low is not None and high is not None:
        return (low + high) / 2
    return low if low is not None else (high if high is not None else 0.0)
