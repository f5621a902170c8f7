"""`make test` leaves the checkout as it found it: the paths `git status` lists after the
run are the ones it listed before (a test writes under tmp_path or build/, never beside the
sources). Read once at session start and again at the end by tests/conftest.py."""

from __future__ import annotations

import subprocess
from pathlib import Path


def tree_state(root: Path) -> frozenset[str] | None:
    """`git status --porcelain` entries (untracked files one by one), or None outside git."""
    try:
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"],
                                cwd=root, capture_output=True, text=True, timeout=120,
                                check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if status.returncode != 0:
        return None
    return frozenset(status.stdout.splitlines())


def written_by_the_run(before: frozenset[str] | None, root: Path) -> list[str]:
    if before is None:
        return []
    after = tree_state(root)
    return [] if after is None else sorted(after - before)
