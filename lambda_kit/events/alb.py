"""Application Load Balancer target events, in single- and multi-value header mode.

ALB differs from API Gateway in three ways that matter here: query strings arrive exactly
as the client sent them (percent-encoded, decoded here); in multi-value mode the event
carries only ``multiValueHeaders`` / ``multiValueQueryStringParameters``, and the response
must answer in ``multiValueHeaders`` too (ALB ignores ``headers`` then); and the event has
no request id (the Lambda context's is used).
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from lambda_kit.events.base import (
    LambdaEvent,
    clean,
    decode_body,
    joined_map,
    scalar_text,
    text_field,
)
from lambda_kit.http import HttpRequest, HttpResponse


class ApplicationLoadBalancer:
    name = "alb"

    def matches(self, event: LambdaEvent) -> bool:
        context = event.get("requestContext")
        return isinstance(context, Mapping) and "elb" in context

    def to_request(self, event: LambdaEvent) -> HttpRequest:
        multi = _multi_value(event)
        return HttpRequest(
            method=scalar_text(event.get("httpMethod"), "'httpMethod'").upper(),
            path=clean(unquote(text_field(event, "path", "/", "'path'"))),
            headers=joined_map(event, "headers", "multiValueHeaders" if multi else None,
                               lower=True),
            query=joined_map(event, "queryStringParameters",
                             "multiValueQueryStringParameters" if multi else None,
                             lower=False, url_encoded=True),
            body=decode_body(event),
        )

    def to_response(self, response: HttpResponse, event: LambdaEvent) -> dict[str, Any]:
        try:
            phrase = HTTPStatus(response.status).phrase
        except ValueError:
            phrase = ""
        answer: dict[str, Any] = {
            "statusCode": response.status,
            "statusDescription": f"{response.status} {phrase}".strip(),
            "body": response.body,
            "isBase64Encoded": False,
        }
        if _multi_value(event):
            answer["multiValueHeaders"] = {k: [v] for k, v in response.headers.items()}
        else:
            answer["headers"] = dict(response.headers)
        return answer


def _multi_value(event: LambdaEvent) -> bool:
    return "multiValueHeaders" in event or "multiValueQueryStringParameters" in event
