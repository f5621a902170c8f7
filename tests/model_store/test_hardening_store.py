"""The model store read for serving: bounded reads, no symlink out of the store, a bounded card."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from featherserve.support.events import load_event, with_route
from model_runtime import Settings, serve_model
from model_runtime.cards import MAX_CARD_BYTES, card_json
from model_store import LocalStore
from model_store.exceptions import ModelStoreError
from model_store.local import MAX_MANIFEST_BYTES
from tests.support.contract import check_answer
from tests.support.tiny_models import publish_tiny_tabular


@pytest.fixture
def store(tmp_path: Path) -> Path:
    publish_tiny_tabular(tmp_path / "store")
    return tmp_path / "store"


def model_file(store: Path) -> Path:
    return store / "tiny" / "1" / "model.onnx"


def card_event() -> dict:
    return with_route(load_event("breast_cancer_card_v2"), "GET", "/models/tiny")


def test_a_model_file_larger_than_its_manifest_is_refused_unread(store):
    path = model_file(store)
    with path.open("r+b") as stream:  # sparse: 8 GiB that would take seconds to read
        stream.truncate(8 << 30)
    with pytest.raises(ModelStoreError, match="8589934592 bytes; expected exactly"):
        LocalStore(store).open("tiny")


def test_a_model_file_of_another_size_is_refused(store):
    path = model_file(store)
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(ModelStoreError, match="expected exactly"):
        LocalStore(store).open("tiny")


@pytest.mark.parametrize("target", ["/dev/zero", "/etc/hostname", "../../../outside.onnx"])
def test_a_symlink_leaving_the_store_is_refused(store, tmp_path, target):
    (tmp_path / "outside.onnx").write_bytes(model_file(store).read_bytes())
    path = model_file(store)
    path.unlink()
    path.symlink_to(target)
    with pytest.raises(ModelStoreError, match="links outside the store"):
        LocalStore(store).open("tiny")


def test_a_symlink_inside_the_store_is_followed(store):
    path = model_file(store)
    (store / "blobs").mkdir()
    os.replace(path, store / "blobs" / "model.onnx")
    path.symlink_to(store / "blobs" / "model.onnx")
    assert LocalStore(store).open("tiny").model_bytes.startswith(b"\x08")


def test_a_huge_manifest_is_refused_and_the_handler_answers_503(store, tmp_path):
    manifest = store / "tiny" / "1" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["description"] = "x" * (MAX_MANIFEST_BYTES + 1)
    manifest.write_text(json.dumps(data))
    with pytest.raises(ModelStoreError, match="expected at most"):
        LocalStore(store).manifest("tiny")
    handler = serve_model("tiny", settings=Settings(model_source=str(store), warmup=0))
    response = handler(card_event(), None)
    assert response["statusCode"] == 503
    assert str(store) not in check_answer(response)["error"]["message"]


def test_a_long_description_makes_a_bounded_card(store):
    manifest = store / "tiny" / "1" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["description"] = "A very thorough description. " * 100_000  # ~2.9 MB
    manifest.write_text(json.dumps(data))
    handler = serve_model("tiny", settings=Settings(model_source=str(store), warmup=0))
    response = handler(card_event(), None)
    card = check_answer(response)
    assert response["statusCode"] == 200
    assert len(response["body"]) <= MAX_CARD_BYTES
    assert card["truncated"] is True
    assert card["name"] == "tiny" and [f["name"] for f in card["input"]["features"]] == [
        "alpha", "beta", "gamma"]
    assert card["description"].endswith("…")


def test_card_json_keeps_small_cards_whole_and_always_fits():
    small = {"name": "m", "version": "1", "task": "t", "description": "short"}
    assert json.loads(card_json(small)) == small
    huge_input = {"name": "m", "version": "1", "task": "t",
                  "input": {"categories": ["c" * 50] * 20_000}}
    body = card_json(huge_input, limit=10_000)
    assert len(body) <= 10_000 and json.loads(body)["truncated"] is True
