"""Layer packaging: model layers, reproducible zips, trim rules, ELF linkage, the target
interpreter, the runtime layer (with a fake pip) and Lambda's size limits.

The one test that downloads wheels and builds the real runtime layer is marked slow.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from featherserve.layers import (
    BuiltLayer,
    CodePackage,
    FunctionSpec,
    LambdaLimits,
    LayerEntry,
    LayerSpec,
    LayersRequest,
    ModelRef,
    RuntimeLayerConfig,
    build_layers,
    build_model_layers,
    build_runtime_layer,
    check_sizes,
    format_report,
    read_runtime_requirements,
    trim_tree,
    write_layer_zip,
)
from featherserve.layers.commands import CommandResult
from featherserve.layers.elf import read_elf_linkage
from featherserve.layers.exceptions import LayerBuildError, TargetInterpreterError
from featherserve.layers.interpreter import (
    InterpreterSearch,
    TargetInterpreter,
    check_layer_imports,
    compile_bytecode,
    find_target_interpreter,
)
from featherserve.layers.runtime_layer import PYPROJECT, locked_requirements
from featherserve.layers.tiny_onnx import INPUT_NAME, tiny_add_model
from featherserve.layers.zipping import ZIP_EPOCH, entries_from_tree
from model_store import Feature, LocalStore, Manifest, OutputSpec, TabularSpec
from model_store.exceptions import IntegrityError
from model_store.integrity import sha256_file

# -- helpers -----------------------------------------------------------------------------


def make_manifest(name: str) -> Manifest:
    return Manifest(name=name, task="tabular-classification",
                    input=TabularSpec(features=(Feature("a"), Feature("b"))),
                    output=OutputSpec(name="probabilities"), labels=("no", "yes"))


def publish(store: LocalStore, name: str, payload: bytes, tmp_path: Path) -> Manifest:
    source = tmp_path / f"{name}-{len(payload)}.onnx"
    source.write_bytes(payload)
    return store.publish(make_manifest(name), source)


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    store = LocalStore(tmp_path / "store")
    publish(store, "iris", b"iris model one", tmp_path)
    publish(store, "iris", b"iris model two!", tmp_path)
    publish(store, "digits", b"digits model", tmp_path)
    store.set_alias("iris", "prod", "1")
    return store


def unzip(zip_path: Path, dest: Path) -> Path:
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(dest)
    return dest


def fake_elf(path: Path, needed: tuple[str, ...], soname: str | None = None,
             bits: int = 64, order: str = "<") -> Path:
    """A minimal ELF shared object: one PT_LOAD over the file, one PT_DYNAMIC."""
    word = "Q" if bits == 64 else "I"
    header_size, phent = (64, 56) if bits == 64 else (52, 32)
    strtab = b"\0"
    offsets = []
    for name in (*needed, *([soname] if soname else [])):
        offsets.append(len(strtab))
        strtab += name.encode() + b"\0"
    strtab_offset = header_size + 2 * phent
    dyn_offset = strtab_offset + len(strtab)
    tags = [(1, off) for off in offsets[:len(needed)]]
    if soname:
        tags.append((14, offsets[-1]))
    tags += [(5, strtab_offset), (0, 0)]
    dynamic = b"".join(struct.pack(f"{order}{'q' if bits == 64 else 'i'}{word}", t, v)
                       for t, v in tags)
    total = dyn_offset + len(dynamic)
    ident = b"\x7fELF" + bytes([2 if bits == 64 else 1, 1 if order == "<" else 2, 1]) + bytes(9)
    header = ident + struct.pack(f"{order}HHI{word}{word}{word}IHHHHHH", 3, 62, 1, 0,
                                 header_size, 0, 0, header_size, phent, 2, 0, 0, 0)
    if bits == 64:
        load = struct.pack(f"{order}IIQQQQQQ", 1, 5, 0, 0, 0, total, total, 4096)
        dyn = struct.pack(f"{order}IIQQQQQQ", 2, 6, dyn_offset, dyn_offset, dyn_offset,
                          len(dynamic), len(dynamic), 8)
    else:
        load = struct.pack(f"{order}IIIIIIII", 1, 0, 0, 0, total, total, 5, 4096)
        dyn = struct.pack(f"{order}IIIIIIII", 2, dyn_offset, dyn_offset, dyn_offset,
                          len(dynamic), len(dynamic), 6, 4)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + load + dyn + strtab + dynamic)
    return path


def write(path: Path, data: bytes | str = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


# -- model layers ------------------------------------------------------------------------


def test_model_layer_holds_the_latest_version_at_the_opt_models_path(store, tmp_path):
    (layer,) = build_model_layers(store, [ModelRef("iris")], tmp_path / "out")
    assert layer.name == "model-iris"
    assert layer.zip_path == tmp_path / "out" / "model-iris.zip"
    assert sorted(layer.files) == ["models/iris/2/manifest.json", "models/iris/2/model.onnx"]
    opt = unzip(layer.zip_path, tmp_path / "opt")
    unpacked = LocalStore(opt / "models").open("iris")
    assert unpacked.model_bytes == b"iris model two!"
    assert unpacked.manifest == store.manifest("iris", "2")
    assert layer.unzipped_bytes == sum(p.stat().st_size for p in opt.rglob("*") if p.is_file())


def test_model_layer_for_an_alias_carries_that_alias(store, tmp_path):
    (layer,) = build_model_layers(store, [ModelRef.parse("iris@prod")], tmp_path / "out")
    assert sorted(layer.files) == ["models/iris/1/manifest.json", "models/iris/1/model.onnx",
                                   "models/iris/aliases.json"]
    unpacked = LocalStore(unzip(layer.zip_path, tmp_path / "opt") / "models")
    assert unpacked.open("iris", "prod").model_bytes == b"iris model one"
    assert unpacked.resolve("iris") == "1"


@pytest.mark.parametrize("text", ["", "@prod", "iris@"])
def test_model_ref_rejects_malformed_text(text):
    with pytest.raises(Exception, match="NAME"):
        ModelRef.parse(text)


def test_same_model_gives_a_byte_identical_zip(store, tmp_path):
    (first,) = build_model_layers(store, [ModelRef("digits")], tmp_path / "a")
    # The same bytes published later into another store, with other mtimes and modes.
    other = LocalStore(tmp_path / "other")
    publish(other, "digits", b"digits model", tmp_path)
    model_file = other.model_path("digits")
    os.utime(model_file, (1_000_000_000, 1_000_000_000))
    model_file.chmod(0o600)
    (second,) = build_model_layers(other, [ModelRef("digits")], tmp_path / "b")
    assert first.zip_path.read_bytes() == second.zip_path.read_bytes()
    assert first.sha256 == second.sha256


def test_rebuilding_an_unchanged_layer_leaves_the_zip_untouched(store, tmp_path):
    (first,) = build_model_layers(store, [ModelRef("digits")], tmp_path / "out")
    os.utime(first.zip_path, (1_000_000_000, 1_000_000_000))
    (again,) = build_model_layers(store, [ModelRef("digits")], tmp_path / "out")
    assert first.changed and not again.changed
    assert again.zip_path.stat().st_mtime == 1_000_000_000
    assert not list((tmp_path / "out").glob(".*tmp"))


def test_zip_entries_are_sorted_with_fixed_time_and_modes(tmp_path):
    entries = (LayerEntry("b/run.sh", data=b"#!/bin/sh\n", executable=True),
               LayerEntry("a/data.bin", data=b"\0" * 100))
    built = write_layer_zip(LayerSpec("demo", tmp_path / "demo.zip", entries))
    with zipfile.ZipFile(built.zip_path) as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == ["a/data.bin", "b/run.sh"]
    assert {i.date_time for i in infos} == {ZIP_EPOCH}
    assert [i.external_attr >> 16 for i in infos] == [0o100644, 0o100755]
    assert {i.create_system for i in infos} == {3}
    assert built.unzipped_bytes == 110 and built.zipped_bytes == built.zip_path.stat().st_size


@pytest.mark.parametrize("arcname", ["../escape", "/abs", "a//b"])
def test_zip_rejects_unsafe_paths(tmp_path, arcname):
    with pytest.raises(LayerBuildError, match="unsafe path"):
        write_layer_zip(LayerSpec("bad", tmp_path / "bad.zip", (LayerEntry(arcname, b"x"),)))


def test_integrity_failure_stops_the_build_before_any_zip(store, tmp_path):
    store.model_path("iris").write_bytes(b"iris model TWO!")  # same size, other bytes
    request = LayersRequest(out_dir=tmp_path / "out", build_runtime=False,
                            code_paths=(tmp_path,))
    with pytest.raises(IntegrityError, match="sha256"):
        build_layers(store, request)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.zip"))


def test_layers_check_bytes_even_if_the_store_does_not(store, tmp_path):
    class CarelessStore:
        def __getattr__(self, name):
            return getattr(store, name)

        def open(self, name, ref="latest"):
            opened = store.open(name, ref)
            return type(opened)(manifest=opened.manifest, model_bytes=b"tampered")

    with pytest.raises(IntegrityError):
        build_model_layers(CarelessStore(), [ModelRef("iris")], tmp_path / "out")


# -- size limits -------------------------------------------------------------------------


def fake_layer(name: str, unzipped: int, zipped: int) -> BuiltLayer:
    return BuiltLayer(name, Path(f"/out/{name}.zip"), unzipped, zipped, ("f",), "0" * 64)


SMALL = LambdaLimits(max_unzipped_bytes=1000, max_zipped_bytes=100, max_layers=2)
CODE = CodePackage("handlers", 100)


def test_sizes_within_limits_are_ok():
    layers = [fake_layer("runtime", 600, 90), fake_layer("model-iris", 300, 50)]
    report = check_sizes([FunctionSpec("iris", CODE, ("runtime", "model-iris"))], layers, SMALL)
    assert report.ok and report.functions[0].unzipped_bytes == 1000
    report.raise_for_limits()


def test_unzipped_total_over_the_limit_names_function_layers_and_sizes():
    layers = [fake_layer("runtime", 700, 90), fake_layer("model-iris", 300, 50)]
    report = check_sizes([FunctionSpec("iris", CODE, ("runtime", "model-iris"))], layers, SMALL)
    (problem,) = report.problems
    assert "function 'iris'" in problem and "1,100 bytes" in problem
    assert "1,000 bytes" in problem and "runtime 700 B" in problem and "model-iris" in problem
    assert "LIMIT EXCEEDED" in format_report(report)
    with pytest.raises(Exception, match="iris"):
        report.raise_for_limits()


def test_a_layer_zip_over_the_upload_limit_is_named():
    layers = [fake_layer("runtime", 200, 101)]
    report = check_sizes([FunctionSpec("iris", CODE, ("runtime",))], layers, SMALL)
    (problem,) = report.problems
    assert "layer 'runtime'" in problem and "101 bytes" in problem and "100 bytes" in problem


def test_too_many_layers_is_named():
    layers = [fake_layer(f"l{i}", 1, 1) for i in range(3)]
    report = check_sizes([FunctionSpec("iris", CODE, ("l0", "l1", "l2"))], layers, SMALL)
    (problem,) = report.problems
    assert "function 'iris'" in problem and "3 layers" in problem and "at most 2" in problem


def test_build_reports_limits_and_writes_report_json(store, tmp_path):
    request = LayersRequest(out_dir=tmp_path / "out", build_runtime=False, code_paths=(tmp_path,),
                            limits=LambdaLimits(max_zipped_bytes=10))
    build = build_layers(store, request)
    assert not build.report.ok
    assert [f.name for f in build.report.functions] == ["digits", "iris"]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["ok"] is False and any("model-iris" in p for p in report["problems"])
    assert report["limits"]["max_zipped_bytes"] == 10


def test_default_limits_are_lambdas_binary_megabytes():
    limits = LambdaLimits()
    assert limits.max_unzipped_bytes == 262_144_000
    assert limits.max_zipped_bytes == 52_428_800
    assert limits.max_layers == 5


# -- trim rules --------------------------------------------------------------------------


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "python"
    write(root / "pkg" / "__init__.py", "x = 1\n")
    write(root / "pkg" / "py.typed", "")
    write(root / "pkg" / "mod.pyi", "x: int\n" * 10)
    write(root / "pkg" / "__pycache__" / "mod.cpython-311.pyc", b"\0" * 30)
    write(root / "pkg" / "tests" / "test_mod.py", "assert True\n" * 5)
    write(root / "pkg" / "testing" / "__init__.py", "kept\n")
    write(root / "numpy" / "_core" / "include" / "numpy" / "ndarraytypes.h", b"h" * 40)
    write(root / "numpy" / "_core" / "lib" / "libnpymath.a", b"a" * 20)
    write(root / "bin" / "f2py", "#!/host/python\n")
    write(root / "onnxruntime" / "__init__.py", "")
    write(root / "onnxruntime" / "tools" / "convert.py", b"t" * 50)
    write(root / "onnxruntime" / "transformers" / "opt.py", b"t" * 50)
    fake_elf(root / "onnxruntime" / "capi" / "libonnxruntime.so.1.2.3", ("libc.so.6",),
             soname="libonnxruntime.so.1")
    fake_elf(root / "onnxruntime" / "capi" / "libonnxruntime_providers_shared.so", ("libc.so.6",))
    fake_elf(root / "onnxruntime" / "capi" / "onnxruntime_pybind11_state.cpython-312.so",
             ("libstdc++.so.6", "libc.so.6"))
    write(root / "google" / "protobuf" / "__init__.py", b"p" * 70)
    record = "google/protobuf/__init__.py,,70\nprotobuf-9.0.dist-info/RECORD,,\n../../bin/x,,\n"
    write(root / "protobuf-9.0.dist-info" / "RECORD", record)
    write(root / "pkg-1.0.dist-info" / "licenses" / "include" / "LICENSE.h", "keep me")
    return root


def by_rule(results):
    return {r.rule: r for r in results}


def test_trim_removes_what_a_handler_never_imports(site):
    results = by_rule(trim_tree(site))
    left = sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file())
    assert left == [
        "onnxruntime/__init__.py",
        "onnxruntime/capi/libonnxruntime_providers_shared.so",
        "onnxruntime/capi/onnxruntime_pybind11_state.cpython-312.so",
        "pkg-1.0.dist-info/licenses/include/LICENSE.h",
        "pkg/__init__.py",
        "pkg/py.typed",
        "pkg/testing/__init__.py",
    ]
    assert not (site / "google").exists()  # emptied namespace folders go too
    assert results["host-bytecode"].removed_bytes == 30
    assert results["tests"].removed_bytes == 60
    assert results["c-build-files"].removed_bytes == 60
    assert results["type-stubs"].removed_bytes == 70
    assert results["onnxruntime-tooling"].removed_bytes == 100
    assert results["onnxruntime-c-api"].removed_files == 1
    assert "not NEEDED" in results["onnxruntime-c-api"].note
    assert results["unused-distributions"].note == "removed protobuf"
    assert results["console-scripts"].removed_files == 1


def test_trim_keeps_the_c_api_library_when_something_links_it(site):
    fake_elf(site / "onnxruntime" / "capi" / "onnxruntime_pybind11_state.cpython-312.so",
             ("libonnxruntime.so.1", "libc.so.6"))
    results = by_rule(trim_tree(site))
    assert (site / "onnxruntime" / "capi" / "libonnxruntime.so.1.2.3").is_file()
    assert results["onnxruntime-c-api"].removed_files == 0
    assert "NEEDED by onnxruntime/capi/onnxruntime_pybind11_state" in results[
        "onnxruntime-c-api"].note


@pytest.mark.parametrize(("bits", "order"), [(64, "<"), (32, ">")])
def test_elf_linkage_is_read_from_the_dynamic_section(tmp_path, bits, order):
    path = fake_elf(tmp_path / "lib.so", ("liba.so.1", "libb.so"), "libme.so.2", bits, order)
    linkage = read_elf_linkage(path)
    assert linkage is not None
    assert linkage.needed == ("liba.so.1", "libb.so") and linkage.soname == "libme.so.2"
    assert read_elf_linkage(write(tmp_path / "text.so", "not elf")) is None


@pytest.mark.skipif(shutil.which("readelf") is None, reason="readelf is not installed")
def test_elf_linkage_matches_readelf_on_a_real_extension():
    import onnxruntime.capi as capi

    (binding,) = Path(capi.__file__).parent.glob("onnxruntime_pybind11_state*.so")
    out = subprocess.run(["readelf", "-d", str(binding)], capture_output=True, text=True).stdout
    expected = tuple(line.split("[", 1)[1].rstrip("]") for line in out.splitlines()
                     if "(NEEDED)" in line)
    linkage = read_elf_linkage(binding)
    assert linkage is not None and linkage.needed == expected


def test_tiny_smoke_model_runs_on_onnxruntime():
    import numpy as np
    import onnxruntime as ort

    session = ort.InferenceSession(tiny_add_model(), providers=["CPUExecutionProvider"])
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    (y,) = session.run(None, {INPUT_NAME: x})
    np.testing.assert_array_equal(y, x + x)


# -- the target interpreter --------------------------------------------------------------


class FakeRunner:
    """Answers commands from a table: program path -> probe output (or a failure)."""

    def __init__(self, pythons: dict[str, str | None], pip_tree=None):
        self.pythons = pythons
        self.pip_tree = pip_tree
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, args, *, env=None, timeout=None):
        args = tuple(str(a) for a in args)
        self.calls.append(args)
        if args[1:4] == ("-m", "pip", "install"):
            dest = Path(args[args.index("--target") + 1])
            self.pip_tree(dest)
            return CommandResult(args, 0, "Successfully installed", "")
        answer = self.pythons.get(args[0])
        if answer is None:
            return CommandResult(args, 127, "", "pyenv: python3.12: command not found")
        return CommandResult(args, 0, answer + "\n", "")


def test_a_failing_pyenv_shim_is_passed_over_for_pyenv_versions(tmp_path):
    real = write(tmp_path / "pyenv" / "versions" / "3.12.1" / "bin" / "python3.12", "")
    write(tmp_path / "pyenv" / "versions" / "3.11.7" / "bin" / "python3.11", "")
    runner = FakeRunner({str(real): "cpython 3.12.1 x86_64 linux"})
    search = find_target_interpreter(
        None, {"PYENV_ROOT": str(tmp_path / "pyenv")}, runner,
        which=lambda name: "/shims/python3.12" if name == "python3.12" else None)
    assert search.interpreter is not None and search.interpreter.path == str(real)
    assert search.interpreter.found_by == "pyenv"
    assert "command not found" in search.tried[0]


def test_no_target_interpreter_is_reported_not_guessed(tmp_path):
    runner = FakeRunner({"/usr/bin/python3.12": "cpython 3.11.7 x86_64 linux"})
    search = find_target_interpreter(None, {"PYENV_ROOT": str(tmp_path)}, runner,
                                     which=lambda name: "/usr/bin/python3.12")
    assert search.interpreter is None
    assert "not CPython 3.12" in search.tried[0]


def test_an_explicit_interpreter_beats_the_variable_and_must_be_312():
    runner = FakeRunner({"/a/python": "cpython 3.12.4 x86_64 linux",
                         "/b/python": "cpython 3.13.0 x86_64 linux"})
    env = {"FEATHERSERVE_PYTHON312": "/b/python"}
    search = find_target_interpreter("/a/python", env, runner, which=lambda _: None)
    assert search.interpreter is not None and search.interpreter.version == "3.12.4"
    with pytest.raises(TargetInterpreterError, match=r"not CPython 3\.12"):
        find_target_interpreter(None, env, runner, which=lambda _: None)


def test_bytecode_is_compiled_for_lambdas_paths_with_unchecked_hashes(tmp_path):
    calls = []
    target = TargetInterpreter("/py312", "3.12.1", "x86_64", "linux", "test")

    def answer(args, *, env=None, timeout=None):
        calls.append(tuple(args))
        return CommandResult(tuple(args), 0, "", "")

    result = compile_bytecode(target, tmp_path, answer)
    (call,) = calls
    assert call[:4] == ("/py312", "-I", "-m", "compileall")
    assert call[call.index("--invalidation-mode") + 1] == "unchecked-hash"
    assert call[call.index("-p") + 1] == "/opt/python"
    assert result.compiled


def test_the_import_check_is_skipped_off_target_hardware(tmp_path):
    arm = TargetInterpreter("/py312", "3.12.1", "arm64", "darwin", "test")
    check = check_layer_imports(arm, tmp_path, FakeRunner({}))
    assert not check.ran and "skipped" in check.note


# -- the runtime layer with a fake pip ---------------------------------------------------


def fake_pip_tree(dest: Path) -> None:
    write(dest / "numpy" / "__init__.py", "version = 1\n")
    write(dest / "numpy" / "tests" / "test_x.py", "x" * 100)
    write(dest / "numpy" / "_core" / "include" / "x.h", "h" * 10)
    write(dest / "numpy-9.0.dist-info" / "RECORD", "")
    write(dest / "bin" / "f2py", "#!/host\n").chmod(0o755)


def test_runtime_layer_is_trimmed_zipped_and_reused(tmp_path):
    runner = FakeRunner({}, pip_tree=fake_pip_tree)
    config = RuntimeLayerConfig(out_dir=tmp_path / "layers", requirements=("numpy>=1",))
    no_python = InterpreterSearch(None, ("no python3.12",))
    first = build_runtime_layer(config, no_python, runner)
    pip_call = runner.calls[0]
    assert pip_call[pip_call.index("--platform") + 1] == "manylinux_2_28_x86_64"
    assert pip_call[pip_call.index("--python-version") + 1] == "3.12"
    assert "--only-binary=:all:" in pip_call and pip_call[-1] == "numpy>=1"
    assert sorted(first.layer.files) == ["python/numpy-9.0.dist-info/RECORD",
                                         "python/numpy/__init__.py"]
    assert (tmp_path / "layers" / "runtime" / "python" / "numpy" / "__init__.py").is_file()
    assert not first.bytecode.compiled and "WITHOUT bytecode" in first.bytecode.note
    assert by_rule(first.trim)["tests"].removed_bytes == 100
    # A local tool importing from python/ with another Python leaves its bytecode there.
    write(config.python_dir / "numpy" / "__pycache__" / "__init__.cpython-311.pyc", b"\0")
    config.zip_path.unlink()
    again = build_runtime_layer(config, no_python, runner)
    assert again.reused and len(runner.calls) == 1
    assert again.layer.sha256 == first.layer.sha256
    changed = RuntimeLayerConfig(out_dir=config.out_dir, requirements=("numpy>=2",))
    assert not build_runtime_layer(changed, no_python, runner).reused
    assert len(runner.calls) == 2


def test_a_failed_pip_install_is_a_build_error(tmp_path):
    def failing(args, *, env=None, timeout=None):
        return CommandResult(tuple(args), 1, "", "ERROR: No matching distribution found")

    config = RuntimeLayerConfig(out_dir=tmp_path, requirements=("nothing-such",))
    with pytest.raises(LayerBuildError, match="No matching distribution"):
        build_runtime_layer(config, InterpreterSearch(None), failing)


def test_runtime_requirements_come_from_pyproject(tmp_path):
    assert any(r.startswith("onnxruntime") for r in read_runtime_requirements(PYPROJECT))
    bad = write(tmp_path / "pyproject.toml", "[project]\nname = 'x'\n")
    with pytest.raises(LayerBuildError, match="dependencies"):
        read_runtime_requirements(bad)


def test_zero_models_builds_and_checks_the_runtime_layer_only(tmp_path):
    runner = FakeRunner({}, pip_tree=fake_pip_tree)
    request = LayersRequest(out_dir=tmp_path / "out", code_paths=(tmp_path / "out",),
                            python312=None)
    (tmp_path / "out").mkdir()
    empty = LocalStore(tmp_path / "empty")
    build = build_layers(empty, request, run=runner, environ={"PYENV_ROOT": str(tmp_path)})
    assert [layer.name for layer in build.report.layers] == ["runtime"]
    assert [f.name for f in build.report.functions] == ["(runtime only)"]
    assert any("no served models" in note for note in build.report.notes)


# -- the real runtime layer --------------------------------------------------------------


@pytest.mark.slow
def test_real_runtime_layer_is_trimmed_and_imports_on_python312():
    """Reuses build/layers/runtime when `featherserve layers` built it (downloads wheels
    otherwise), configured exactly as that command configures it: never other bytes."""
    from featherserve.layers import DEFAULT_OUT_DIR
    from featherserve.layers.build import runtime_layer_config
    from featherserve.layers.runtime_layer import RUNTIME_LOCK

    config = runtime_layer_config(DEFAULT_OUT_DIR, RUNTIME_LOCK)
    before = sha256_file(config.zip_path) if config.zip_path.is_file() else None
    search = find_target_interpreter()
    result = build_runtime_layer(config, search)
    if result.reused:  # what `make layers` built stays byte for byte
        assert sha256_file(config.zip_path) == before
    tree = result.python_dir
    outside_dist_info = [p for p in tree.rglob("*") if ".dist-info" not in p.as_posix()]
    assert not [p for p in outside_dist_info if p.is_dir() and p.name in ("tests", "include")]
    assert not [p for p in outside_dist_info if p.suffix in (".h", ".pyi")]
    assert not list(tree.glob("onnxruntime/capi/libonnxruntime.so*"))
    assert not (tree / "onnxruntime" / "transformers").exists()
    assert all(name.startswith("python/") for name in result.layer.files)
    assert result.layer.zipped_bytes < LambdaLimits().max_zipped_bytes
    if search.interpreter is None:
        pytest.skip("no CPython 3.12 on this machine: the layer was built and trimmed but not "
                    f"import-checked ({'; '.join(search.tried)})")
    assert result.bytecode.compiled and list(tree.glob("numpy/__pycache__/*.cpython-312.pyc"))
    check = check_layer_imports(search.interpreter, tree)
    assert check.ok and check.details["session_ok"] and check.details["bytecode_used"]


def test_the_layer_bytes_do_not_depend_on_how_pip_was_asked(tmp_path):
    """pip marks a package REQUESTED when it is named (`-r lock`: all of them) and not when it
    comes as a dependency: two installs of the same files differ only there."""
    trees = []
    for requested in (("numpy", "jmespath"), ("numpy",)):
        tree = tmp_path / "-".join(requested) / "python"
        for name in ("numpy", "jmespath"):
            package = tree / name
            package.mkdir(parents=True)
            (package / "__init__.py").write_text(f"NAME = {name!r}\n")
            dist_info = tree / f"{name}-1.0.dist-info"
            dist_info.mkdir()
            (dist_info / "METADATA").write_text(f"Name: {name}\nVersion: 1.0\n")
            (dist_info / "INSTALLER").write_text("pip\n")
            records = [f"{name}/__init__.py,,", f"{dist_info.name}/METADATA,,",
                       f"{dist_info.name}/INSTALLER,,", f"{dist_info.name}/RECORD,,"]
            if name in requested:
                (dist_info / "REQUESTED").write_text("")
                records.append(f"{dist_info.name}/REQUESTED,,")
            (dist_info / "RECORD").write_text("\n".join(records) + "\n")
        results = {r.rule: r for r in trim_tree(tree)}
        assert results["install-request-markers"].removed_files == len(requested)
        assert not list(tree.glob("*.dist-info/REQUESTED"))
        assert "REQUESTED" not in "".join(p.read_text() for p in tree.glob("*.dist-info/RECORD"))
        spec = LayerSpec(name="runtime", zip_path=tmp_path / f"{len(trees)}.zip",
                         entries=entries_from_tree(tree, "python"))
        trees.append(write_layer_zip(spec).zip_path.read_bytes())
    assert trees[0] == trees[1]


class RequestingPip:
    """pip as it marks REQUESTED: every package of a `-r` file, else only those named (the
    rest come as dependencies). Installs numpy with its two dependencies either way."""

    installed = ("numpy", "jmespath", "packaging")

    def __call__(self, args, *, env=None, timeout=None):
        args = tuple(str(a) for a in args)
        dest = Path(args[args.index("--target") + 1])
        named = self.installed if "-r" in args else tuple(
            a.split(">")[0].split("=")[0] for a in args[args.index("--disable-pip-version-check")
                                                        + 1:])
        for name in self.installed:
            write(dest / name / "__init__.py", f"NAME = {name!r}\n")
            dist_info = dest / f"{name}-1.0.dist-info"
            files = [f"{name}/__init__.py", f"{dist_info.name}/RECORD"]
            if name in named:
                write(dist_info / "REQUESTED", "")
                files.append(f"{dist_info.name}/REQUESTED")
            write(dist_info / "RECORD", "".join(f"{f},,\n" for f in files))
        return CommandResult(args, 0, "Successfully installed", "")


def test_featherserve_layers_and_a_named_requirement_build_the_same_runtime_zip(tmp_path):
    """The command's path (`-r` the lock) and a path naming the requirements (as the real
    layer test once did) give byte-identical zips."""
    from featherserve.layers.build import runtime_layer_config

    lock = write(tmp_path / "runtime.lock", "numpy==1.0 \\\n    --hash=sha256:" + "0" * 64
                 + "\n")
    no_python = InterpreterSearch(None, ("no python3.12",))
    by_command = build_runtime_layer(runtime_layer_config(tmp_path / "command", lock),
                                     no_python, RequestingPip())
    by_name = build_runtime_layer(RuntimeLayerConfig(out_dir=tmp_path / "named",
                                                     requirements=("numpy>=1",)),
                                  no_python, RequestingPip())
    assert by_command.layer.files == by_name.layer.files
    assert by_command.layer.zip_path.read_bytes() == by_name.layer.zip_path.read_bytes()


def _lock_versions(path: Path) -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", path.read_text(), flags=re.MULTILINE)
    return {canonicalize_name(name): version for name, version in pins}


@pytest.mark.parametrize("lock", ["runtime.lock", "dev.lock"])
def test_the_locks_pin_every_runtime_dependency_within_pyproject(lock):
    """A stale lock (pyproject changed, `featherserve lock` not run) fails here."""
    path = PYPROJECT.parent / "requirements" / lock
    pins = _lock_versions(path)
    assert "--hash=sha256:" in path.read_text()
    for text in read_runtime_requirements(PYPROJECT):
        requirement = Requirement(text)
        version = pins.get(canonicalize_name(requirement.name))
        assert version is not None, f"{requirement.name} is not in {lock}"
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{lock} pins {requirement.name}=={version}, outside pyproject's {requirement}")


def test_the_runtime_layer_installs_exactly_the_lock():
    args = locked_requirements()
    assert args[:3] == ("--require-hashes", "--no-deps", "-r")
    assert Path(args[3]).name == "runtime.lock"


def test_trimming_drops_the_record_lines_of_removed_files(tmp_path):
    """pip records console scripts with the build machine's shebang: they must not stay."""
    site = tmp_path / "python"
    write(site / "pkg" / "__init__.py", "")
    write(site / "pkg" / "tests" / "test_x.py", "x")
    write(site / "bin" / "pkg-cli", "#!/some/venv/bin/python\n").chmod(0o755)
    write(site / "pkg-1.0.dist-info" / "RECORD",
          "pkg/__init__.py,sha256=a,0\npkg/tests/test_x.py,sha256=b,1\n"
          "../../bin/pkg-cli,sha256=c,24\npkg-1.0.dist-info/RECORD,,\n")
    trim_tree(site)
    record = (site / "pkg-1.0.dist-info" / "RECORD").read_text()
    assert record == "pkg/__init__.py,sha256=a,0\npkg-1.0.dist-info/RECORD,,\n"
