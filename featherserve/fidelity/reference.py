"""The same handler answering in this process: the reference the packaged run must match.

The handler module is imported afresh from this interpreter's path (the checkout the
tooling runs from), with the function's environment in place of ``os.environ``, so it
reads its settings and finds its model layer exactly as the packaged run does. The working
directory stays: were it the task root, a relative entry of ``sys.path`` would import the
zip's code here too. Its log lines are captured, not printed.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from featherserve.fidelity.errors import HandlerError
from featherserve.fidelity.execution import InitResult, Invocation, lambda_error


class LambdaContextStandIn:
    """The attributes of awslambdaric's ``LambdaContext`` a handler may read."""

    def __init__(self, env: Mapping[str, str], timeout: float) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        region = env.get("AWS_REGION", "")
        self.invoked_function_arn = (f"arn:aws:lambda:{region}:123456789012:function:"
                                     f"{self.function_name}")
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@contextlib.contextmanager
def function_scope(env: Mapping[str, str], log: io.StringIO) -> Iterator[None]:
    """``os.environ`` replaced by ``env``, stdout/stderr into ``log``."""
    saved_env = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            yield
    finally:
        os.environ.clear()
        os.environ.update(saved_env)


def load_handler(handler: str) -> Callable[[Any, Any], Any]:
    """``path/module.function`` resolved as awslambdaric does, the module run afresh."""
    module_path, _, attribute = handler.rpartition(".")
    if not module_path or not attribute:
        raise HandlerError("Runtime.MalformedHandlerName", f"Bad handler '{handler}'")
    name = module_path.replace("/", ".")
    try:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            raise ModuleNotFoundError(f"No module named '{name}'", name=name)
        module = importlib.util.module_from_spec(spec)
        previous = sys.modules.get(name)
        sys.modules[name] = module  # a module's own classes may look themselves up there
        try:
            spec.loader.exec_module(module)
        finally:
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
    except ImportError as exc:
        raise HandlerError("Runtime.ImportModuleError",
                           f"Unable to import module '{module_path}': {exc}") from exc
    try:
        return getattr(module, attribute)  # type: ignore[no-any-return]
    except AttributeError:
        raise HandlerError("Runtime.HandlerNotFound",
                           f"Handler '{attribute}' missing on module '{module_path}'") from None


class InProcessFunction:
    """Load once (``init``), then answer events, always inside the function's scope."""

    def __init__(self, handler: str, env: Mapping[str, str], timeout: float) -> None:
        self.handler_name, self.env, self.timeout = handler, env, timeout
        self.log = io.StringIO()
        self._handler: Callable[[Any, Any], Any] | None = None

    def init(self) -> InitResult:
        started = time.monotonic()
        try:
            with function_scope(self.env, self.log):
                self._handler = load_handler(self.handler_name)
        except HandlerError as exc:
            return InitResult(False, _ms(started), exc.error_type, exc.message)
        except Exception as exc:
            return InitResult(False, _ms(started), type(exc).__name__, str(exc))
        return InitResult(True, _ms(started))

    def invoke(self, event: Any) -> Invocation:
        started = time.monotonic()
        if self._handler is None:
            return Invocation(False, lambda_error("NotInitialized", "init failed"), 0.0,
                              "NotInitialized")
        try:
            with function_scope(self.env, self.log):
                answer = self._handler(event, LambdaContextStandIn(self.env, self.timeout))
        except Exception as exc:
            return Invocation(False, lambda_error(type(exc).__name__, str(exc)), _ms(started),
                              type(exc).__name__)
        return Invocation(True, answer, _ms(started))


def _ms(started: float) -> float:
    return (time.monotonic() - started) * 1000
