"""``GET /openapi.json``: the whole service as OpenAPI 3.1, generated from the manifests.

Per model: the predict route with its instance schema (every feature by name, in order,
with the range seen in training; or the image input and the raw-body alternative), the
model card route, the response and error shapes; plus the web app's own routes. The
model API needs the ``x-api-key`` header when deployed; the web routes do not.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from model_store.manifest import Feature, ImageSpec, Manifest, TabularSpec
from webapp.catalog import CatalogEntry

OPENAPI_VERSION = "3.1.0"
ERROR_STATUSES = {
    "400": "malformed JSON or base64, bad `top_k`",
    "403": "missing or invalid API key (deployed API only)",
    "404": "unknown route or model",
    "405": "wrong method",
    "413": "body, batch or image too large",
    "415": "unsupported content type or image format",
    "422": "valid JSON but not a valid instance",
    "429": "throttled (per API key, or the stage's limits)",
    "500": "internal error (no details; see the log for the request id)",
    "503": "the model could not be loaded",
}
# The model functions read numbers as float32 (model_runtime/tabular.py refuses anything
# beyond): the schema says so (numpy is not imported here: the web function never loads it).
FLOAT32_MAX = 3.4028234663852886e38
# What an image instance's "b64" may hold (lambda_kit/base64_text.py): an optional
# data: URL prefix, then base64 in the standard or the URL-safe alphabet (not both), wrapped
# or not, padded or not, never empty. Whether the bytes are an image no schema can say: a
# well-formed "b64" of something else is a 415 or a 422.
_SPACE = r"[ \t\r\n\f\v]"


def _base64_of(alphabet: str) -> str:
    char = f"{alphabet}{_SPACE}*"
    return (f"(?:(?:{char}){{4}})*(?:(?:{char}){{4}}|(?:{char}){{2}}(?:={_SPACE}*){{0,2}}"
            f"|(?:{char}){{3}}(?:={_SPACE}*)?)")


B64_PATTERN = (f"^{_SPACE}*(?:data:image/[A-Za-z0-9.+-]+;base64,)?{_SPACE}*(?:"
               f"{_base64_of('[A-Za-z0-9+/]')}|{_base64_of('[A-Za-z0-9_-]')})$")
IMAGE_MEDIA_TYPES = ("image/png", "image/jpeg", "image/webp", "image/bmp", "image/gif",
                     "application/octet-stream")


def schema_name(model: str) -> str:
    """``breast_cancer`` → ``BreastCancer`` (component names must match ^[a-zA-Z0-9._-]+$)."""
    return "".join(part.capitalize() for part in re.split(r"_+", model) if part) or "Model"


def feature_schema(feature: Feature) -> dict[str, Any]:
    schema: dict[str, Any]
    if feature.kind == "category":
        schema = {"type": "string", "enum": list(feature.categories)}
    else:
        schema = {"type": "number", "minimum": -FLOAT32_MAX, "maximum": FLOAT32_MAX}
        if feature.min is not None and feature.max is not None:
            # Training's range: a hint (the model extrapolates), not a validation bound.
            schema["description"] = f"seen in training: {feature.min:g} to {feature.max:g}"
            schema["examples"] = [round((feature.min + feature.max) / 2, 6)]
    if feature.allow_missing:
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
        schema["type"] = [schema["type"], "null"]
    return schema


def instance_schema(manifest: Manifest) -> dict[str, Any]:
    spec = manifest.input
    if isinstance(spec, TabularSpec):
        names = list(spec.feature_names)
        by_name = {
            "type": "object", "title": "features by name",
            "properties": {f.name: feature_schema(f) for f in spec.features},
            "required": names, "additionalProperties": False,
        }
        in_order = {
            "type": "array", "title": "features in manifest order",
            "prefixItems": [feature_schema(f) for f in spec.features],
            "minItems": len(names), "maxItems": len(names),
        }
        return {"oneOf": [by_name, in_order]}
    assert isinstance(spec, ImageSpec)
    return {
        "type": "object", "required": ["b64"], "additionalProperties": False,
        "properties": {"b64": {
            "type": "string", "minLength": 1, "pattern": B64_PATTERN,
            "description": ("base64 of a PNG, JPEG, WebP, BMP or GIF file (a data: URL works "
                            f"too); resized to {spec.width}x{spec.height} {spec.mode} by the "
                            f"model's own preprocessing ({spec.resize}, invert: {spec.invert})"),
        }},
    }


def _prediction_schema(manifest: Manifest) -> dict[str, Any]:
    if manifest.task.endswith("regression"):
        return {"type": "object", "required": ["value"],
                "properties": {"value": {"type": "number"}}}
    labels = list(manifest.labels)
    return {
        "type": "object", "required": ["label", "index", "score", "top"],
        "properties": {
            "label": {"type": "string", "enum": labels},
            "index": {"type": "integer", "minimum": 0, "maximum": len(labels) - 1},
            "score": {"type": "number", "minimum": 0, "maximum": 1},
            "top": {"type": "array", "items": {
                "type": "object", "required": ["label", "score"],
                "properties": {"label": {"type": "string", "enum": labels},
                               "score": {"type": "number"}}}},
        },
    }


def _error_responses() -> dict[str, Any]:
    return {status: {"description": text, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"}}}}
        for status, text in ERROR_STATUSES.items()}


def _predict_body(manifest: Manifest, max_batch: int) -> dict[str, Any]:
    """The predict routes' request body: the instances, or (image models) one image."""
    ref = schema_name(manifest.name)
    body_content: dict[str, Any] = {"application/json": {"schema": {
        "type": "object", "required": ["instances"], "additionalProperties": False,
        "properties": {"instances": {"type": "array", "minItems": 1, "maxItems": max_batch,
                                     "items": {"$ref": f"#/components/schemas/{ref}Instance"}}},
    }}}
    if isinstance(manifest.input, ImageSpec):
        for media in IMAGE_MEDIA_TYPES:
            body_content[media] = {"schema": {"type": "string", "contentMediaType": media,
                                              "description": "one image file as the body"}}
    return {"required": True, "content": body_content}


def _predict_parameters(manifest: Manifest) -> list[dict[str, Any]]:
    if manifest.task.endswith("regression"):
        return []
    return [{"name": "top_k", "in": "query", "required": False,
             "description": "how many ranked classes `top` holds (default min(5, classes))",
             "schema": {"type": "integer", "minimum": 1, "maximum": len(manifest.labels)}}]


def _model_paths(manifest: Manifest, max_batch: int) -> tuple[dict[str, Any], dict[str, Any]]:
    name, ref = manifest.name, schema_name(manifest.name)
    predict = {"post": {
        "operationId": f"predict_{name}", "tags": [name],
        "summary": f"{name} v{manifest.version}: predict ({manifest.task})",
        "description": manifest.description,
        "security": [{"ApiKey": []}], "parameters": _predict_parameters(manifest),
        "requestBody": _predict_body(manifest, max_batch),
        "responses": {"200": {"description": "one prediction per instance, in order",
                              "content": {"application/json": {"schema": {
                                  "$ref": f"#/components/schemas/{ref}Response"}}}},
                      **_error_responses()},
    }}
    card = {"get": {
        "operationId": f"card_{name}", "tags": [name],
        "summary": f"{name}: the model card (manifest and metrics)",
        "security": [{"ApiKey": []}],
        "responses": {"200": {"description": "the model card", "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ModelCard"}}}},
            **_error_responses()},
    }}
    return predict, card


def _demo_predict(manifest: Manifest, max_batch: int) -> dict[str, Any]:
    """``POST /demo/<name>/predict``: the model's own body and answer, no API key."""
    name = manifest.name
    return {"post": {
        "operationId": f"demo_predict_{name}", "tags": ["web"], "security": [],
        "summary": (f"the demo page's {name} predictions: the same body and answer as "
                    f"/models/{name}/predict, proxied to the model's live version, with a "
                    "lower throttle, a 3 MB body cap and no API key"),
        "parameters": _predict_parameters(manifest),
        "requestBody": _predict_body(manifest, max_batch),
        "responses": {"200": {"description": "one prediction per instance, in order",
                              "content": {"application/json": {"schema": {
                                  "$ref": f"#/components/schemas/{schema_name(name)}Response"}}}},
                      **_error_responses(),
                      "503": {"description": "the model's function could not be reached",
                              "content": {"application/json": {"schema": {
                                  "$ref": "#/components/schemas/Error"}}}}},
    }}


def _web_paths(entries: Sequence[CatalogEntry], max_batch: int) -> dict[str, Any]:
    html = {"text/html": {"schema": {"type": "string"}}}
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}},
             "text/html": {"schema": {"type": "string"}}}
    names = [e.name for e in entries]
    paths: dict[str, Any] = {
        "/": {"get": {"operationId": "catalog", "tags": ["web"], "security": [],
                      "summary": "the catalog page", "responses": {"200": {
                          "description": "HTML", "content": html}}}},
        "/demo/{name}": {"get": {
            "operationId": "demo_page", "tags": ["web"], "security": [],
            "summary": "a model's demo page",
            "parameters": [{"name": "name", "in": "path", "required": True,
                            "description": "a served model",
                            "schema": {"type": "string", "enum": names}}],
            "responses": {"200": {"description": "HTML", "content": html},
                          "400": {"description": "an encoded / or \\ in the name (%2F, %5C)",
                                  "content": {"application/json": error["application/json"]}},
                          "404": {"description": "no such model (an HTML page for a "
                                  "browser, the Error JSON otherwise)", "content": error}}}},
    }
    for entry in entries:
        paths[f"/demo/{entry.name}/predict"] = _demo_predict(entry.manifest, max_batch)
    paths.update({
        "/openapi.json": {"get": {"operationId": "openapi", "tags": ["web"], "security": [],
                                  "summary": "this document", "responses": {"200": {
                                      "description": "OpenAPI 3.1", "content": {
                                          "application/json": {}}}}}},
        "/docs": {"get": {"operationId": "docs", "tags": ["web"], "security": [],
                          "summary": "this document, rendered", "responses": {"200": {
                              "description": "HTML", "content": html}}}},
    })
    return paths


def build_openapi(entries: Sequence[CatalogEntry], *, version: str = "0.1.0",
                  server_url: str = "/", max_batch: int = 64) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["code", "message", "request_id"],
            "properties": {"code": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
                           "message": {"type": "string"},
                           "request_id": {"type": "string"}}}}},
        "ModelCard": {"type": "object", "description": (
            "the manifest: name, version, task, input, output, labels, metrics (with "
            "accuracy_retention), lineage, quantization, file, bytes, sha256"),
            "required": ["name", "version", "task", "input", "labels", "sha256"]},
    }
    for entry in entries:
        manifest, ref = entry.manifest, schema_name(entry.name)
        predict, card = _model_paths(manifest, max_batch)
        paths[f"/models/{entry.name}/predict"] = predict
        paths[f"/models/{entry.name}"] = card
        schemas[f"{ref}Instance"] = instance_schema(manifest)
        schemas[f"{ref}Response"] = {
            "type": "object", "required": ["model", "version", "predictions"],
            "properties": {"model": {"const": entry.name},
                           "version": {"type": "string"},
                           "predictions": {"type": "array",
                                           "items": _prediction_schema(manifest)}}}
    paths.update(_web_paths(entries, max_batch))
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "featherserve", "version": version, "description": (
            "Small models on AWS Lambda behind API Gateway, each served by a function of "
            "its own or by a shared pool function: the routes and answers are the same. "
            "Errors always have the Error shape.")},
        "servers": [{"url": server_url}],
        "tags": [{"name": e.name, "description": e.manifest.description} for e in entries]
        + [{"name": "web", "description": "the catalog and demo pages (no API key)"}],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {
            "ApiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"}}},
        "security": [],
    }
