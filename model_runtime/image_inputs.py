"""Image instances (``{"b64": ...}`` in JSON, or one raw image body) → a model batch.

Every image of one request is charged to one ``DecodeBudget`` from its header, before its
pixels are decoded, so 64 small files that each declare 4096×4096 are refused once the
budget is spent (413 ``too_many_pixels``) instead of costing seconds.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from lambda_kit.base64_text import InvalidBase64, decode_base64
from lambda_kit.errors import (
    BadRequest,
    HttpError,
    PayloadTooLarge,
    UnprocessableInstance,
    UnsupportedMediaType,
)
from model_runtime.settings import Settings
from model_store.manifest import ImageSpec
from preprocessing.errors import (
    ImageTooLarge,
    PreprocessingError,
    UnsupportedImageFormat,
)
from preprocessing.formats import sniff_format
from preprocessing.imaging import DecodeBudget, ImageLimits, image_bytes_to_array

# Browsers hand out data URLs (canvas.toDataURL()); accept them as well as bare base64.
_DATA_URL = re.compile(r"^\s*data:image/[A-Za-z0-9.+-]+;base64,")


class ImageInputs:
    accepts_raw_body = True

    def __init__(self, spec: ImageSpec, settings: Settings) -> None:
        self.spec = spec
        self.limits = ImageLimits(max_pixels=settings.max_image_pixels,
                                  max_bytes=settings.max_body_bytes)
        self.request_budget = settings.max_request_image_bytes

    def from_instances(self, instances: list[Any]) -> np.ndarray:
        budget = DecodeBudget(self.request_budget)
        arrays = [self._instance(i, instance, budget) for i, instance in enumerate(instances)]
        return np.stack(arrays).astype(np.float32, copy=False)

    def from_raw_body(self, body: bytes, media_type: str) -> np.ndarray:
        if not media_type and sniff_format(body) is None:
            raise UnsupportedMediaType(
                "the request has no Content-Type header and the body is neither JSON nor a "
                "recognisable image: send an image with Content-Type image/* or "
                'application/octet-stream, or {"instances": [...]} as application/json',
                code="unsupported_media_type")
        try:
            return image_bytes_to_array(body, self.spec, self.limits,
                                        DecodeBudget(self.request_budget))[np.newaxis]
        except PreprocessingError as error:
            raise http_error_for(error) from None

    def _instance(self, index: int, instance: Any, budget: DecodeBudget) -> np.ndarray:
        where = f"instances[{index}]"
        if not isinstance(instance, dict) or set(instance) != {"b64"}:
            raise UnprocessableInstance(
                f'{where}: an image instance is {{"b64": "<base64 of the image file>"}}',
                code="invalid_instance")
        encoded = instance["b64"]
        if not isinstance(encoded, str):
            raise UnprocessableInstance(f"{where}: 'b64' must be a string",
                                        code="invalid_instance")
        try:
            data = decode_base64(_DATA_URL.sub("", encoded, count=1))
        except InvalidBase64 as error:
            raise BadRequest(f"{where}: 'b64' is not valid base64: {error}",
                             code="invalid_base64") from None
        try:
            return image_bytes_to_array(data, self.spec, self.limits, budget)
        except PreprocessingError as error:
            raise http_error_for(error, where) from None


def http_error_for(error: PreprocessingError, where: str = "") -> HttpError:
    """The one mapping from preprocessing's errors to the contract's statuses."""
    kind: type[HttpError] = UnprocessableInstance
    if isinstance(error, ImageTooLarge):
        kind = PayloadTooLarge
    elif isinstance(error, UnsupportedImageFormat):
        kind = UnsupportedMediaType
    message = f"{where}: {error.message}" if where else error.message
    return kind(message, code=error.code)
