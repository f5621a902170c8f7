"""The web app serves a request only on the route API Gateway matched for it.

The template gives the web function six routes (generated/functions.yml), each with its own
settings: ``POST /demo/{name}/predict`` has the demo's throttle, ``/demo/{name}`` none. A
path segment holding an encoded separator gets round that: ``/demo/digits%2Fpredict``
matches ``/demo/{name}``, then serverless-wsgi decodes it to ``/demo/digits/predict``. So:

- an encoded ``/`` or ``\\`` in the raw path (``%2F``, ``%5C``, or encoded again:
  ``%252F``, as an HTTP API passes it on) is refused (400 ``encoded_separator``);
- the endpoint the app matched must be the gateway's resource (REST API ``resource``, HTTP
  API ``routeKey``); anything else is not found (404). A hand-written event without either
  (``sls invoke local``) is dispatched on its path alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from webapp.errors import BadRequest, NotFound

# The template's resource for each of the app's endpoints.
ENDPOINT_RESOURCES = {
    "catalog": "/", "docs": "/docs", "openapi": "/openapi.json", "demo": "/demo/{name}",
    "demo_predict": "/demo/{name}/predict", "static_app": "/static/{proxy+}",
    "static_ort": "/static/{proxy+}", "static_model": "/static/{proxy+}",
}
# "%2F", "%5c", "%252F", "%25252f"...: a path separator, percent-encoded once or more.
ENCODED_SEPARATOR = re.compile(r"%(?:25)*(?:2f|5c)", re.IGNORECASE)


class EncodedSeparator(BadRequest):
    code = "encoded_separator"


def raw_path(event: Mapping[str, Any]) -> str:
    """The path as the client sent it (HTTP API: ``rawPath``; REST API: ``path``)."""
    for key in ("rawPath", "path"):
        value = event.get(key)
        if isinstance(value, str):
            return value
    return ""


def gateway_resource(event: Mapping[str, Any]) -> str | None:
    """The template route the gateway matched, or None when the event names none."""
    route_key = event.get("routeKey")
    if isinstance(route_key, str) and route_key:
        if route_key == "$default":
            return None
        return route_key.split(" ", 1)[-1]
    resource = event.get("resource")
    return resource if isinstance(resource, str) and resource else None


def check_path(event: Mapping[str, Any]) -> None:
    """Refuse a path whose segments hide a ``/`` or ``\\`` (``EncodedSeparator``)."""
    parameters = event.get("pathParameters")
    if isinstance(parameters, Mapping):
        greedy = set(re.findall(r"\{(\w+)\+\}", gateway_resource(event) or ""))
        if any(isinstance(v, str) and ("/" in v or "\\" in v or ENCODED_SEPARATOR.search(v))
               for k, v in parameters.items() if k not in greedy):
            raise EncodedSeparator("a path segment holds a '/' or '\\': each name is one "
                                   "segment of the path, sent as it is")
    path = raw_path(event)
    if ENCODED_SEPARATOR.search(path) or "\\" in path:
        raise EncodedSeparator("the path holds an encoded '/' or '\\' (%2F, %5C): each name "
                               "is one segment of the path, sent as it is")


def check_route(endpoint: str, event: Mapping[str, Any]) -> None:
    """``NotFound`` unless the gateway routed this request to ``endpoint``'s resource."""
    resource = gateway_resource(event)
    if resource is None or resource == "/{proxy+}":
        return
    expected = ENDPOINT_RESOURCES.get(endpoint)
    if expected is not None and resource != expected:
        raise NotFound(f"nothing at {raw_path(event)} (the gateway routed it to {resource})",
                       code="not_found")
