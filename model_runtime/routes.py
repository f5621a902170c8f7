"""The contract's two routes, matched on the path's tail so stage prefixes don't matter.

``GET`` a card also answers ``HEAD`` (the same answer without a body, for uptime checks and
``curl -I``); ``OPTIONS`` is the CORS preflight, answered by ``model_runtime.cors``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lambda_kit.errors import MethodNotAllowed, NotFound

_ROUTE = re.compile(r"(?:^|/)models/(?P<name>[^/]+)(?P<predict>/predict)?/?\Z")
PREFLIGHT = "OPTIONS"
_METHODS = {"predict": ("POST",), "card": ("GET", "HEAD")}


@dataclass(frozen=True)
class Route:
    model: str
    action: str  # "predict" or "card"

    @property
    def methods(self) -> tuple[str, ...]:
        """What the route answers, in the order an ``Allow`` header lists them."""
        return (*_METHODS[self.action], PREFLIGHT)


def requested_model(path: str) -> str | None:
    """The model name ``path`` routes to (None when it is no model route)."""
    found = _ROUTE.search(path)
    return None if found is None else found["name"]


def find_route(method: str, path: str, served_model: str) -> Route:
    """The route ``path`` names, whatever the method (404 for none, or another model)."""
    found = _ROUTE.search(path)
    if found is None:
        raise NotFound(f"no route {method} {path}; try POST /models/{served_model}/predict "
                       f"or GET /models/{served_model}", code="route_not_found")
    name = found["name"]
    if name != served_model:
        raise NotFound(f"this function serves model {served_model!r}, not {name!r}",
                       code="model_not_found")
    return Route(model=name, action="predict" if found["predict"] else "card")


def match_route(method: str, path: str, served_model: str) -> Route:
    route = find_route(method, path, served_model)
    if method not in route.methods or method == PREFLIGHT:
        allowed = _METHODS[route.action]
        raise MethodNotAllowed(f"{method} is not allowed on {path}; use {' or '.join(allowed)}",
                               headers={"Allow": ", ".join(route.methods)})
    return route
