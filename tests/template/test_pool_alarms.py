"""Alarms per pooled model (issue 19): a constant number of alarms on Metrics Insights
queries grouped by the `model` dimension, however many models the stage pools, and the
metrics they query are what the pool really prints.

The stage is a project copy with pooled tiny models (`featherserve add NAME --pooled`, the
helpers of test_pool_template.py), packaged by the real CLI (`sls package --stage prod`).
The queries are then read back and matched against the EMF lines the real pool handler
prints in process, run with the pool function's environment from that template: a query
naming a metric, a dimension set, a namespace or a service the pool does not print would
watch nothing and never fire, and this test fails instead."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from aws_lambda_powertools.metrics import Metrics

from featherserve.codegen.service_files import add_model
from featherserve.support.processes import ROOT
from model_runtime import Settings
from model_runtime.pool import PoolList, PoolSettings, serve_pool
from model_store.base import LATEST
from tests.support.pool import card_event, model_names, predict_event, row, write_pool_list
from tests.support.template import alarms, functions, stage_description
from tests.support.tiny_models import publish_tiny_tabular
from tests.template.test_pool_template import package_copy, service_copy

# Powertools keeps one metrics buffer per process (see tests/model_runtime/test_pool.py).
pytestmark = pytest.mark.filterwarnings("ignore:Dimension .model. has already been added")

FEW, MANY = 3, 40
STAGE = "prod"
POOL_HANDLER = re.compile(r"^handlers/pool\.handler$")
POOL_BATCH_HANDLER = re.compile(r"^handlers/pool\.batch_handler$")
POOL_ALARMS = {"PoolModelServerErrorsAlarm", "PoolModelLoadFailuresAlarm",
               "PoolModelLatencyAlarm"}
QUERY = re.compile(
    r"^SELECT (?P<stat>SUM|AVG)\((?P<metric>\w+)\) "
    r'FROM SCHEMA\("(?P<namespace>[^"]+)", (?P<dimensions>[\w, ]+)\) '
    r"WHERE service = '(?P<service>[^']+)' "
    r"GROUP BY model ORDER BY (?P=stat)\(\) DESC$")


def pooled_stage(tmp: Path, count: int) -> dict[str, Any]:
    service, store = service_copy(tmp)
    for name in model_names(count):
        publish_tiny_tabular(tmp / "store", name)
        add_model(name, store, handlers_dir=service / "handlers",
                  out_dir=service / "generated", pooled=True)
    template, _, _ = package_copy(service, tmp / "out")
    return template


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[int, dict[str, Any]]:
    return {count: pooled_stage(tmp_path_factory.mktemp(f"pooled{count}"), count)
            for count in (FEW, MANY)}


def pool_functions(template: dict[str, Any], pattern: re.Pattern[str]
                   ) -> dict[str, dict[str, Any]]:
    return {k: p for k, p in functions(template).items() if pattern.match(p["Handler"])}


def queries(template: dict[str, Any]) -> dict[str, re.Match[str]]:
    found = {}
    for alarm_id, alarm in alarms(template).items():
        if "Metrics" not in alarm:
            continue
        (metric,) = alarm["Metrics"]
        match = QUERY.match(metric["Expression"])
        assert match, metric["Expression"]
        found[alarm_id] = match
    return found


def test_the_alarms_do_not_grow_with_the_pooled_models(templates):
    few, many = alarms(templates[FEW]), alarms(templates[MANY])
    assert sorted(few) == sorted(many)
    assert set(few) >= POOL_ALARMS
    assert {k for k, a in few.items() if "Metrics" in a} == POOL_ALARMS
    # The pool function keeps its own per-function alarms.
    (pool_id,) = pool_functions(templates[FEW], POOL_HANDLER)
    base = pool_id.removesuffix("LambdaFunction")
    for kind in ("Errors", "Throttles", "Duration"):
        assert f"{base}{kind}Alarm" in few
    # (The template itself grows by a bucket notification per model, never an alarm.)
    grown = len(templates[MANY]["Resources"]) - len(templates[FEW]["Resources"])
    assert grown == 0, grown


def test_each_pool_alarm_groups_the_pools_requests_of_this_stage_by_model(templates):
    template = templates[FEW]
    provider = yaml.safe_load((ROOT / "serverless.yml").read_text())["provider"]["environment"]
    service_name = f"featherserve-{STAGE}-pool"
    pools = {**pool_functions(template, POOL_HANDLER),
             **pool_functions(template, POOL_BATCH_HANDLER)}
    assert len(pools) == 2
    for properties in pools.values():
        variables = properties["Environment"]["Variables"]
        assert variables["POWERTOOLS_SERVICE_NAME"] == service_name
        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == \
            provider["POWERTOOLS_METRICS_NAMESPACE"]
    # Every other function keeps the service name all stages share: the queries exclude it.
    others = [p for k, p in functions(template).items() if k not in pools]
    assert others and all(p["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
                          == provider["POWERTOOLS_SERVICE_NAME"] for p in others)
    found = queries(template)
    assert set(found) == POOL_ALARMS
    assert {k: (m["stat"], m["metric"]) for k, m in found.items()} == {
        "PoolModelServerErrorsAlarm": ("SUM", "ServerErrors"),
        "PoolModelLoadFailuresAlarm": ("SUM", "PoolLoadFailures"),
        "PoolModelLatencyAlarm": ("AVG", "Latency")}
    every = alarms(template)
    for alarm_id, match in found.items():
        assert match["service"] == service_name
        assert match["namespace"] == provider["POWERTOOLS_METRICS_NAMESPACE"]
        assert match["dimensions"] == "model, service"
        alarm = every[alarm_id]
        (metric,) = alarm["Metrics"]
        assert metric["ReturnData"] is True and metric["Period"] in (60, 300)
        assert alarm["TreatMissingData"] == "notBreaching"
        assert alarm["EvaluationPeriods"] == 1
        assert "Namespace" not in alarm and "MetricName" not in alarm
        assert "AlarmActions" not in alarm  # prod's default: no topic
    latency = every["PoolModelLatencyAlarm"]
    assert (latency["Threshold"], latency["ComparisonOperator"]) == (3000,
                                                                     "GreaterThanThreshold")
    for alarm_id in ("PoolModelServerErrorsAlarm", "PoolModelLoadFailuresAlarm"):
        assert (every[alarm_id]["Threshold"], every[alarm_id]["ComparisonOperator"]) == (
            1, "GreaterThanOrEqualToThreshold")


def test_the_pooled_models_share_the_predict_throttle_of_their_route(templates):
    """API Gateway keys a method's throttle by resource path and method, never by a path
    parameter's value: the pooled models share /models/{name}/predict's throttle."""
    settings = stage_description(templates[MANY])["MethodSettings"]
    by_path = {s["ResourcePath"]: s for s in settings}
    pool_route = by_path["/~1models~1{name}~1predict"]
    dedicated = by_path["/~1models~1breast_cancer~1predict"]
    for key in ("HttpMethod", "ThrottlingRateLimit", "ThrottlingBurstLimit"):
        assert pool_route[key] == dedicated[key]
    assert not any(name in path for path in by_path for name in model_names(MANY))


def emf_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()
            if line.startswith("{") and '"_aws"' in line]


def test_the_queries_match_what_the_pool_prints(templates, tmp_path, capsys, monkeypatch):
    """The real pool handler, with the pool function's environment from the template, on
    three tiny models (one of them corrupted): every query's metric is printed on lines whose
    namespace, dimension set and service are exactly the query's, with the model named."""
    # A pool function's process holds no dedicated handler: none of the `model` default
    # dimensions that other tests' dedicated handlers leave in Powertools' class-level state.
    monkeypatch.setattr(Metrics, "_default_dimensions", {})
    (pool,) = pool_functions(templates[FEW], POOL_HANDLER).values()
    environment = {k: v for k, v in pool["Environment"]["Variables"].items()
                   if isinstance(v, str)}
    store = tmp_path / "store"
    good, invalid, broken = model_names(3)
    for name in (good, invalid, broken):
        publish_tiny_tabular(store, name)
    model_file = next((store / broken).rglob("model.onnx"))
    model_file.write_bytes(model_file.read_bytes() + b"tampered")  # sha256 no longer matches
    settings = Settings.from_env(environment, model_source=str(store), model_version=LATEST,
                                 model_cache=str(tmp_path / "cache"), warmup=0)
    assert settings.service_name == f"featherserve-{STAGE}-pool"
    models = PoolList.read(write_pool_list(tmp_path / "pool_models.json",
                                           [good, invalid, broken], str(store)))
    handler = serve_pool("tabular", settings=settings, models=models,
                         pool_settings=PoolSettings(models_file="unused", memory_bytes=1 << 30))
    capsys.readouterr()
    statuses = [handler(predict_event(good, [row([1, 2, 3])]), None)["statusCode"],
                handler(card_event(good), None)["statusCode"],
                handler(predict_event(invalid, [{"alpha": 1.0}]), None)["statusCode"],
                handler(predict_event(broken, [row([1, 2, 3])]), None)["statusCode"],
                handler(predict_event("not_pooled", [row([1, 2, 3])]), None)["statusCode"]]
    assert statuses == [200, 200, 422, 503, 404]
    lines = emf_lines(capsys.readouterr().out)
    for alarm_id, query in queries(templates[FEW]).items():
        matching = [
            line for line in lines
            if line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == query["namespace"]
            and [sorted(d) for d in line["_aws"]["CloudWatchMetrics"][0]["Dimensions"]]
            == [sorted(query["dimensions"].split(", "))]
            and line["service"] == query["service"]
            and query["metric"] in line]
        values: dict[str, list[float]] = {}
        for line in matching:
            names = [m["Name"] for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
            assert query["metric"] in names
            values.setdefault(line["model"], []).extend(line[query["metric"]])
        if query["metric"] == "ServerErrors":  # a SUM per model: the 5xx count
            assert {m: sum(v) for m, v in values.items()} == {good: 0, invalid: 0, broken: 1}
        elif query["metric"] == "PoolLoadFailures":
            assert {m: sum(v) for m, v in values.items()} == {broken: 1}
        else:  # every answer of a pooled model has a latency
            assert {m: len(v) for m, v in values.items()} == {good: 2, invalid: 1, broken: 1}
        assert values, alarm_id
    # A name the pool does not serve is no model's series: no model dimension at all.
    (unknown,) = [line for line in lines if line.get("path", "").endswith("/not_pooled/predict")]
    assert unknown["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
