"""The pool's own errors; what a client sees of them goes through ``lambda_kit.errors``."""

from __future__ import annotations

from lambda_kit.settings import SettingsError


class PoolListError(SettingsError):
    """The pool list shipped with the function is missing or not in the documented shape
    (a deploy mistake: the function's init fails loudly instead of answering 404s)."""
