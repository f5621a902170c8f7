"""The contract's two routes, matched on the path's tail so stage prefixes don't matter."""

from __future__ import annotations

import re
from dataclasses import dataclass

from handlers.runtime.errors import MethodNotAllowed, NotFound

_ROUTE = re.compile(r"(?:^|/)models/(?P<name>[^/]+)(?P<predict>/predict)?/?$")


@dataclass(frozen=True)
class Route:
    model: str
    action: str  # "predict" or "card"


def match_route(method: str, path: str, served_model: str) -> Route:
    found = _ROUTE.search(path)
    if found is None:
        raise NotFound(f"no route {method} {path}; try POST /models/{served_model}/predict "
                       f"or GET /models/{served_model}", code="route_not_found")
    name = found["name"]
    if name != served_model:
        raise NotFound(f"this function serves model {served_model!r}, not {name!r}",
                       code="model_not_found")
    action, allowed = ("predict", "POST") if found["predict"] else ("card", "GET")
    if method != allowed:
        raise MethodNotAllowed(f"{method} is not allowed on {path}; use {allowed}",
                               headers={"Allow": allowed})
    return Route(model=name, action=action)
