"""The pool function (model_runtime.pool) over many tiny real models in a LocalStore: the
same answers as dedicated functions, 404 before any store read, a memory-bounded LRU, alias
changes seen after the TTL, and a broken model isolated from its neighbours."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from featherserve.support.events import response_json
from model_runtime import Settings, serve_model
from model_runtime.pool import PoolEntry, PoolList, PoolSettings, serve_pool
from model_runtime.pool.entry import pool_of
from model_runtime.pool.exceptions import PoolListError
from model_runtime.pool.memory import estimated_bytes
from model_store.local import LocalStore
from tests.support.pool import (
    EVENT_FORMATS,
    CountingStore,
    ManualClock,
    card_event,
    model_names,
    predict_event,
    publish_many,
    row,
    write_pool_list,
)

# Powertools keeps one metrics buffer per process: the dedicated handlers these tests build
# beside a pool set their own "model" default dimension, which the pool's overrides.
pytestmark = pytest.mark.filterwarnings("ignore:Dimension .model. has already been added")

COUNT = 30
TTL = 60
BIG = 1 << 30


@pytest.fixture(scope="module")
def store_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pool") / "store"
    publish_many(root, COUNT, seed=7)
    return root


@pytest.fixture(scope="module")
def pool_list(store_root: Path) -> PoolList:
    path = write_pool_list(store_root.parent / "pool_models.json", model_names(COUNT),
                           str(store_root))
    return PoolList.read(path)


def runtime_settings(store_root: Path, **overrides) -> Settings:
    return Settings(model_source=str(store_root), warmup=0,
                    model_cache=str(store_root.parent / "cache"), **overrides)


def make_pool(store_root: Path, models: PoolList, *, memory: int = BIG, max_models: int = 0,
              clock: ManualClock | None = None, store: CountingStore | None = None,
              settings: Settings | None = None):
    counting = store or CountingStore(store_root)
    handler = serve_pool(
        "tabular", settings=settings or runtime_settings(store_root), models=models,
        pool_settings=PoolSettings(models_file="unused", memory_bytes=memory,
                                   max_models=max_models, alias_ttl_s=TTL),
        store_for=lambda _source: counting, clock=clock or ManualClock())
    return handler, counting


@pytest.fixture(scope="module")
def dedicated(store_root: Path):
    handlers: dict[str, object] = {}

    def get(name: str):
        if name not in handlers:
            handlers[name] = serve_model(name, settings=runtime_settings(store_root))
        return handlers[name]
    return get


@pytest.fixture(scope="module")
def pool_handler(store_root: Path, pool_list: PoolList):
    return make_pool(store_root, pool_list)[0]


def answer(handler, event) -> tuple[int, dict[str, str], str]:
    response = handler(event, None)
    headers = {k: v for k, v in response.get("headers", {}).items() if k != "Server-Timing"}
    return response["statusCode"], headers, response["body"]


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(index=st.integers(0, COUNT - 1), form=st.sampled_from(EVENT_FORMATS),
       rows=st.lists(st.lists(finite, min_size=3, max_size=3), min_size=1, max_size=8),
       as_lists=st.booleans(), top_k=st.sampled_from([None, "1", "2"]))
def test_predictions_equal_a_dedicated_functions(pool_handler, dedicated, index, form, rows,
                                                 as_lists, top_k):
    name = model_names(COUNT)[index]
    instances = rows if as_lists else [row(r) for r in rows]
    event = predict_event(name, instances, form, query={"top_k": top_k} if top_k else None)
    pooled, alone = answer(pool_handler, event), answer(dedicated(name), event)
    assert pooled == alone
    assert pooled[0] == 200
    assert json.loads(pooled[2])["model"] == name


@pytest.mark.parametrize("form", EVENT_FORMATS)
@pytest.mark.parametrize("case", [
    ("GET", "/models/{name}"), ("HEAD", "/models/{name}"), ("OPTIONS", "/models/{name}"),
    ("OPTIONS", "/models/{name}/predict"), ("GET", "/models/{name}/predict"),
    ("DELETE", "/models/{name}"), ("POST", "/models/{name}/predict")])
def test_cards_head_options_and_errors_equal_a_dedicated_functions(
        pool_handler, dedicated, form, case):
    method, path = case
    for name in model_names(COUNT)[:: COUNT // 5]:
        event = card_event(name, form, method, path.format(name=name))
        pooled, alone = answer(pool_handler, event), answer(dedicated(name), event)
        assert pooled == alone, (method, path)


def test_the_card_is_the_served_versions_manifest(pool_handler, store_root):
    for name in model_names(COUNT)[:6]:
        status, headers, body = answer(pool_handler, card_event(name))
        latest = LocalStore(store_root).manifest(name)
        assert status == 200 and headers["X-Model-Version"] == latest.version
        card = json.loads(body)
        assert (card["name"], card["version"], card["sha256"]) == (
            name, latest.version, latest.sha256)


@pytest.mark.parametrize("form", EVENT_FORMATS)
@pytest.mark.parametrize("method,path", [
    ("POST", "/models/{name}/predict"), ("GET", "/models/{name}"), ("HEAD", "/models/{name}"),
    ("OPTIONS", "/models/{name}/predict")])
@pytest.mark.parametrize("name", ["nobody", "pooled_999", "breast_cancer", "x" * 200,
                                  "pooled_001%2F..", "Pooled_001"])
def test_an_unknown_name_is_404_before_any_store_read(store_root, pool_list, form, method,
                                                      path, name):
    handler, store = make_pool(store_root, pool_list)
    event = (predict_event(name, [[1, 2, 3]], form) if method == "POST"
             else card_event(name, form, method, path.format(name=name)))
    response = handler(event, None)
    assert response["statusCode"] == 404
    if method != "HEAD":
        assert response_json(response)["error"]["code"] == "model_not_found"
    assert store.reads == []
    assert pool_of(handler).loaded_names == []


def test_a_path_that_is_no_model_route_is_route_not_found(pool_handler):
    response = pool_handler(card_event("x", "v2", "GET", "/somewhere/else"), None)
    assert response["statusCode"] == 404
    assert response_json(response)["error"]["code"] == "route_not_found"


def test_models_of_another_kind_are_not_served(store_root, pool_list):
    listed = PoolList.from_document(
        {"source": str(store_root), "models": [{"name": "pooled_000", "kind": "image"},
                                               {"name": "pooled_001", "kind": "tabular"}]},
        "test")
    handler, store = make_pool(store_root, listed)
    assert handler(card_event("pooled_000"), None)["statusCode"] == 404
    assert store.reads == []
    assert handler(card_event("pooled_001"), None)["statusCode"] == 200


def test_a_kind_the_manifest_contradicts_is_503_for_that_model(store_root):
    listed = PoolList({"pooled_000": PoolEntry("pooled_000", "image", str(store_root))})
    handler = serve_pool("image", settings=runtime_settings(store_root), models=listed,
                         pool_settings=PoolSettings(models_file="unused", memory_bytes=BIG))
    assert handler(card_event("pooled_000"), None)["statusCode"] == 503


def test_lru_evicts_least_recently_used_within_the_memory_budget(store_root, pool_list):
    model_bytes = LocalStore(store_root).manifest("pooled_000").bytes
    capacity = 5
    handler, _ = make_pool(store_root, pool_list,
                               memory=capacity * estimated_bytes(model_bytes))
    pool = pool_of(handler)
    names = model_names(COUNT)
    for _ in range(3):  # a working set six times the capacity, cycled: every access misses
        for name in names:
            assert handler(predict_event(name, [[1, 2, 3]]), None)["statusCode"] == 200
            assert pool.loaded_bytes <= pool.pool_settings.memory_bytes
    assert (pool.stats.hits, pool.stats.misses) == (0, 3 * COUNT)
    assert pool.stats.evictions == 3 * COUNT - capacity
    assert pool.loaded_names == names[-capacity:]
    hot = names[:3]
    for _ in range(4):  # a working set within capacity: misses once each, then hits
        for name in hot:
            assert handler(predict_event(name, [[0, 0, 0]], "v2"), None)["statusCode"] == 200
    assert (pool.stats.hits, pool.stats.misses) == (9, 3 * COUNT + 3)
    assert pool.loaded_names[-3:] == hot and len(pool.loaded_names) == capacity


def test_lru_count_limit_and_a_model_alone_over_budget(store_root, pool_list):
    handler, _ = make_pool(store_root, pool_list, max_models=2)
    pool = pool_of(handler)
    for name in model_names(4):
        handler(card_event(name), None)
    assert pool.loaded_names == model_names(4)[2:]
    handler, _ = make_pool(store_root, pool_list, memory=1)  # smaller than any model
    pool = pool_of(handler)
    for name in model_names(3):
        assert handler(card_event(name), None)["statusCode"] == 200
        assert pool.loaded_names == [name]


def test_promote_and_rollback_are_served_after_the_alias_ttl(tmp_path):
    root = tmp_path / "store"
    published = publish_many(root, 3)
    name = "pooled_002"  # three versions
    assert [m.version for m in published[name]] == ["1", "2", "3"]
    local = LocalStore(root)
    local.promote(name, "1", "prod")
    models = PoolList.read(write_pool_list(tmp_path / "pool.json", [name], str(root),
                                           ref="prod"))
    clock = ManualClock()
    handler, store = make_pool(root, models, clock=clock)

    def version() -> str:
        response = handler(predict_event(name, [[1, 2, 3]]), None)
        assert response["statusCode"] == 200
        return str(response_json(response)["version"])

    assert version() == "1"
    local.promote(name, "3", "prod")
    clock.advance(TTL - 1)
    resolves = store.count("resolve")
    assert version() == "1"  # within the TTL: no store read at all
    assert store.count("resolve") == resolves
    clock.advance(1)
    assert version() == "3"
    local.rollback(name, "prod")
    clock.advance(TTL / 2)
    assert version() == "3"
    clock.advance(TTL / 2)
    assert version() == "1"
    clock.advance(TTL)
    opens = store.count("open")
    assert version() == "1"  # same version after the TTL: the alias is read, nothing reopened
    assert store.count("open") == opens
    assert pool_of(handler).stats.reloads == 2


def test_a_pinned_version_is_never_read_again(tmp_path):
    root = tmp_path / "store"
    publish_many(root, 3)
    models = PoolList.read(write_pool_list(tmp_path / "pool.json", [
        ], str(root), extra=[{"name": "pooled_002", "ref": "2"}]))
    clock = ManualClock()
    handler, store = make_pool(root, models, clock=clock)
    for _ in range(3):
        response = handler(predict_event("pooled_002", [[1, 2, 3]]), None)
        assert response_json(response)["version"] == "2"
        clock.advance(10 * TTL)
    assert store.count("resolve") == 0 and store.count("open") == 1


def _corrupt(root: Path, name: str, how: str) -> None:
    folder = root / name / LocalStore(root).resolve(name)
    model = next(folder.glob("*.onnx"))
    if how == "sha256":
        data = bytearray(model.read_bytes())
        data[len(data) // 2] ^= 0xFF
        model.write_bytes(bytes(data))
    elif how == "missing":
        model.unlink()
    else:
        (folder / "manifest.json").write_text('{"name": ')


@pytest.mark.parametrize("how", ["sha256", "missing", "manifest"])
@pytest.mark.parametrize("form", EVENT_FORMATS)
def test_a_model_that_fails_verification_is_503_alone_and_retried_after_the_ttl(
        tmp_path, how, form):
    root = tmp_path / "store"
    publish_many(root, 4)
    good = LocalStore(root).open("pooled_000")  # a copy to repair with
    models = PoolList.read(write_pool_list(tmp_path / "pool.json", model_names(4), str(root)))
    clock = ManualClock()
    handler, store = make_pool(root, models, clock=clock)
    _corrupt(root, "pooled_000", how)
    for _ in range(3):
        broken = handler(predict_event("pooled_000", [[1, 2, 3]], form), None)
        assert broken["statusCode"] == 503
        error = response_json(broken)["error"]
        assert error["code"] == "model_unavailable"
        assert "sha256" not in error["message"] and str(root) not in error["message"]
        for neighbour in model_names(4)[1:]:
            assert handler(predict_event(neighbour, [[1, 2, 3]], form), None)[
                "statusCode"] == 200
    assert store.reads.count(("resolve", "pooled_000")) == 1  # not retried per request
    # Repaired (republished as it was), it answers once the TTL has passed.
    folder = root / "pooled_000" / good.manifest.version
    for stale in folder.iterdir():
        stale.unlink()
    (folder / good.manifest.file).write_bytes(good.model_bytes)
    (folder / "manifest.json").write_text(good.manifest.to_json())
    assert handler(predict_event("pooled_000", [[1, 2, 3]], form), None)["statusCode"] == 503
    clock.advance(TTL)
    assert handler(predict_event("pooled_000", [[1, 2, 3]], form), None)["statusCode"] == 200


def test_a_new_version_that_fails_keeps_the_loaded_one_serving(tmp_path):
    root = tmp_path / "store"
    publish_many(root, 3)
    local = LocalStore(root)
    local.promote("pooled_002", "1", "prod")
    models = PoolList.read(write_pool_list(tmp_path / "pool.json", ["pooled_002"], str(root),
                                           ref="prod"))
    clock = ManualClock()
    handler, _ = make_pool(root, models, clock=clock)
    assert response_json(handler(predict_event("pooled_002", [[1, 2, 3]]), None))[
        "version"] == "1"
    local.promote("pooled_002", "3", "prod")
    _corrupt(root, "pooled_002", "sha256")  # latest is v3
    clock.advance(TTL)
    response = handler(predict_event("pooled_002", [[1, 2, 3]]), None)
    assert response["statusCode"] == 200 and response_json(response)["version"] == "1"


def test_the_warm_set_is_loaded_at_init_and_nothing_else(store_root, pool_list):
    counting = CountingStore(store_root)
    handler = serve_pool("tabular", settings=runtime_settings(store_root), models=pool_list,
                         pool_settings=PoolSettings(models_file="unused", memory_bytes=BIG,
                                                    warm="pooled_003, pooled_004,nobody"),
                         store_for=lambda _source: counting)
    assert pool_of(handler).loaded_names == ["pooled_003", "pooled_004"]


def test_settings_and_pool_list_from_the_environment(tmp_path, store_root):
    path = write_pool_list(tmp_path / "pool_models.json", ["pooled_000"], "")
    env = {"LAMBDA_TASK_ROOT": str(tmp_path), "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
           "FEATHERSERVE_POOL_ALIAS_TTL_S": "5", "FEATHERSERVE_POOL_MAX_MODELS": "7"}
    found = PoolSettings.from_env(env)
    assert found.models_file == str(path)
    assert found.memory_bytes == 512 * 1024 * 1024 * 60 // 100
    assert (found.alias_ttl_s, found.max_models) == (5, 7)
    assert PoolSettings.from_env({**env, "FEATHERSERVE_POOL_MEMORY_PERCENT": "25"}
                                 ).memory_bytes == 128 * 1024 * 1024
    assert PoolSettings.from_env({**env, "FEATHERSERVE_POOL_MEMORY_BYTES": "1000"}
                                 ).memory_bytes == 1000
    # The list names no source: each model comes from the function's own model source.
    listed = PoolList.read(path, default_source=str(store_root))
    assert listed.entries["pooled_000"].source == str(store_root)


@pytest.mark.parametrize("document", [
    [], {"models": "a"}, {"models": [{"name": "a", "kind": "audio"}], "source": "/x"},
    {"models": ["a", "a"], "source": "/x"}, {"models": ["Bad-Name"], "source": "/x"},
    {"models": ["a"]}, {"models": [{"name": "a", "ref": 3}], "source": "/x"}, {"models": [7]}])
def test_a_malformed_pool_list_fails_the_init(tmp_path, document):
    path = tmp_path / "pool.json"
    path.write_text(json.dumps(document))
    with pytest.raises(PoolListError):
        PoolList.read(path)


def test_a_missing_pool_list_fails_the_init(tmp_path):
    with pytest.raises(PoolListError, match="pool list"):
        serve_pool("tabular", settings=runtime_settings(tmp_path),
                   pool_settings=PoolSettings(models_file=str(tmp_path / "none.json"),
                                              memory_bytes=BIG))
    with pytest.raises(PoolListError, match="kind is one of"):
        serve_pool("audio")


def test_each_requests_metrics_carry_its_model_as_a_dimension(store_root, pool_list, capsys):
    handler, _ = make_pool(store_root, pool_list)
    capsys.readouterr()
    for name in model_names(3):
        assert handler(predict_event(name, [[1, 2, 3]]), None)["statusCode"] == 200
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()
             if line.startswith("{") and '"_aws"' in line]
    assert [line["model"] for line in lines] == model_names(3)
    for line in lines:
        assert "model" in line["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0]
        assert "Latency" in line and "InferenceLatency" in line


def test_snapstart_snapshots_only_the_warm_set_and_rereads_aliases_after_restore(
        tmp_path, monkeypatch, capsys):
    import snapshot_restore_py

    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")
    monkeypatch.setattr(snapshot_restore_py, "_before_snapshot_registry", [])
    monkeypatch.setattr(snapshot_restore_py, "_after_restore_registry", [])
    root = tmp_path / "store"
    publish_many(root, 4)
    models = PoolList.read(write_pool_list(tmp_path / "pool.json", model_names(4), str(root),
                                           ref="prod"))
    for name in model_names(4):
        LocalStore(root).promote(name, "1", "prod")
    clock = ManualClock()
    counting = CountingStore(root)
    handler = serve_pool("tabular", settings=runtime_settings(root), models=models,
                         pool_settings=PoolSettings(models_file="unused", memory_bytes=BIG,
                                                    warm="pooled_002", alias_ttl_s=TTL),
                         store_for=lambda _source: counting, clock=clock)
    pool = pool_of(handler)
    handler(card_event("pooled_001"), None)  # init-time traffic is not snapshotted
    assert pool.loaded_names == ["pooled_002", "pooled_001"]
    for func, args, kwargs in snapshot_restore_py.get_before_snapshot():
        func(*args, **kwargs)
    assert pool.loaded_names == ["pooled_002"]  # nothing else model-specific in the snapshot
    LocalStore(root).promote("pooled_002", "3", "prod")  # while the snapshot waited
    for func, args, kwargs in snapshot_restore_py.get_after_restore():
        func(*args, **kwargs)
    capsys.readouterr()
    response = handler(predict_event("pooled_002", [[1, 2, 3]]), None)  # no TTL passed
    assert response["statusCode"] == 200 and response_json(response)["version"] == "3"
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines()
           if '"_aws"' in line]
    assert len(emf) == 1 and emf[0]["cold_start"] is True


@settings(max_examples=40, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(accesses=st.lists(st.integers(0, 7), min_size=1, max_size=40),
       capacity=st.integers(1, 5))
def test_the_lru_matches_a_reference_lru_for_any_access_sequence(store_root, pool_list,
                                                                 accesses, capacity):
    handler, _ = make_pool(store_root, pool_list, max_models=capacity)
    pool = pool_of(handler)
    names = model_names(8)
    reference: list[str] = []
    hits = 0
    for index in accesses:
        name = names[index]
        if name in reference:
            hits += 1
            reference.remove(name)
        reference = [*reference, name][-capacity:]
        response = handler(predict_event(name, [[index, 1, 2]]), None)
        assert response["statusCode"] == 200 and response_json(response)["model"] == name
    assert pool.loaded_names == reference
    assert (pool.stats.hits, pool.stats.misses) == (hits, len(accesses) - hits)


IMAGE_EVENTS = ("digits_predict_v1", "digits_predict_v2", "digits_raw_v1", "digits_raw_v2")


def test_an_image_pool_answers_as_the_dedicated_digits_function(tmp_path):
    from featherserve.support.events import load_event
    from featherserve.support.processes import ROOT

    shipped = str(ROOT / "models")
    listed = PoolList.from_document({"source": shipped, "kind": "image",
                                     "models": ["digits", "breast_cancer"]}, "test")
    settings_ = Settings(model_source=shipped, warmup=0, model_cache=str(tmp_path / "cache"))
    pooled = serve_pool("image", settings=settings_, models=listed,
                        pool_settings=PoolSettings(models_file="unused", memory_bytes=BIG))
    dedicated = serve_model("digits", settings=settings_)
    for name in IMAGE_EVENTS:
        event = load_event(name)
        assert answer(pooled, event) == answer(dedicated, event)
        assert answer(pooled, event)[0] == 200
    for method in ("GET", "HEAD", "OPTIONS"):
        event = card_event("digits", "v2", method)
        assert answer(pooled, event) == answer(dedicated, event)
    # Listed as an image model, breast_cancer's tabular manifest makes it 503, alone.
    assert pooled(card_event("breast_cancer"), None)["statusCode"] == 503
    assert answer(pooled, load_event("digits_raw_v2"))[0] == 200
