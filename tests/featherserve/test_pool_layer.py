"""The packed pool-models layer (issue 19): `featherserve layers` packs every pooled model's
`live` version into build/layers/pool-models.zip, laid out as a store under /opt/models, so
a pool with an empty modelSource answers from it; it is counted against Lambda's limits
with the runtime layer, and a pool that would not fit is refused before anything is written,
with the numbers and the way out (an S3 store)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from featherserve.codegen.pool_files import POOL_ALIAS
from featherserve.layers import LambdaLimits, LayersRequest, build_layers
from featherserve.layers.exceptions import LayerBuildError
from featherserve.layers.pool_layer import POOL_LAYER_ENV, POOL_REF
from featherserve.support.events import response_json
from model_runtime import Settings
from model_runtime.pool import PoolList, PoolSettings, serve_pool
from model_store.local import LocalStore
from tests.support.pool import model_names, predict_event, publish_many

pytestmark = pytest.mark.filterwarnings("ignore:Dimension .model. has already been added")

COUNT = 5


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    """Tiny models with 1 to 3 versions; `live` names version 1 (behind latest for some)."""
    root = tmp_path / "store"
    publish_many(root, COUNT)
    local = LocalStore(root)
    for name in model_names(COUNT):
        local.set_alias(name, POOL_ALIAS, "1")
    return local


def build(store: LocalStore, out: Path, *, limits: LambdaLimits | None = None,
          environ: dict[str, str] | None = None):
    """`featherserve layers` with these pooled models, no runtime layer, this folder as code."""
    request = LayersRequest(out_dir=out, models=(), served=(), build_runtime=False,
                            code_paths=(Path(__file__).parent,),
                            pooled=tuple(model_names(COUNT)), limits=limits or LambdaLimits())
    return build_layers(store, request, environ=environ)


def test_the_pool_layer_holds_each_pooled_models_live_version_as_a_store(store, tmp_path):
    out = tmp_path / "out"
    built = build(store, out)
    zipped = out / "pool-models.zip"
    names = zipfile.ZipFile(zipped).namelist()
    for name in model_names(COUNT):
        assert f"models/{name}/1/manifest.json" in names
        assert f"models/{name}/1/model.onnx" in names
        assert f"models/{name}/aliases.json" in names
        assert not any(n.startswith(f"models/{name}/2/") for n in names)  # live only
    # Counted: the pool function (code + its layers) in the size report and report.json.
    (pool,) = [f for f in built.report.functions if f.name == "pool"]
    assert [layer.name for layer in pool.layers] == ["pool-models"]
    assert pool.unzipped_bytes == pool.code.unzipped_bytes + pool.layers[0].unzipped_bytes
    report = json.loads((out / "report.json").read_text())
    assert "pool-models" in {layer["name"] for layer in report["layers"]}
    # Unpacked as Lambda unpacks it under /opt: an empty modelSource reads it.
    opt = tmp_path / "opt"
    zipfile.ZipFile(zipped).extractall(opt)
    settings = Settings.from_env({"FEATHERSERVE_OPT_DIR": str(opt), "FEATHERSERVE_WARMUP": "0",
                                  "FEATHERSERVE_MODEL_CACHE": str(tmp_path / "cache")})
    assert settings.model_source == str(opt / "models")
    listed = PoolList.from_document(
        {"models": [{"name": n, "kind": "tabular", "ref": POOL_ALIAS}
                    for n in model_names(COUNT)]}, "pool_models.json", settings.model_source)
    handler = serve_pool(settings=settings, models=listed,
                         pool_settings=PoolSettings(models_file="unused", memory_bytes=1 << 30))
    for name in model_names(COUNT):
        response = handler(predict_event(name, [[1, 2, 3]]), None)
        assert response["statusCode"] == 200, response
        assert response_json(response)["version"] == "1"


def test_a_pool_over_lambdas_limit_is_refused_with_the_numbers_and_the_way_out(store, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(LayerBuildError) as refused:
        build(store, out, limits=LambdaLimits(max_unzipped_bytes=4096))
    message = str(refused.value)
    assert "function 'pool'" in message and "pool-models" in message
    assert f"{COUNT} pooled models" in message and "4,096 bytes" in message
    assert "modelSource" in message and "s3://" in message and POOL_LAYER_ENV in message
    assert not (out / "pool-models.zip").exists() and not (out / "report.json").exists()
    # Within the unzipped limit, a zip over the upload limit is reported with the way out.
    built = build(store, out, limits=LambdaLimits(max_zipped_bytes=1024))
    assert any("layer 'pool-models'" in problem for problem in built.report.problems)
    assert any("modelSource" in note for note in built.report.notes)


def test_an_s3_stage_packs_no_model_and_no_pooled_model_leaves_no_layer(store, tmp_path):
    out = tmp_path / "out"
    built = build(store, out, environ={POOL_LAYER_ENV: "empty"})
    names = zipfile.ZipFile(out / "pool-models.zip").namelist()
    assert names == ["pool-models/README.txt"]
    assert any(POOL_LAYER_ENV in note for note in built.report.notes)
    request = LayersRequest(out_dir=out, models=(), served=(), build_runtime=False,
                            code_paths=(Path(__file__).parent,), pooled=())
    build_layers(store, request)
    assert not (out / "pool-models.zip").exists()  # the last pooled model was removed


def test_a_pooled_model_without_live_is_refused_naming_promote(store, tmp_path):
    (store.root / "pooled_002" / "aliases.json").unlink()  # as a store live was never set in
    with pytest.raises(LayerBuildError, match=r"pooled_002.*featherserve promote pooled_002"):
        build(store, tmp_path / "out")
    assert POOL_REF == POOL_ALIAS  # the layer packs what the pool list names


def test_featherserve_layers_packs_the_pool_list_beside_its_handlers(store, tmp_path, capsys):
    """`featherserve layers --handlers DIR` packs the models DIR's pool list names (not the
    project's), and counts them in its CloudFormation check."""
    from featherserve.cli import main
    from featherserve.codegen.pool_files import write_pooled

    handlers = tmp_path / "handlers"
    handlers.mkdir()
    pooled = model_names(COUNT)[:3]
    write_pooled(handlers, dict.fromkeys(pooled, "tabular"))
    out = tmp_path / "out"
    code = main(["layers", "--store", str(store.root), "--out", str(out), "--handlers",
                 str(handlers), "--code", str(Path(__file__).parent), "--skip-runtime"])
    assert code == 0, capsys.readouterr()
    with zipfile.ZipFile(out / "pool-models.zip") as packed:
        names = {Path(n).parts[1] for n in packed.namelist() if n.startswith("models/")}
    assert names == set(pooled)
