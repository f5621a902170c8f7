"""The small shared runtime every model handler uses (nothing here imports training code)."""

from handlers.runtime.lambda_entry import LambdaHandler, serve_model
from handlers.runtime.settings import Settings

__all__ = ["LambdaHandler", "Settings", "serve_model"]
