"""API Gateway HTTP API and Lambda Function URL (payload format 2.0) events."""

from __future__ import annotations

from typing import Any

from handlers.runtime.events.base import (
    LambdaEvent,
    decode_body,
    lower_keys,
    plain_keys,
    proxy_response,
)
from handlers.runtime.http import HttpRequest, HttpResponse


class ApiGatewayV2:
    name = "api-gateway-v2"

    def matches(self, event: LambdaEvent) -> bool:
        context = event.get("requestContext")
        return event.get("version") == "2.0" and isinstance(context, dict) and "http" in context

    def to_request(self, event: LambdaEvent) -> HttpRequest:
        context = event["requestContext"]
        http = context["http"]
        return HttpRequest(
            method=str(http.get("method", "GET")).upper(),
            path=str(event.get("rawPath") or http.get("path") or "/"),
            headers=lower_keys(event.get("headers")),
            query=plain_keys(event.get("queryStringParameters")),
            body=decode_body(event),
            request_id=str(context.get("requestId", "")),
        )

    def to_response(self, response: HttpResponse) -> dict[str, Any]:
        return proxy_response(response)
