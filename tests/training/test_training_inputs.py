"""Training is a library the CLI calls: every path it writes and the lineage's command come
from its caller, never from a project it looks for or a module global the CLI sets."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from featherserve.support.processes import ROOT
from model_store.local import LocalStore
from training.common import build_folder, command_line
from training.tabular.build import build_tabular_model
from training.tabular.config import TabularConfig

QUICK = TabularConfig.quick()


@pytest.mark.slow
def test_the_callers_command_and_folders_are_what_the_build_uses(tmp_path):
    typed = "featherserve train tabular inputs_bc --data 'sklearn:breast_cancer' --quick"
    manifest = build_tabular_model("inputs_bc", data="sklearn:breast_cancer",
                                   target="diagnosis", store_root=tmp_path / "store",
                                   config=QUICK, teacher_dir=tmp_path / "teachers",
                                   report_dir=tmp_path / "reports", command=typed)
    assert manifest.lineage.command == typed
    assert LocalStore(tmp_path / "store").manifest("inputs_bc").lineage.command == typed
    assert (tmp_path / "teachers" / "inputs_bc_teacher.joblib").is_file()
    assert (tmp_path / "reports" / "inputs_bc" / "report.txt").is_file()


@pytest.mark.slow
def test_without_folders_the_build_writes_beside_its_store_and_names_this_process(tmp_path):
    store = tmp_path / "models"
    manifest = build_tabular_model("beside_bc", data="sklearn:breast_cancer",
                                   target="diagnosis", store_root=store, config=QUICK)
    assert build_folder(store) == tmp_path / "build"
    assert (tmp_path / "build" / "teachers" / "beside_bc_teacher.joblib").is_file()
    assert (tmp_path / "build" / "reports" / "beside_bc" / "report.txt").is_file()
    assert not (ROOT / "build" / "teachers" / "beside_bc_teacher.joblib").exists()
    assert shlex.split(manifest.lineage.command)[1:] == sys.argv[1:]


def test_a_command_given_wins_over_the_process_command_line():
    assert command_line("featherserve import m f.joblib") == "featherserve import m f.joblib"
    assert shlex.split(command_line())[0] == Path(sys.argv[0]).name


def test_python_m_training_points_to_featherserve_train():
    done = subprocess.run([sys.executable, "-m", "training", "image", "digits"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "featherserve train image digits" in done.stderr
