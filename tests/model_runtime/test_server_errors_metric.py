"""Each answer's EMF line counts whether it was a server error (issue 19): `ServerErrors` is 1
for a 5xx, 0 otherwise, beside `Latency` on the one line a request prints, so that its SUM
per `model` is the number of 5xx answers (the pool's per-model alarms query it) and its
AVG their rate."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from featherserve.support.events import load_event, with_body, with_route
from model_runtime import Settings, serve_model
from tests.support.tiny_models import publish_tiny_tabular

GOOD = {"alpha": 1.0, "beta": 2.0, "gamma": 3.0}


def predict(fmt: str, body: str) -> dict[str, Any]:
    event = with_route(load_event(f"breast_cancer_predict_{fmt}"), "POST",
                       "/models/tiny/predict")
    return with_body(event, body, content_type="application/json")


def emf_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()
            if line.startswith("{") and '"_aws"' in line]


def settings(store: Path) -> Settings:
    # A service name of its own: Powertools keeps one metrics buffer per process.
    return Settings(model_source=str(store), service_name=f"test-{uuid.uuid4().hex[:8]}",
                    warmup=0)


def metric_definitions(line: dict[str, Any]) -> dict[str, str]:
    (directive,) = line["_aws"]["CloudWatchMetrics"]
    return {m["Name"]: m["Unit"] for m in directive["Metrics"]}


@pytest.mark.parametrize("fmt", ["v1", "v2"])
def test_server_errors_is_one_for_a_5xx_and_zero_otherwise(tmp_path, capsys, fmt):
    # No model yet: every answer is a 503 until it is published.
    handler = serve_model("tiny", settings=settings(tmp_path / "store"))
    capsys.readouterr()
    unavailable = handler(predict(fmt, json.dumps({"instances": [GOOD]})), None)
    publish_tiny_tabular(tmp_path / "store")
    ok = handler(predict(fmt, json.dumps({"instances": [GOOD]})), None)
    invalid = handler(predict(fmt, json.dumps({"instances": [{"alpha": 1.0}]})), None)
    assert [r["statusCode"] for r in (unavailable, ok, invalid)] == [503, 200, 422]
    lines = emf_lines(capsys.readouterr().out)
    assert [line["status"] for line in lines] == [503, 200, 422]
    assert [line["ServerErrors"] for line in lines] == [[1], [0], [0]]  # one value each
    for line in lines:
        # On the same flushed line as Latency, a Count, under the model's dimension.
        assert metric_definitions(line)["ServerErrors"] == "Count"
        assert "Latency" in line
        assert line["model"] == "tiny"
        (dimensions,) = line["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
        assert "model" in dimensions
