"""The web function serving the project's store, and its OpenAPI document, for every test
here (tests/support/web.py)."""

from tests.support.web import openapi, web

__all__ = ["openapi", "web"]
