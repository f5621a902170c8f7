"""Lambda's own names for what goes wrong when it starts a handler (awslambdaric's)."""

from __future__ import annotations


class HandlerError(Exception):
    """A handler string Lambda cannot resolve: the ``Runtime.*`` error it reports."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message
