"""A model card's description is for the people who call the model (the catalog shows it):
what it predicts and what to send. Scores belong in the card's metrics, how it was built in
its lineage; publishing refuses a description that carries either."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model_store import LocalStore
from model_store.base import PROJECT_STORE
from tests.support.tiny_models import tiny_tabular_manifest, tiny_tabular_onnx
from training.publishing import (
    MAX_DESCRIPTION_CHARS,
    DescriptionError,
    description_problem,
    publish_checked,
)

SHIPPED = sorted(PROJECT_STORE.glob("*/*/manifest.json"))
# Words of an engineering note, as they were found on the catalog.
NOTES = ("re-measured", "remeasured", "working image", "accuracy", "99.56%", "parameter",
         "distilled", "teacher", "int8", "epochs", "unchanged")


def test_the_shipped_models_are_all_checked():
    store = LocalStore(PROJECT_STORE)
    assert {(p.parent.parent.name, p.parent.name) for p in SHIPPED} == {
        (name, version) for name in store.names() for version in store.versions(name)}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.parent.name}-v{p.parent.name}")
def test_every_served_models_description_reads_as_a_user_description(path):
    manifest = json.loads(path.read_text())
    description = manifest["description"]
    assert description_problem(description) is None
    assert 20 <= len(description) <= MAX_DESCRIPTION_CHARS and "\n" not in description
    lowered = description.lower()
    assert not [word for word in NOTES if word in lowered], description
    assert not re.search(r"\d+(\.\d+)?\s*%|\d+/\d+\b", description), description
    # The numbers stay on the card, where they belong.
    assert manifest["metrics"]["student_accuracy"] and manifest["lineage"]["student"]


def publish(tmp_path: Path, description: str) -> None:
    model = tmp_path / "model.onnx"
    model.write_bytes(tiny_tabular_onnx())
    manifest = dataclasses.replace(tiny_tabular_manifest(), description=description)
    publish_checked(manifest, model, tmp_path / "store")


def test_publishing_keeps_a_user_description(tmp_path):
    publish(tmp_path, "tiny: predicts the class of a row of three numbers (send them in order).")
    assert LocalStore(tmp_path / "store").versions("tiny") == ["1"]


USER_TEXT = st.text(alphabet=st.characters(whitelist_categories=("Ll", "Lu", "Zs")),
                    min_size=1, max_size=120)


@settings(max_examples=60, derandomize=True, deadline=None)
@given(before=USER_TEXT, after=USER_TEXT,
       note=st.sampled_from((*NOTES[:-1], "measured", "98.2%", "12638 parameters", "sha256",
                             "5 epochs")))
def test_a_note_anywhere_in_a_description_is_refused(before, note, after):
    text = f"{before} {note.upper() if len(before) % 2 else note} {after}"
    assert description_problem(text) is not None


@pytest.mark.parametrize("description", [
    "digits: 10-class image classifier, 28x28 L, int8 student distilled from a 390634-parameter "
    "teacher. Send PNG/JPEG/WebP/BMP/GIF. Accuracy re-measured after preprocessing moved to a "
    "working image 4x the input: test split 99.56% and rendered digits 79/80, unchanged.",
    "x" * (MAX_DESCRIPTION_CHARS + 1),
    "first line\nsecond line",
    "   ",
])
def test_publishing_refuses_a_description_with_notes_or_that_is_no_paragraph(tmp_path,
                                                                            description):
    with pytest.raises(DescriptionError, match="the description is for users"):
        publish(tmp_path, description)
    assert not (tmp_path / "store").exists() or not LocalStore(tmp_path / "store").names()
