"""What a Lambda function is called with, besides the event: the context, and the handler's type.

Only the members the kit reads are named. A handler is also called with ``None`` (``sls
invoke local``, tests, the bulk command on a laptop), so every reader of the context goes
through ``getattr`` with a default; the Protocol says what Lambda's own object offers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class LambdaContext(Protocol):
    """The part of Lambda's context object the kit reads."""

    @property
    def aws_request_id(self) -> str: ...

    @property
    def function_name(self) -> str: ...

    def get_remaining_time_in_millis(self) -> int: ...


# A Lambda handler: (event, context) → the JSON answer. The context may be None off Lambda.
LambdaHandler = Callable[[dict[str, Any], "LambdaContext | None"], dict[str, Any]]
