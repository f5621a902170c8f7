"""`featherserve` acts on the project around the current folder, never on the checkout it
was installed from: two copies of the project, the CLI run (as users run it) inside the
second, the first untouched; outside any project, a clear refusal."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from featherserve.project import NotAProject, find_project, resolve_project
from featherserve.support.processes import ROOT, VENV

FEATHERSERVE = str(VENV / "bin" / "featherserve")
# What a command that adds or removes a model writes to: the store, the handlers, the
# generated templates; and the two files that mark a project.
PROJECT_PARTS = ("models", "handlers", "generated", "serverless.yml", "pyproject.toml")


def copy_project(to: Path) -> Path:
    to.mkdir(parents=True)
    for part in PROJECT_PARTS:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, to / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, to / part)
    return to


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def featherserve(*args: str, cwd: Path, env: dict[str, str] | None = None
                 ) -> subprocess.CompletedProcess[str]:
    base = {"PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run([FEATHERSERVE, *args], cwd=cwd, env={**base, **(env or {})},
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture()
def two_projects(tmp_path) -> tuple[Path, Path]:
    return copy_project(tmp_path / "first"), copy_project(tmp_path / "second")


def test_a_command_run_in_the_second_project_leaves_the_first_untouched(two_projects):
    first, second = two_projects
    before_first, before_second = digest(first), digest(second)
    work = second / "models" / "breast_cancer"  # any folder inside the project
    removed = featherserve("remove", "digits", cwd=work)
    assert removed.returncode == 0, removed.stderr
    aliased = featherserve("alias", "breast_cancer", "canary", "1", cwd=second)
    assert aliased.returncode == 0, aliased.stderr
    for result in (removed, aliased):
        assert f"featherserve: project {second.resolve()}" in result.stderr.splitlines()
    assert digest(first) == before_first
    after = digest(second)
    assert "handlers/digits.py" not in after
    assert "models/breast_cancer/aliases.json" in after
    assert after["generated/functions.yml"] != before_second["generated/functions.yml"]
    # The kit's own checkout is untouched too.
    assert (ROOT / "handlers" / "digits.py").is_file()


def test_the_project_option_and_the_environment_name_another_project(two_projects):
    first, second = two_projects
    before_second = digest(second)
    by_option = featherserve("--project", str(first), "alias", "breast_cancer", "a", "1",
                             cwd=second)
    by_env = featherserve("alias", "breast_cancer", "b", "2", cwd=second,
                          env={"FEATHERSERVE_PROJECT": str(first)})
    for result in (by_option, by_env):
        assert result.returncode == 0, result.stderr
        assert f"featherserve: project {first.resolve()}" in result.stderr
    assert digest(second) == before_second
    aliases = (first / "models" / "breast_cancer" / "aliases.json").read_text()
    assert '"a"' in aliases and '"b"' in aliases


@pytest.mark.parametrize("command", [["list"], ["remove", "digits"], ["generate"],
                                     ["layers"]])
def test_outside_any_project_every_command_is_refused(tmp_path, command):
    nowhere = tmp_path / "nowhere"
    nowhere.mkdir()
    result = featherserve(*command, cwd=nowhere)
    assert result.returncode == 2
    assert f"{nowhere.resolve()} is not inside a featherserve project" in result.stderr
    assert "--project" in result.stderr and "Traceback" not in result.stderr
    assert not any(nowhere.iterdir())


def test_a_named_folder_that_is_no_project_is_refused(tmp_path, two_projects):
    first, _ = two_projects
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "serverless.yml").write_text("service: other\n")
    (tmp_path / "other" / "pyproject.toml").write_text('[project]\nname = "other"\n')
    for args, env in ((["--project", str(tmp_path / "other")], None),
                      ([], {"FEATHERSERVE_PROJECT": str(tmp_path / "other")})):
        result = featherserve(*args, "list", cwd=first, env=env)
        assert result.returncode == 2
        assert "which is not a featherserve project" in result.stderr


def test_discovery_walks_up_like_git(tmp_path, two_projects):
    first, second = two_projects
    deep = second / "models" / "digits" / "1"
    assert find_project(deep) == second.resolve()
    assert find_project(tmp_path) is None
    assert resolve_project(cwd=deep, environ={}) == second.resolve()
    assert resolve_project(first, environ={"FEATHERSERVE_PROJECT": str(second)},
                           cwd=tmp_path) == first.resolve()
    with pytest.raises(NotAProject):
        resolve_project(cwd=tmp_path, environ={})
