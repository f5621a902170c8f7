"""Event adapters, one module per event shape, tried most specific first: HTTP API /
Function URL (payload 2.0), then ALB (its requestContext names the load balancer), then
REST API (payload 1.0), which also reads hand-written events with just a method and path.
"""

from __future__ import annotations

from lambda_kit.events.alb import ApplicationLoadBalancer
from lambda_kit.events.api_gateway_v1 import ApiGatewayV1
from lambda_kit.events.api_gateway_v2 import ApiGatewayV2
from lambda_kit.events.base import EventAdapter, LambdaEvent

ADAPTERS: tuple[EventAdapter, ...] = (ApiGatewayV2(), ApplicationLoadBalancer(), ApiGatewayV1())


def adapter_for(event: object) -> EventAdapter | None:
    """The adapter that understands ``event``, or None for a non-HTTP invocation."""
    if not isinstance(event, dict):
        return None
    return next((a for a in ADAPTERS if a.matches(event)), None)


__all__ = ["ADAPTERS", "ApiGatewayV1", "ApiGatewayV2", "ApplicationLoadBalancer",
           "EventAdapter", "LambdaEvent", "adapter_for"]
