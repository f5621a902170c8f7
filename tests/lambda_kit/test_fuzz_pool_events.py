"""Property-based fuzzing of the one pool handler (issue 19, docs/pool.md): events of every
shape for the shipped models breast_cancer (tabular) and digits (image), pooled together.

- Clients cannot tell pooled from dedicated: for every event shape and both models, the
  pool's answer to a drawn request equals the model's dedicated handler's for the same
  event: status, headers (``Server-Timing`` aside: it carries the request's own timings)
  and JSON body, a 404's message aside (the dedicated function names the model it serves,
  the pool the name it does not serve). A pooled tabular model takes the mixed pool's body
  limit (4.5 MB, an image model is pooled): against the dedicated function deployed at
  256 KiB the one difference is that function's 413 for a body over it.
- The model's name in the path fuzzed (any text, percent-encoded bytes, dots, kilobytes,
  case and slash variants of the pooled names, a model the store holds that the pool list
  does not name), every shape, every method: never raises, never a 5xx, the contract's
  error shape; a path that names no model route is 404 ``route_not_found``, a name the pool
  list does not hold is 404 ``model_not_found`` and nothing is read from the store or
  loaded for it (a store that counts its reads, and ``loaded_names``).
- Interleavings: a drawn sequence of requests to both models and to unknown names, on a
  fresh pool, is answered step by step as the dedicated handlers answer it, and valid
  requests after it are answered exactly as before it.

Derandomized and bounded (``EXAMPLES``), as ``test_fuzz_events.py``.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as count_as
from hypothesis import strategies as st

from model_runtime import Settings, serve_model
from model_runtime.pool import PoolList, PoolSettings, serve_pool
from model_runtime.pool.entry import pool_of
from model_store import LocalStore
from model_store.base import ModelStore
from tests.support.contract import INTERNAL_DETAIL, check_answer, response_headers
from tests.support.event_strategies import (
    IMAGES,
    METHODS,
    SHAPES,
    http_events,
    requests,
    valid_requests,
)
from tests.support.pool import CountingStore

pytestmark = pytest.mark.filterwarnings("ignore:Dimension .model. has already been added")

ROOT = Path(__file__).resolve().parents[2]
STORE = ROOT / "models"  # the project store: read only
POOLED = {"breast_cancer": "tabular", "digits": "image"}
NARROW = {"breast_cancer": "tabular"}  # digits is in the store, not in this pool list
POOL_BODY_LIMIT = 4_500_000  # a pool with an image model (featherserve/codegen SIZING)
DEDICATED_BODY_LIMIT = {"tabular": 262_144, "image": 4_500_000}  # as deployed
BIG = 1 << 30
# a: 7 shapes × 2 models × 24 events; b: 7 shapes × 72 events, each to two pools;
# c: 24 sequences of 1 to 8 events, then 7 probes. About 15 s on two loaded cores.
EXAMPLES = 24
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class LambdaContext:
    aws_request_id = "a1b2c3d4-0000-4000-8000-00000000f019"


# -- the pool, the dedicated handlers, and a store that counts its reads ------------------------
class Pool:
    """A pool handler over ``STORE`` listing ``models``, with the stores it opened."""

    def __init__(self, models: dict[str, str], cache: Path) -> None:
        self.stores: list[CountingStore] = []
        listed = PoolList.from_document(
            {"source": str(STORE),
             "models": [{"name": n, "kind": k} for n, k in models.items()]}, "fuzz")
        self.names = frozenset(models)
        self.handler: Handler = serve_pool(
            settings=Settings(model_source=str(STORE), warmup=0, model_cache=str(cache),
                              max_body_bytes=POOL_BODY_LIMIT),
            pool_settings=PoolSettings(models_file="unused", memory_bytes=BIG),
            models=listed, store_for=self._store)
        pool = pool_of(self.handler)
        assert pool is not None
        self.pool = pool

    def _store(self, source: str) -> ModelStore:
        store = CountingStore(source)
        self.stores.append(store)
        return store

    def reads(self) -> list[tuple[str, str]]:
        return [read for store in self.stores for read in store.reads]

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        return self.handler(copy.deepcopy(event), LambdaContext())


def dedicated(name: str, limit: int, cache: Path) -> Handler:
    return serve_model(name, settings=Settings(model_source=str(STORE), warmup=0,
                                               model_cache=str(cache), max_body_bytes=limit))


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pool-fuzz-cache")


@pytest.fixture(scope="module")
def pool(cache: Path) -> Pool:
    return Pool(POOLED, cache)


@pytest.fixture(scope="module")
def narrow(cache: Path) -> Pool:
    return Pool(NARROW, cache)


@pytest.fixture(scope="module")
def dedicated_handlers(cache: Path) -> dict[str, dict[str, Handler]]:
    """Per model: its dedicated handler as deployed, and at the pool's body limit."""
    handlers = {}
    for name, kind in POOLED.items():
        at_pool_limit = dedicated(name, POOL_BODY_LIMIT, cache)
        deployed = (at_pool_limit if DEDICATED_BODY_LIMIT[kind] == POOL_BODY_LIMIT
                    else dedicated(name, DEDICATED_BODY_LIMIT[kind], cache))
        handlers[name] = {"deployed": deployed, "pool_limit": at_pool_limit}
    return handlers


@pytest.fixture(scope="module")
def features() -> tuple[str, ...]:
    manifest = LocalStore(STORE).manifest("breast_cancer")
    return tuple(f.name for f in manifest.input.features)  # type: ignore[union-attr]


def features_of(name: str, features: tuple[str, ...]) -> tuple[str, ...] | None:
    return features if POOLED[name] == "tabular" else None


# -- comparing answers ------------------------------------------------------------------------
def comparable(response: dict[str, Any]) -> dict[str, Any]:
    """What a client sees of an answer, less what legitimately differs between functions:
    ``Server-Timing`` (this request's own timings) and a 404's message (a dedicated function
    names the model it serves; the pool, the name it does not serve)."""
    headers = {k: v for k, v in response_headers(response).items() if k != "Server-Timing"}
    seen = {k: v for k, v in response.items() if k not in ("headers", "multiValueHeaders")}
    seen["headers"] = headers
    seen["header_form"] = "multiValueHeaders" if "multiValueHeaders" in response else "headers"
    body = response.get("body")
    if isinstance(body, str) and body:
        payload = json.loads(body)
        if response["statusCode"] == 404:
            payload["error"].pop("message")
        seen["body"] = payload
    return seen


def check(response: dict[str, Any], method: str) -> dict[str, Any]:
    """The contract's shape, never a 5xx; the JSON body ({} for HEAD and 204)."""
    head = method.upper() == "HEAD" and response.get("body") == ""
    answer = check_answer(response, method="HEAD" if head else "")
    assert response["statusCode"] < 500, (response["statusCode"], answer)
    count_as(f"status {response['statusCode']}")
    return answer


def assert_same_as_dedicated(pool: Pool, handlers: dict[str, Handler],
                             event: dict[str, Any], method: str) -> dict[str, Any]:
    """The pool answers ``event`` as the dedicated function at its body limit does, and as
    the one deployed at its own limit, but for that function's 413 on a larger body."""
    pooled = pool(event)
    answer = check(pooled, method)
    expected = handlers["pool_limit"](copy.deepcopy(event), LambdaContext())
    assert comparable(pooled) == comparable(expected), (event, pooled, expected)
    deployed = handlers["deployed"](copy.deepcopy(event), LambdaContext())
    if comparable(deployed) != comparable(pooled):
        count_as("differs only by the deployed body limit")
        assert deployed["statusCode"] == 413, (event, pooled, deployed)
        assert json.loads(deployed["body"])["error"]["code"] == "body_too_large", deployed
    return answer


# -- a. clients cannot tell pooled from dedicated -----------------------------------------------
@pytest.mark.parametrize("name", sorted(POOLED))
@pytest.mark.parametrize("shape", SHAPES)
@FUZZ
@given(data=st.data())
def test_the_pool_answers_every_event_as_the_dedicated_function(
        pool, dedicated_handlers, features, shape, name, data):
    event, method = data.draw(http_events(shape, any_request(name, features)))
    assert_same_as_dedicated(pool, dedicated_handlers[name], event, method)
    assert set(pool.pool.loaded_names) <= pool.names


def any_request(name: str, features: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    """Half drawn as ``test_fuzz_events.py`` draws them (mostly refused), half valid."""
    kind_features = features_of(name, features)
    return st.one_of(requests(name, kind_features), valid_requests(name, kind_features))


# -- b. the model's name fuzzed ------------------------------------------------------------------
ODD_METHODS = (*METHODS, "CONNECT", "", " ", "PO ST", "post ", "ÉGET", "G\x00ET", "X" * 300)
PATHS = ("/models/{}/predict", "/models/{}/predict", "/models/{}", "/models/{}/predict/",
         "/models/{}/", "/prod/models/{}/predict", "/models/{}/predict/more", "/{}",
         "models/{}")
PERCENT = st.one_of(st.integers(0, 255).map(lambda b: f"%{b:02X}"),
                    st.integers(0, 255).map(lambda b: f"%{b:02x}"),
                    st.sampled_from(["%2F", "%2f", "%00", "%2E", "%5F", "%25", "%", "%zz",
                                     "%C3%A9", "%ED%A0%80", "%FF"]))
NAME_PARTS = st.one_of(PERCENT, st.sampled_from([*POOLED, "models", "predict", ".", "..",
                                                 "/", "_", "-", "\x00", "é"]),
                       st.text(max_size=4))
ODD_NAMES = ("", ".", "..", "...", "breast_cancer.", ".digits", "breast_cancer/", "digits/",
             "BREAST_CANCER", "Digits", "breast-cancer", "breast_cancer ", " digits",
             "breast_cancer\x00", "digits\n", "breast_cancer%00", "breast%5Fcancer",
             "digit%73", "..%2Fdigits", "%2e%2e", "predict", "models", "pool", "latest",
             "breast_cancer/predict", "x/models/digits", "ｄｉｇｉｔｓ", "digits\u200b",
             "breast_cancer/1", "digits@1", "breast_cancer%2Fpredict", "digits%2F",
             "BREAST%5FCANCER")


@st.composite
def model_names(draw: st.DrawFn) -> str:
    """Text where a model's name goes in the path: any unicode, percent-escapes (``%2F``,
    ``%00``, bytes that are no UTF-8), dots, kilobytes, case and slash variants of the
    pooled names, and the pooled names themselves."""
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(st.text(max_size=40))
    if kind == 1:
        return "".join(draw(st.lists(NAME_PARTS, min_size=1, max_size=8)))
    if kind == 2:
        return draw(st.sampled_from(ODD_NAMES))
    if kind == 3:  # a few KB
        size = draw(st.integers(256, 4096))
        unit = draw(st.sampled_from(["a", "digits", "%2F", "é", "breast_cancer", "%00", "."]))
        return (unit * (size // len(unit) + 1))[:size]
    if kind == 4:
        return draw(st.sampled_from(sorted(POOLED)))
    return draw(st.sampled_from(sorted(POOLED))) + draw(st.sampled_from(
        [".", "/", "%2F", "%00", " ", "\n", "_", "s", "..", "/.."]))


@st.composite
def named_requests(draw: st.DrawFn, features: tuple[str, ...]) -> dict[str, Any]:
    """A request with a drawn method and a drawn name in a model route's path, carrying a
    body of either kind."""
    body_of = draw(st.sampled_from(sorted(POOLED)))
    request: dict[str, Any] = draw(any_request(body_of, features))
    request["path"] = draw(st.tuples(st.sampled_from(PATHS), model_names()).map(
        lambda drawn: drawn[0].format(drawn[1])).filter(echoed_safely))
    request["method"] = draw(st.one_of(st.sampled_from(ODD_METHODS),
                                       st.text(max_size=8).filter(echoed_safely)))
    return request


def echoed_safely(text: str) -> bool:
    """Whether ``text`` may come back in an error's message (a 404 or 405 names the path
    and the method) without looking like an internal detail (``/tmp/``, ``x.py``)."""
    return not (INTERNAL_DETAIL.search(text) or INTERNAL_DETAIL.search(unquote(text)))


def routed(path: str) -> str | None:
    """The name the contract's routes give ``path`` (docs/contract.md): ``.../models/{name}``
    or ``.../models/{name}/predict``, with one trailing slash or none, behind any prefix;
    None when the path is no model route."""
    parts = path.split("/")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    if len(parts) >= 3 and parts[-1] == "predict" and parts[-3] == "models" and parts[-2]:
        return parts[-2]
    if len(parts) >= 2 and parts[-2] == "models" and parts[-1]:
        return parts[-1]
    return None


def path_seen(shape: str, event: dict[str, Any]) -> str:
    """The path the function reads from ``event``: ALB sends it as the client wrote it
    (percent-encoded, decoded by the adapter); API Gateway sends it decoded."""
    if shape.startswith("alb"):
        return unquote(event["path"])
    if shape in ("http_api_v2", "function_url"):
        return str(event["requestContext"]["http"]["path"])
    return str(event["path"])


# What the event adapters answer for an event they cannot read (a header that is no string
# in a hand-written event, a body flagged base64 that is not), before any routing.
UNREADABLE_EVENT = ("invalid_event", "invalid_base64", "unsupported_event")


def check_routing(pool: Pool, shape: str, event: dict[str, Any], method: str) -> None:
    """Answer ``event``: a name the pool list does not hold is a 404 (``route_not_found``
    when the path is no model route, ``model_not_found`` when it names a model) and nothing
    is read from the store or loaded for it; a listed name is never a 404."""
    reads, loaded = len(pool.reads()), set(pool.pool.loaded_names)
    response = pool(event)
    answer = check(response, method)
    new_reads = pool.reads()[reads:]
    assert {name for _, name in new_reads} <= pool.names, new_reads
    assert set(pool.pool.loaded_names) <= pool.names
    if shape == "malformed":  # the event may not say which path it asks for
        return
    if answer.get("error", {}).get("code") in UNREADABLE_EVENT:
        count_as("an event the function cannot read")  # refused whatever its path says
        assert response["statusCode"] == 400 and new_reads == [], (event, response)
        return
    expected = routed(path_seen(shape, event))
    status = response["statusCode"]
    if expected in pool.names:
        count_as("a pooled model")
        assert status != 404, (event, response)
        return
    count_as("no model route" if expected is None else "a model not in the pool list")
    assert status == 404, (event, response)
    assert new_reads == [] and set(pool.pool.loaded_names) == loaded, (new_reads, event)
    if answer:  # HEAD answers carry no body
        code = "route_not_found" if expected is None else "model_not_found"
        assert answer["error"]["code"] == code, (event, answer)


@pytest.mark.parametrize("shape", SHAPES)
@settings(FUZZ, max_examples=3 * EXAMPLES)
@given(data=st.data())
def test_any_name_in_the_path_is_answered_and_an_unlisted_one_loads_nothing(
        pool, narrow, features, shape, data):
    """Both pools answer each event: the one listing both models, and one listing only
    breast_cancer (digits is in its store, not in its list)."""
    event, method = data.draw(http_events(shape, named_requests(features)))
    check_routing(pool, shape, event, method)
    check_routing(narrow, shape, event, method)
    assert "digits" not in narrow.pool.loaded_names
    assert all(name == "breast_cancer" for _, name in narrow.reads())


def test_the_oracle_routes_as_the_contract_says() -> None:
    assert routed("/models/digits/predict") == routed("/prod/models/digits/") == "digits"
    assert routed("/models/predict") == "predict"
    assert routed("/models/models/predict") == "models"
    assert routed("/models/x/models/predict") == "predict"
    assert routed("/models//predict") is None and routed("/models/") is None
    assert routed("/models/digits/predict/more") is None and routed("/digits") is None
    assert routed("models/digits") == "digits" and routed("xmodels/digits") is None


# -- c. interleavings: no state leaks between models --------------------------------------------
def probes(features: tuple[str, ...]) -> list[tuple[str, dict[str, Any]]]:
    """Valid requests to both models (predict with both bodies, card, HEAD) in two shapes."""
    row = {f: 1.0 for f in features}
    image = base64.b64encode(IMAGES[0]).decode()
    found = []
    for name, body, content_type, encoded in (
            ("breast_cancer", json.dumps({"instances": [row, list(row.values())]}),
             "application/json", False),
            ("digits", json.dumps({"instances": [{"b64": image}]}), "application/json", False),
            ("digits", image, "image/png", True)):
        path = f"/models/{name}/predict"
        found.append((name, {"resource": path, "path": path, "httpMethod": "POST",
                             "headers": {"content-type": content_type}, "body": body,
                             "isBase64Encoded": encoded,
                             "requestContext": {"requestId": "probe-v1"}}))
    for name in POOLED:
        for method in ("GET", "HEAD"):
            path = f"/models/{name}"
            found.append((name, {"version": "2.0", "rawPath": path, "rawQueryString": "",
                                 "headers": {}, "requestContext": {
                                     "http": {"method": method, "path": path},
                                     "requestId": "probe-v2"}}))
    return found


@settings(FUZZ, max_examples=EXAMPLES)
@given(data=st.data())
def test_a_sequence_over_both_models_and_unknown_names_leaves_every_answer_right(
        cache, dedicated_handlers, features, data):
    pool = Pool(POOLED, cache)  # fresh: the first load of each model happens mid-sequence
    for _ in range(data.draw(st.integers(1, 8))):
        target = data.draw(st.sampled_from([*sorted(POOLED), "unknown"]))
        shape = data.draw(st.sampled_from(SHAPES))
        if target == "unknown":
            event, method = data.draw(http_events(shape, named_requests(features)))
            check_routing(pool, shape, event, method)
        else:
            event, method = data.draw(http_events(shape, any_request(target, features)))
            assert_same_as_dedicated(pool, dedicated_handlers[target], event, method)
    for name, event in probes(features):
        answer = assert_same_as_dedicated(pool, dedicated_handlers[name], event,
                                          event.get("httpMethod") or
                                          event["requestContext"]["http"]["method"])
        assert answer == {} or answer.get("name", answer.get("model")) == name, answer
    assert sorted(pool.pool.loaded_names) == sorted(POOLED)
    opened = [name for kind, name in pool.reads() if kind == "open"]
    assert sorted(opened) == sorted(POOLED), opened  # each loaded once: no reload, no mix-up
