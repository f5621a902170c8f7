"""The serving baseline a user would otherwise write: Flask, the scikit-learn teacher loaded
with joblib, behind a production WSGI server (waitress).

    FEATHERSERVE_BENCH_TEACHER=<teacher.joblib> FEATHERSERVE_BENCH_MANIFEST=<manifest.json> \\
        python -m waitress --host 127.0.0.1 --port N --threads 4 \\
        --call benchmarks.flask_baseline:create_app

It answers ``POST /models/<name>/predict`` with the same request and response shape as the
featherserve handler (``benchmarks.naive`` does the parsing and shaping).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

TEACHER = "FEATHERSERVE_BENCH_TEACHER"
MANIFEST = "FEATHERSERVE_BENCH_MANIFEST"


def create_app() -> Any:
    from flask import Flask, Response, request

    from benchmarks.naive import joblib_teacher_handler

    handler = joblib_teacher_handler(os.environ[TEACHER], os.environ[MANIFEST])
    name = json.loads(Path(os.environ[MANIFEST]).read_text())["name"]
    app = Flask("featherserve-baseline")

    @app.post(f"/models/{name}/predict")
    def predict() -> Response:
        answer = handler({"body": request.get_data(as_text=True)}, None)
        return Response(answer["body"], status=answer["statusCode"],
                        content_type="application/json")

    return app
