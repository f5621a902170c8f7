"""API Gateway REST API (payload format 1.0) proxy events, and hand-written events like them.

``sls invoke local`` users write events by hand: ``{"httpMethod": "GET", "path": "..."}``
with nothing else is a complete request here (no headers, no requestContext: the request
id then comes from the Lambda context).
"""

from __future__ import annotations

from typing import Any

from lambda_kit.events.base import (
    LambdaEvent,
    decode_body,
    joined_map,
    mapping,
    proxy_response,
    scalar_text,
    text_field,
)
from lambda_kit.http import HttpRequest, HttpResponse


class ApiGatewayV1:
    name = "api-gateway-v1"

    def matches(self, event: LambdaEvent) -> bool:
        return "httpMethod" in event

    def to_request(self, event: LambdaEvent) -> HttpRequest:
        context = mapping(event, "requestContext")
        return HttpRequest(
            method=scalar_text(event.get("httpMethod"), "'httpMethod'").upper(),
            path=text_field(event, "path", "/", "'path'"),
            headers=joined_map(event, "headers", "multiValueHeaders", lower=True),
            query=joined_map(event, "queryStringParameters", "multiValueQueryStringParameters",
                             lower=False),
            body=decode_body(event),
            request_id=text_field(context, "requestId", "", "'requestContext.requestId'"),
        )

    def to_response(self, response: HttpResponse, event: LambdaEvent) -> dict[str, Any]:
        return proxy_response(response)
