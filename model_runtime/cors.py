"""CORS: the stage's one allowed origin on every answer, and the preflight when it arrives.

A REST API answers ``OPTIONS`` itself (a MOCK integration), but an HTTP API or a Function
URL without gateway-level CORS passes the preflight to the function: it gets the same
answer here, whatever the model's state (no model is needed to say what is allowed).
"""

from __future__ import annotations

from lambda_kit.http import HttpResponse
from model_runtime.routes import Route

# The same request headers serverless.yml's `custom.cors` allows at the gateway.
ALLOWED_HEADERS = "Content-Type,X-Api-Key"
MAX_AGE_SECONDS = 600


class CorsPolicy:
    def __init__(self, origin: str) -> None:
        self.origin = origin

    @property
    def answer_headers(self) -> dict[str, str]:
        """What every response carries (nothing when no origin is configured)."""
        if not self.origin:
            return {}
        return {"Access-Control-Allow-Origin": self.origin, "Vary": "Origin"}

    def preflight(self, route: Route) -> HttpResponse:
        methods = ",".join(route.methods)
        headers = {"Allow": ", ".join(route.methods)}
        if self.origin:
            headers.update({
                "Access-Control-Allow-Methods": methods,
                "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                "Access-Control-Max-Age": str(MAX_AGE_SECONDS),
            })
        return HttpResponse(204, "", headers)
