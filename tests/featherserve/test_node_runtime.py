"""The Serverless side runs on Node.js 22, the oldest line the AWS SDK for JavaScript v3
supports after January 2027: the set-up installs it from the lock file (the `node` npm
package) and every command the Makefile and the tests run finds it first on PATH."""

from __future__ import annotations

import json
import shutil

from featherserve.support.processes import NODE_BIN, ROOT, run_cli, tool_env

OLDEST_MAJOR = 22


def major(version: str) -> int:
    return int(version.strip().lstrip("v").split(".")[0])


def test_the_lock_pins_node_22_and_the_engines_field_asks_for_it():
    package = json.loads((ROOT / "package.json").read_text())
    lock = json.loads((ROOT / "package-lock.json").read_text())
    pinned = package["devDependencies"]["node"]
    assert major(pinned) >= OLDEST_MAJOR
    assert lock["packages"]["node_modules/node"]["version"] == pinned
    assert lock["packages"]["node_modules/node"]["integrity"].startswith("sha512-")
    assert package["engines"]["node"].startswith(f">={OLDEST_MAJOR}")
    assert lock["packages"][""]["engines"] == package["engines"]


def test_the_commands_users_run_find_node_22_first():
    env = tool_env()
    node = shutil.which("node", path=env["PATH"])
    assert node is not None and node.startswith(str(NODE_BIN))
    result = run_cli(["node", "--version"], env=env)
    assert result.returncode == 0 and major(result.stdout) >= OLDEST_MAJOR, result.stdout


def test_osls_runs_on_it_without_the_sdk_warning():
    # `sls --version` loads osls (and the AWS SDK it bundles) on the node on PATH.
    result = run_cli([str(NODE_BIN / "sls"), "--version"], env=tool_env())
    assert result.returncode == 0, result.stderr
    assert "osls version" in result.stdout
    assert "NodeVersionSupportWarning" not in result.stdout + result.stderr
    script = ("process.stdout.write(process.version);"
              "require('@aws-sdk/core/client').emitWarningIfUnsupportedVersion(process.version)")
    probe = run_cli(["node", "-e", script], env=tool_env())
    assert probe.returncode == 0, probe.stderr
    assert major(probe.stdout) >= OLDEST_MAJOR
    assert "NodeVersionSupportWarning" not in probe.stderr
