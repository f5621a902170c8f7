"""Aliases with history: the value class, and promote/rollback on both stores."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from model_store import LocalStore, ModelNotFoundError, ModelStoreError, VersionNotFoundError
from model_store.aliases import HISTORY_LIMIT, AliasError, AliasTable
from model_store.base import ModelStore
from model_store.s3 import S3Store
from tests.support.fake_s3 import BUCKET, REGION, fake_aws_environment, publish_tiny
from tests.support.tiny_models import publish_tiny_tabular

# -- the value class ------------------------------------------------------------------------


def test_moving_an_alias_records_where_it_was():
    table = AliasTable().moved("prod", "1").moved("prod", "2").moved("staging", "3")
    assert table.targets == {"prod": "2", "staging": "3"}
    assert table.history == {"prod": ("1",)}


def test_moving_an_alias_to_its_own_target_changes_nothing():
    table = AliasTable().moved("prod", "1")
    assert table.moved("prod", "1") is table


def test_rollback_walks_back_through_the_history():
    table = AliasTable().moved("prod", "1").moved("prod", "2").moved("prod", "3")
    once = table.rolled_back("iris", "prod")
    assert (once.targets["prod"], once.history["prod"]) == ("2", ("1",))
    twice = once.rolled_back("iris", "prod")
    assert twice.targets["prod"] == "1"
    with pytest.raises(AliasError, match=r"no earlier version to roll back to"):
        twice.rolled_back("iris", "prod")


def test_rollback_of_an_unknown_alias_lists_the_aliases():
    with pytest.raises(AliasError, match=r"no alias 'canary'.*aliases: prod"):
        AliasTable().moved("prod", "1").rolled_back("iris", "canary")


def test_history_is_bounded():
    table = AliasTable()
    for version in range(1, HISTORY_LIMIT + 10):
        table = table.moved("prod", str(version))
    assert len(table.history["prod"]) == HISTORY_LIMIT
    assert table.history["prod"][-1] == str(HISTORY_LIMIT + 8)


@pytest.mark.parametrize(("alias", "message"), [
    ("latest", "cannot be moved"),
    ("Prod", "lower-case word"),
    ("3", "not a number"),
    ("", "lower-case word"),
    ("pro d", "lower-case word"),
])
def test_bad_alias_names_are_refused(alias, message):
    with pytest.raises(AliasError, match=message):
        AliasTable().moved(alias, "1")


def test_json_round_trip_and_the_old_flat_form():
    table = AliasTable().moved("prod", "1").moved("prod", "2")
    assert AliasTable.from_json(table.to_json(), "x") == table
    assert json.loads(table.to_json()) == {"aliases": {"prod": "2"}, "history": {"prod": ["1"]}}
    flat = AliasTable.from_json('{"prod": "3", "staging": "4", "latest": "9"}', "x")
    assert flat == AliasTable(targets={"prod": "3", "staging": "4"})
    # An alias may itself be called "aliases": in the flat form its value is a string.
    assert AliasTable.from_json('{"aliases": "5"}', "x").targets == {"aliases": "5"}


@pytest.mark.parametrize("raw", ["[1]", "not json", '{"prod": "x"}',
                                 '{"aliases": {"prod": "1"}, "history": {"prod": "1"}}'])
def test_malformed_alias_files_are_named(raw):
    with pytest.raises(ModelStoreError, match=r"where.json"):
        AliasTable.from_json(raw, "where.json")


# -- both stores ----------------------------------------------------------------------------


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path, monkeypatch) -> ModelStore:
    """A store holding tiny v1, v2 and v3, either in a folder or in a moto bucket."""
    if request.param == "local":
        for scale in (None, 2.0, 3.0):
            publish_tiny_tabular(tmp_path / "store", weights=_weights(scale))
        return LocalStore(tmp_path / "store")
    fake_aws_environment(monkeypatch, tmp_path / "aws")
    mock = mock_aws()
    mock.start()
    request.addfinalizer(mock.stop)
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    s3 = S3Store(f"s3://{BUCKET}/team")
    for scale in (None, 2.0, 3.0):
        publish_tiny(s3, scale=scale)
    return s3


def _weights(scale: float | None):
    import numpy as np

    return None if scale is None else np.array([[1.0, -1.0], [0.5, 0.5], [-2.0, 2.0]]) * scale


def test_promote_and_rollback(store):
    assert store.aliases("tiny") == {"latest": "3"}
    assert store.promote("tiny", "1") == "1"
    assert store.promote("tiny", "2") == "2"
    assert store.promote("tiny", "prod", alias="staging") == "2"  # promote an alias's target
    assert store.aliases("tiny") == {"latest": "3", "prod": "2", "staging": "2"}
    assert store.resolve("tiny", "prod") == "2"
    assert store.rollback("tiny") == "1"
    assert store.manifest("tiny", "prod").version == "1"
    with pytest.raises(AliasError, match=r"no earlier version"):
        store.rollback("tiny")
    assert store.aliases("tiny")["prod"] == "1"


def test_set_alias_records_history_too(store):
    store.set_alias("tiny", "canary", "3")
    store.set_alias("tiny", "canary", "latest")  # same target: not a new history entry
    store.set_alias("tiny", "canary", "1")
    assert store.rollback("tiny", "canary") == "3"


def test_latest_is_derived_and_cannot_be_set(store):
    with pytest.raises(AliasError, match=r"cannot be moved"):
        store.promote("tiny", "1", alias="latest")
    with pytest.raises(AliasError):
        store.rollback("tiny", alias="latest")


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda s: s.promote("nope", "1"), ModelNotFoundError, "no model named 'nope'.*tiny"),
    (lambda s: s.rollback("nope"), ModelNotFoundError, "no model named 'nope'"),
    (lambda s: s.promote("tiny", "7"), VersionNotFoundError, "no version 7; versions: 1, 2, 3"),
    (lambda s: s.promote("tiny", "beta"), VersionNotFoundError, "no alias 'beta'"),
    (lambda s: s.rollback("tiny"), AliasError, "no alias 'prod' to roll back"),
])
def test_alias_errors_are_clear(store, call, error, message):
    with pytest.raises(error, match=message):
        call(store)


def test_local_store_reads_the_old_flat_file_and_writes_history(tmp_path):
    publish_tiny_tabular(tmp_path)
    publish_tiny_tabular(tmp_path, weights=_weights(2.0))
    aliases_file = tmp_path / "tiny" / "aliases.json"
    aliases_file.write_text('{"prod": "1"}\n')
    store = LocalStore(tmp_path)
    assert store.aliases("tiny") == {"prod": "1", "latest": "2"}
    store.promote("tiny", "2")
    assert json.loads(aliases_file.read_text()) == {"aliases": {"prod": "2"},
                                                    "history": {"prod": ["1"]}}
    assert store.rollback("tiny") == "1"
    assert not list(Path(tmp_path / "tiny").glob(".*.tmp"))  # written atomically
