"""Cold start is a feature: a handler imports only what Lambda needs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from featherserve.support.processes import ROOT

FORBIDDEN = ("torch", "sklearn", "skl2onnx", "onnx", "training", "boto3", "s3transfer", "scipy")


def modules_after_import(module: str) -> set[str]:
    code = (f"import sys, json; import {module}; "
            "print(json.dumps(sorted(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, check=True, timeout=120)
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("handler", ["handlers.breast_cancer", "handlers.digits"])
def test_handler_import_stays_light(handler):
    loaded = modules_after_import(handler)
    assert "onnxruntime" in loaded  # the session really was created at import (init)
    heavy = sorted(m for m in loaded if m.split(".")[0] in FORBIDDEN)
    assert heavy == []
    # Powertools imports the bare botocore package (a cheap __init__) to tag boto3 calls
    # with its user agent; no client, session or service model may come with it.
    assert sorted(m for m in loaded if m.startswith("botocore.")) == []
