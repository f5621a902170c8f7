"""A model answering through the real handler, as a user's POST would reach it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from model_runtime import Settings, serve_model


def served_answer(store: Path, name: str, instances: list[Any]) -> dict[str, Any]:
    """POST /models/<name>/predict of ``instances`` (an API Gateway v2 event) to the model's
    handler on ``store``: the JSON of its 200 answer."""
    handler = serve_model(name, settings=Settings(model_source=str(store)))
    path = f"/models/{name}/predict"
    response = handler({"version": "2.0", "routeKey": f"POST {path}", "rawPath": path,
                        "headers": {"content-type": "application/json"},
                        "requestContext": {"http": {"method": "POST", "path": path},
                                           "requestId": "t"},
                        "body": json.dumps({"instances": instances}),
                        "isBase64Encoded": False}, None)
    assert response["statusCode"] == 200, response["body"]
    answer: dict[str, Any] = json.loads(response["body"])
    return answer
