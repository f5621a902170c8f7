"""Lambda handler of the web app (catalog, demo pages, OpenAPI): serverless-wsgi in front
of the small WSGI app in ``webapp``. Its dependencies come from the ``web`` layer; it never
loads numpy or onnxruntime."""

from webapp.lambda_entry import serve_web

handler = serve_web()
