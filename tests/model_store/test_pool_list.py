"""The pool list format (issue 19, docs/pool.md), once: ``model_store.pool_list`` is the one
reader the pool function, the web app and the tooling share."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from featherserve.codegen.pool_files import read_pooled, write_pooled
from model_runtime.pool import PoolList as RuntimePoolList
from model_store.exceptions import ModelStoreError
from model_store.pool_list import (
    KINDS,
    POOL_ALIAS,
    PoolEntry,
    PoolList,
    PoolListError,
    check_kind,
)
from webapp.pooled import read_pool_list


def written(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "pool_models.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


# -- defaults and overrides --------------------------------------------------------------------


def test_the_lists_defaults_apply_to_each_model_unless_it_names_its_own():
    listed = PoolList.from_document({
        "source": "s3://bucket/models", "ref": "prod", "kind": "tabular",
        "models": ["churn_eu",
                   {"name": "churn_us", "ref": "live"},
                   {"name": "digits", "kind": "image", "source": "/opt/models", "ref": "3"}],
    }, "pool.json", default_source="/ignored")
    assert list(listed) == [
        PoolEntry("churn_eu", "tabular", "s3://bucket/models", "prod"),
        PoolEntry("churn_us", "tabular", "s3://bucket/models", "live"),
        PoolEntry("digits", "image", "/opt/models", "3"),
    ]
    assert len(listed) == 3 and "digits" in listed and "nope" not in listed
    assert listed.get("churn_us") == PoolEntry("churn_us", "tabular", "s3://bucket/models",
                                               "live")
    assert listed.get("nope") is None


def test_without_defaults_a_model_has_no_ref_and_the_callers_source():
    document: dict[str, Any] = {"models": [{"name": "churn_eu", "kind": "tabular"}]}
    # No ref: the function's FEATHERSERVE_MODEL_VERSION; no source: the caller's default.
    assert list(PoolList.from_document(document, "x")) == [PoolEntry("churn_eu", "tabular")]
    assert PoolList.from_document(document, "x", "/store").entries["churn_eu"] == PoolEntry(
        "churn_eu", "tabular", "/store", None)
    # Empty strings are "not named" too.
    document = {"source": "", "ref": "", "kind": "image",
                "models": [{"name": "a", "kind": "", "ref": "", "source": ""}]}
    assert list(PoolList.from_document(document, "x", "/s")) == [PoolEntry("a", "image", "/s")]


def test_a_bare_name_takes_every_default():
    listed = PoolList.from_document({"kind": "image", "ref": "live", "models": ["digits"]}, "x")
    assert list(listed) == [PoolEntry("digits", "image", "", "live")]


def test_of_kind_keeps_that_kinds_models_and_refuses_other_kinds():
    listed = PoolList.from_document({"models": [{"name": "a", "kind": "tabular"},
                                                {"name": "b", "kind": "image"}]}, "x")
    assert [e.name for e in listed.of_kind("image")] == ["b"]
    assert [e.name for e in listed.of_kind("tabular")] == ["a"]
    with pytest.raises(PoolListError, match="kind is one of tabular, image; got 'audio'"):
        listed.of_kind("audio")
    for kind in KINDS:
        check_kind(kind)


# -- what is refused ---------------------------------------------------------------------------


@pytest.mark.parametrize(("document", "reason"), [
    ([], "expected an object with a 'models' list"),
    ({}, "expected an object with a 'models' list"),
    ({"models": {"churn_eu": "tabular"}}, "expected an object with a 'models' list"),
    ({"models": ["a", "a"], "kind": "tabular"}, "model 'a' is listed twice"),
    ({"models": ["a", {"name": "a", "kind": "image"}], "kind": "tabular"},
     "model 'a' is listed twice"),
    ({"models": ["Bad-Name"], "kind": "tabular"}, "'Bad-Name' is not a model name"),
    ({"models": [""], "kind": "tabular"}, "'' is not a model name"),
    ({"models": [{"kind": "tabular"}]}, "'' is not a model name"),
    ({"models": ["a" * 64], "kind": "tabular"}, "is not a model name"),
    ({"models": ["9lives"], "kind": "tabular"}, "'9lives' is not a model name"),
    ({"models": ["a"]}, "model 'a' has kind '', not one of tabular, image"),
    ({"models": [{"name": "a", "kind": "audio"}]}, "model 'a' has kind 'audio', not one of"),
    ({"models": ["a"], "kind": "Tabular"}, "model 'a' has kind 'Tabular'"),
    ({"models": [7]}, "each model is a name or an object with a 'name'"),
    ({"models": [["a"]]}, "each model is a name or an object with a 'name'"),
    ({"models": [None]}, "each model is a name or an object with a 'name'"),
    ({"models": [{"name": 7, "kind": "tabular"}]}, "'name' must be a string, got int"),
    ({"models": [{"name": "a", "kind": ["tabular"]}]}, "'kind' must be a string, got list"),
    ({"models": [{"name": "a", "kind": "tabular", "ref": 3}]}, "'ref' must be a string, got int"),
    ({"models": [{"name": "a", "kind": "tabular", "source": None}]},
     "'source' must be a string, got NoneType"),
    ({"models": [], "source": 1}, "'source' must be a string, got int"),
    ({"models": [], "ref": True}, "'ref' must be a string, got bool"),
    ({"models": [], "kind": {}}, "'kind' must be a string, got dict"),
])
def test_a_malformed_list_says_where_and_why(tmp_path, document, reason):
    path = written(tmp_path, document)
    with pytest.raises(PoolListError, match=re.escape(str(path))) as raised:
        PoolList.read(path)
    assert reason in str(raised.value)
    with pytest.raises(PoolListError, match=f"^the list: .*{re.escape(reason[:12])}"):
        PoolList.from_document(document, "the list")


def test_a_long_bad_name_or_kind_is_cut_in_the_message():
    with pytest.raises(PoolListError) as raised:
        PoolList.from_document({"models": ["X" * 10_000], "kind": "tabular"}, "x")
    assert len(str(raised.value)) < 200
    with pytest.raises(PoolListError) as raised:
        PoolList.from_document({"models": [{"name": "a", "kind": "k" * 10_000}]}, "x")
    assert len(str(raised.value)) < 200


@pytest.mark.parametrize("data", [
    b"{not json", b"", b'{"models": []', b"\xff\xfe\x00", b"[" * 100_000,
])
def test_a_file_that_is_not_json_text_is_refused_naming_it(tmp_path, data):
    path = tmp_path / "pool_models.json"
    path.write_bytes(data)
    with pytest.raises(PoolListError, match="pool list") as raised:
        PoolList.read(path)
    assert str(path) in str(raised.value)


def test_a_missing_list_is_an_error_unless_the_caller_says_it_means_no_pooled_model(tmp_path):
    path = tmp_path / "none.json"
    with pytest.raises(PoolListError, match=re.escape(f"cannot read the pool list {path}")):
        PoolList.read(path)
    assert len(PoolList.read(path, missing_ok=True)) == 0
    # A directory where the file should be is not "missing".
    with pytest.raises(PoolListError, match="cannot read the pool list"):
        PoolList.read(tmp_path, missing_ok=True)


def test_the_error_is_a_store_error_and_a_value_error():
    # The tooling's callers catch ModelStoreError; settings errors are ValueErrors.
    with pytest.raises(ModelStoreError):
        PoolList.from_document([], "x")
    with pytest.raises(ValueError):
        PoolList.from_document([], "x")


# -- the three callers -------------------------------------------------------------------------


def test_each_caller_reads_a_missing_list_as_it_needs(tmp_path):
    assert read_pool_list(tmp_path / "pool_models.json") == {}  # the web app: none pooled
    assert read_pooled(tmp_path) == {}  # the tooling: none pooled
    with pytest.raises(PoolListError):  # the pool function: its init fails
        RuntimePoolList.read(tmp_path / "pool_models.json", "/store")


def test_the_runtime_also_needs_each_models_store(tmp_path):
    document = {"models": ["a"], "kind": "tabular"}
    assert PoolList.from_document(document, "x").entries["a"].source == ""
    with pytest.raises(PoolListError, match="model 'a' has no source"):
        RuntimePoolList.read(written(tmp_path, document))
    assert RuntimePoolList.read(written(tmp_path, document), "/s").entries["a"].source == "/s"
    assert isinstance(RuntimePoolList.read(written(tmp_path, document), "/s").of_kind("image"),
                      RuntimePoolList)


def test_the_tooling_names_the_command_that_writes_the_list(tmp_path):
    written(tmp_path, {"models": [{"name": "churn_eu"}]})
    with pytest.raises(ModelStoreError, match=r"has kind ''.*featherserve add NAME --pooled"):
        read_pooled(tmp_path)


NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pooled=st.dictionaries(NAMES, st.sampled_from(KINDS), min_size=1, max_size=8))
def test_the_list_the_project_writes_reads_the_same_in_every_caller(tmp_path, pooled):
    write_pooled(tmp_path, pooled)
    path = tmp_path / "pool_models.json"
    assert read_pooled(tmp_path) == pooled
    runtime = RuntimePoolList.read(path, "/opt/models")
    web = read_pool_list(path)
    assert {e.name: (e.kind, e.ref) for e in runtime} == {
        name: (model.kind, model.ref) for name, model in web.items()} == {
        name: (kind, POOL_ALIAS) for name, kind in pooled.items()}
    assert {e.source for e in runtime} == {"/opt/models"}


JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
              st.sampled_from(["", "a", "tabular", "image", "live", "Bad-Name", "/s"])),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(["models", "name", "kind", "ref", "source", "x"]),
                        inner, max_size=5)),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(data=JSON)
@example(data={"models": [{"name": "a", "kind": "tabular", "source": ""}]})
def test_any_json_is_a_list_or_a_pool_list_error(data):
    try:
        listed = PoolList.from_document(data, "x", "/s")
    except PoolListError as exc:
        assert str(exc).startswith("x: ")
        return
    for entry in listed:
        assert entry.kind in KINDS and entry.source and entry.ref != ""
