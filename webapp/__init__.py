"""The web app (catalog, demo pages, OpenAPI), a small WSGI app for ``handlers/web.py``.

Runtime package (shipped whole in the function zip); it imports werkzeug and the model
store's read path, never numpy, onnxruntime, the handler runtime or the tooling.
"""

from webapp.app import WebApp, create_app
from webapp.settings import WebSettings

__all__ = ["WebApp", "WebSettings", "create_app"]
