"""API Gateway REST API (payload format 1.0) proxy events."""

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


class ApiGatewayV1:
    name = "api-gateway-v1"

    def matches(self, event: LambdaEvent) -> bool:
        return "httpMethod" in event and "requestContext" in event

    def to_request(self, event: LambdaEvent) -> HttpRequest:
        context = event.get("requestContext") or {}
        return HttpRequest(
            method=str(event["httpMethod"]).upper(),
            path=str(event.get("path") or "/"),
            headers=lower_keys(event.get("headers")),
            query=plain_keys(event.get("queryStringParameters")),
            body=decode_body(event),
            request_id=str(context.get("requestId", "")),
        )

    def to_response(self, response: HttpResponse) -> dict[str, Any]:
        return proxy_response(response)
