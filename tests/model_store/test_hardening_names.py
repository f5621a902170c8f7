"""Names, versions, aliases and origins are whole-string matches: no trailing newline.

``re.match`` with ``^…$`` accepts ``"digits\\n"`` (``$`` also matches before a final
newline), which then reaches the X-Model-Version header, the Lambda function's name and the
CSP header. Every validator uses ``fullmatch``; this table is each of them against the
spellings that look right and are not: control characters before or after, spaces, and
Unicode lookalikes (Cyrillic letters, full-width and Arabic-Indic digits, zero-width space).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from featherserve.codegen.handler_modules import check_model_name
from model_store import LocalStore, ModelStoreError
from model_store.aliases import AliasError, AliasTable, check_alias_name
from model_store.exceptions import ManifestError
from model_store.manifest import Manifest
from model_store.s3.layout import S3Location
from webapp.settings import WebSettings

ROOT = Path(__file__).resolve().parents[2]
MODEL = "breast_cancer"
AROUND = ["{}\n", "{}\r", "{}\r\n", "{}\x00", "\n{}", " {}", "{} ", "{}\t", "{}\u200b",
          "{}\u2028", "\ufeff{}"]


def spoiled(good: str, lookalikes: list[str]) -> list[str]:
    return [form.format(good) for form in AROUND] + lookalikes


BAD_NAMES = spoiled("digits", ["d\u0456gits", "digit\u0455", "\uff44igits", "digits\n\n",
                               "dig its", ""])
BAD_VERSIONS = spoiled("3", ["\uff13", "\u0663", "\u00b3", "3\n3", "+3", "03", "3.0", ""])
BAD_ALIASES = spoiled("prod", ["pr\u043ed", "\uff50rod", "Prod", "prod\n\n"])
BAD_BUCKETS = spoiled("my-bucket", ["my-b\u0443cket", "my bucket"])
BAD_ORIGINS = spoiled("https://cdn.example.com", ["https://cdn.example.com\n/x",
                                                  "https://cdn.\u0435xample.com"])


@pytest.fixture(scope="module")
def manifest_data() -> dict[str, object]:
    store = LocalStore(ROOT / "models")
    return store.manifest(MODEL).to_dict()


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_a_manifest_refuses_a_spoiled_name(manifest_data, name):
    with pytest.raises(ManifestError, match="name"):
        Manifest.from_dict({**manifest_data, "name": name})


@pytest.mark.parametrize("version", [v for v in BAD_VERSIONS if v], ids=repr)
def test_a_manifest_refuses_a_spoiled_version(manifest_data, version):
    with pytest.raises(ManifestError, match="version"):
        Manifest.from_dict({**manifest_data, "version": version})


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_a_spoiled_name_cannot_name_a_function(name):
    with pytest.raises(ModelStoreError):
        check_model_name(name)


@pytest.mark.parametrize("alias", BAD_ALIASES, ids=repr)
def test_a_spoiled_alias_cannot_be_set(alias):
    with pytest.raises(AliasError):
        check_alias_name(alias)


@pytest.mark.parametrize("version", BAD_VERSIONS, ids=repr)
def test_an_aliases_file_naming_a_spoiled_version_is_refused(version):
    with pytest.raises(ModelStoreError, match="version"):
        AliasTable.from_json(json.dumps({"aliases": {"prod": version}}), "aliases.json")


@pytest.mark.parametrize("alias", BAD_ALIASES, ids=repr)
def test_an_aliases_file_with_a_spoiled_alias_is_refused(alias):
    with pytest.raises(ModelStoreError, match="alias"):
        AliasTable.from_json(json.dumps({"aliases": {alias: "1"}}), "aliases.json")


@pytest.mark.parametrize("bucket", BAD_BUCKETS, ids=repr)
def test_a_spoiled_bucket_is_not_an_s3_location(bucket):
    with pytest.raises(ModelStoreError, match="bucket"):
        S3Location.parse(f"s3://{bucket}/models")


@pytest.mark.parametrize("origin", BAD_ORIGINS, ids=repr)
def test_a_spoiled_static_origin_is_not_put_in_the_page(origin):
    assert WebSettings(static_url=origin).static_url == ""
    assert WebSettings(static_url="https://cdn.example.com").static_url  # the control


@pytest.mark.parametrize("folder", [v for v in BAD_VERSIONS if v and "\x00" not in v] + [
    "3\n", "3\r"], ids=repr)
def test_a_spoiled_version_folder_is_not_a_version(tmp_path, folder):
    """A folder ``3\\n`` beside the real ``3`` is not listed, so ``latest`` stays 3."""
    source = ROOT / "models" / MODEL
    real = LocalStore(ROOT / "models").versions(MODEL)[-1]
    store = tmp_path / "store"
    shutil.copytree(source / real, store / MODEL / real)
    shutil.copytree(source / real, store / MODEL / folder)
    local = LocalStore(store)
    assert local.versions(MODEL) == [real]
    assert local.manifest(MODEL).version == real


@pytest.mark.parametrize("name", [n for n in BAD_NAMES if n and "\x00" not in n
                                  and "/" not in n], ids=repr)
def test_a_spoiled_model_folder_is_not_a_model(tmp_path, name):
    source = ROOT / "models" / MODEL
    shutil.copytree(source, tmp_path / "store" / name)
    shutil.copytree(source, tmp_path / "store" / MODEL)
    assert LocalStore(tmp_path / "store").names() == [MODEL]


@pytest.mark.parametrize("version", ["3\n", "3\r", "3 "], ids=repr)
def test_a_spoiled_version_never_reaches_the_model_version_header(tmp_path, version):
    """A store whose only version folder and manifest say ``3\\n``: not served (503), so
    no X-Model-Version header carries a line break."""
    from model_runtime import Settings, serve_model

    source = ROOT / "models" / MODEL
    real = LocalStore(ROOT / "models").versions(MODEL)[-1]
    folder = tmp_path / "store" / MODEL / version
    shutil.copytree(source / real, folder)
    card = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**card, "version": version}))
    handler = serve_model(MODEL, settings=Settings(model_source=str(tmp_path / "store"),
                                                   warmup=0))
    response = handler({"httpMethod": "GET", "path": f"/models/{MODEL}"}, None)
    assert response["statusCode"] == 503, response
    assert json.loads(response["body"])["error"]["code"] == "model_unavailable"
    assert not any("\n" in v or "\r" in v for v in response["headers"].values())
