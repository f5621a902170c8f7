"""What the runner knows about a function: plain data, whether it came from `sls package`
output or from a deployed stack."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ANY_METHOD = "ANY"


@dataclass(frozen=True)
class HttpRoute:
    """An API Gateway route to a function: REST (``/a/{b}``, ``/{proxy+}``) or HTTP API.

    ``path`` None is a catch-all (an HTTP API ``$default`` route, a Function URL).
    """

    method: str
    path: str | None

    def matches(self, method: str, path: str) -> bool:
        if self.method != ANY_METHOD and self.method != method.upper():
            return False
        return self.path is None or _path_pattern(self.path).fullmatch(path) is not None

    @property
    def specificity(self) -> tuple[int, int, int, int]:
        """API Gateway prefers literal segments, then parameters, then a greedy tail."""
        if self.path is None:
            return (0, 0, 0, 0)
        segments = [s for s in self.path.split("/") if s]
        greedy = sum(1 for s in segments if s.endswith("+}"))
        params = sum(1 for s in segments if s.startswith("{"))
        return (1, -greedy, len(segments) - params, int(self.method != ANY_METHOD))


def _path_pattern(path: str) -> re.Pattern[str]:
    parts = []
    for segment in (s for s in path.split("/") if s):
        if segment.startswith("{") and segment.endswith("+}"):
            parts.append(".+")
        elif segment.startswith("{") and segment.endswith("}"):
            parts.append("[^/]+")
        else:
            parts.append(re.escape(segment))
    return re.compile("/" + "/".join(parts) + "/?")


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function as the runner runs it: code, layers (in order), configuration."""

    name: str  # the name in reports: the service's function key, else the FunctionName
    function_name: str  # Lambda's FunctionName
    handler: str
    code: Path
    layers: tuple[Path, ...] = ()
    runtime: str = "python3.12"
    timeout: float = 3.0
    memory_mb: int = 128
    environment: Mapping[str, str] = field(default_factory=dict)
    routes: tuple[HttpRoute, ...] = ()
    queues: tuple[str, ...] = ()  # SQS queue names whose messages it receives
    notes: tuple[str, ...] = ()  # what the runner could not reproduce exactly


@dataclass(frozen=True)
class ServiceSpec:
    """The functions of one deployment stage."""

    stage: str
    region: str
    functions: tuple[FunctionSpec, ...]
    # Where the template came from, for messages.
    source: str = ""
