"""API Gateway HTTP API and Lambda Function URL (payload format 2.0) events.

Both join repeated headers and query parameters with ",". ``requestContext.http.path`` is
the decoded path; ``rawPath`` (percent-encoded) is the fallback for hand-written events.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from lambda_kit.events.base import (
    LambdaEvent,
    clean,
    decode_body,
    invalid_event,
    joined_map,
    mapping,
    proxy_response,
    query_from_raw,
    text_field,
)
from lambda_kit.http import HttpRequest, HttpResponse


class ApiGatewayV2:
    name = "api-gateway-v2"

    def matches(self, event: LambdaEvent) -> bool:
        context = event.get("requestContext")
        return event.get("version") == "2.0" or (
            isinstance(context, Mapping) and isinstance(context.get("http"), Mapping))

    def to_request(self, event: LambdaEvent) -> HttpRequest:
        context = mapping(event, "requestContext")
        http = context.get("http")
        if not isinstance(http, Mapping):
            raise invalid_event("the event's 'requestContext.http' must be an object with the "
                                "request's method and path")
        raw_path = text_field(event, "rawPath", "/", "'rawPath'")
        query = joined_map(event, "queryStringParameters", None, lower=False)
        return HttpRequest(
            method=text_field(http, "method", "GET", "'requestContext.http.method'").upper(),
            path=text_field(http, "path", clean(unquote(raw_path)), "'requestContext.http.path'"),
            headers=joined_map(event, "headers", None, lower=True),
            query=query or query_from_raw(event.get("rawQueryString")),
            body=decode_body(event),
            request_id=text_field(context, "requestId", "", "'requestContext.requestId'"),
        )

    def to_response(self, response: HttpResponse, event: LambdaEvent) -> dict[str, Any]:
        return proxy_response(response)
