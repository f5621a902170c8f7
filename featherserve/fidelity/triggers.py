"""Which function an event is for, decided from the template as AWS would route it.

HTTP events (API Gateway REST v1, HTTP API and Function URL v2) go to the function whose
route matches their method and path, the most specific route winning as in API Gateway;
SQS events go to the function with an event source mapping on their queue. No model,
function or route is named here: a new function is covered by its own template entries.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from featherserve.fidelity.cloudformation import Template
from featherserve.fidelity.model import ANY_METHOD, FunctionSpec, HttpRoute


@dataclass(frozen=True)
class FunctionTriggers:
    routes: tuple[HttpRoute, ...] = ()
    queues: tuple[str, ...] = ()


def triggers_by_function(template: Template) -> dict[str, FunctionTriggers]:
    """Routes and queues of every function in ``template``, by logical id."""
    routes: dict[str, list[HttpRoute]] = {}
    queues: dict[str, list[str]] = {}
    for _, props in template.of_type("AWS::ApiGateway::Method"):
        integration = props.get("Integration") or {}
        if integration.get("Type") not in ("AWS_PROXY", "AWS"):
            continue  # MOCK: the CORS preflight API Gateway answers itself
        route = HttpRoute(str(props.get("HttpMethod", ANY_METHOD)).upper(),
                          _rest_path(template, props.get("ResourceId")))
        for function in template.functions_referenced(integration.get("Uri")):
            routes.setdefault(function, []).append(route)
    for _, props in template.of_type("AWS::ApiGatewayV2::Route"):
        route = _http_api_route(str(props.get("RouteKey", "$default")))
        for function in template.functions_referenced(props.get("Target")):
            routes.setdefault(function, []).append(route)
    for _, props in template.of_type("AWS::Lambda::Url"):
        for function in template.functions_referenced(props.get("TargetFunctionArn")):
            routes.setdefault(function, []).append(HttpRoute(ANY_METHOD, None))
    for _, props in template.of_type("AWS::Lambda::EventSourceMapping"):
        source = str(template.resolve(props.get("EventSourceArn", "")))
        if not source.startswith("arn:aws:sqs:"):
            continue
        for function in template.functions_referenced(props.get("FunctionName")):
            queues.setdefault(function, []).append(source.rsplit(":", 1)[1])
    return {name: FunctionTriggers(tuple(routes.get(name, ())), tuple(queues.get(name, ())))
            for name in set(routes) | set(queues)}


def _rest_path(template: Template, resource: Any) -> str:
    parts: list[str] = []
    while isinstance(resource, dict) and "Ref" in resource:
        props = template.properties(str(resource["Ref"]))
        parts.append(str(props.get("PathPart", "")))
        resource = props.get("ParentId")
    return "/" + "/".join(reversed(parts))


def _http_api_route(route_key: str) -> HttpRoute:
    if route_key == "$default":
        return HttpRoute(ANY_METHOD, None)
    method, _, path = route_key.partition(" ")
    return HttpRoute(method.upper(), path)


# ------------------------------------------------------------------------- events
@dataclass(frozen=True)
class NamedEvent:
    name: str  # its path under the events folder, without .json
    payload: Mapping[str, Any]


def load_events(folder: Path) -> list[NamedEvent]:
    """Every JSON object under ``folder`` (recursively), sorted by path."""
    events = []
    for path in sorted(folder.rglob("*.json")):
        payload = json.loads(path.read_text())
        if isinstance(payload, dict):
            events.append(NamedEvent(path.relative_to(folder).with_suffix("").as_posix(),
                                     payload))
    return events


def http_request_line(event: Mapping[str, Any]) -> tuple[str, str] | None:
    """(method, path) of an API Gateway v1 or v2 / Function URL event, else None."""
    if event.get("version") == "2.0" and isinstance(event.get("requestContext"), dict):
        http = event["requestContext"].get("http") or {}
        if "method" in http:
            return str(http["method"]).upper(), str(event.get("rawPath") or http.get("path"))
    if "httpMethod" in event and "path" in event:
        return str(event["httpMethod"]).upper(), str(event["path"])
    return None


def queue_names(event: Mapping[str, Any]) -> set[str]:
    records = event.get("Records")
    if not isinstance(records, list):
        return set()
    return {str(r["eventSourceARN"]).rsplit(":", 1)[1] for r in records
            if isinstance(r, dict) and r.get("eventSource") == "aws:sqs"
            and "eventSourceARN" in r}


def same_queue(configured: str, received: str, stage: str) -> bool:
    """Queue names match, whatever stage the event was captured on (its name holds one)."""
    if configured == received:
        return True
    if not stage or stage not in configured:
        return False
    pattern = "[A-Za-z0-9_]+".join(re.escape(part) for part in configured.split(stage))
    return re.fullmatch(pattern, received) is not None


def target_of(event: Mapping[str, Any], functions: Iterable[FunctionSpec],
              stage: str) -> FunctionSpec | None:
    """The function AWS would deliver ``event`` to, or None if none of them."""
    functions = list(functions)
    request = http_request_line(event)
    if request is not None:
        best: tuple[tuple[int, int, int, int], FunctionSpec] | None = None
        for function in functions:
            for route in function.routes:
                if route.matches(*request) and (best is None or route.specificity > best[0]):
                    best = (route.specificity, function)
        return best[1] if best else None
    queues = queue_names(event)
    if queues:
        for function in functions:
            if any(same_queue(c, q, stage) for c in function.queues for q in queues):
                return function
    return None
