"""A real client against /openapi.json: Schemathesis (its CLI, `st run`) against the stack
started as README.md says (`make serve`, tests/support/stack.py), with a fixed seed and a
time budget, every check but the API key's (local serving has no key by design).

Two refusals depend on data no schema can describe, and only those are let through the
positive-data check: an image model's bytes that are not an image (415/422, the image
error codes), and a tabular row whose values, each within float32, take the model's
output beyond float range (422 ``non_finite_output``). A body refused for its size (more
instances than the schema's maxItems) is a 413 by the contract, which the negative-data
check is told. The run's HAR is read back to
prove every such refusal was one of those, for a body the schema really calls valid.
"""

from __future__ import annotations

import base64
import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from featherserve.support.processes import VENV, run_cli, tool_env
from tests.support.stack import Stack, make_serve

pytestmark = pytest.mark.e2e
SEED = 17
BUDGET_SECONDS = 150
# Refusals of schema-valid data that depend on what the bytes or numbers are.
IMAGE_CONTENT = {"undecodable_image", "unsupported_image_format", "empty_image", "blank_image",
                 "image_too_small", "image_too_complex", "too_many_pixels", "image_too_large",
                 "unsupported_media_type"}
TABULAR_CONTENT = {"non_finite_output"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    with make_serve(tmp_path_factory.mktemp("schemathesis") / "serve.log") as running:
        yield running


def openapi(stack: Stack) -> dict[str, Any]:
    with urllib.request.urlopen(f"{stack.url}/openapi.json", timeout=60) as response:
        document: dict[str, Any] = json.loads(response.read())
    return document


def predict_operations(document: dict[str, Any]) -> dict[str, str]:
    """operationId → "image" or "tabular", for every predict route (API and demo)."""
    kinds = {}
    for path, item in document["paths"].items():
        post = item.get("post")
        if post and path.endswith("/predict"):
            content = post["requestBody"]["content"]
            kinds[post["operationId"]] = "image" if len(content) > 1 else "tabular"
    return kinds


def config_text(document: dict[str, Any]) -> str:
    """schemathesis.toml: no API key generated (none is needed locally), the data-dependent
    statuses above allowed per operation, and the coverage phase (its exhaustive
    combinations cost minutes on a 30-feature row) off for the tabular predict routes."""
    lines = ["[generation]", "with-security-parameters = false", ""]
    for operation, kind in sorted(predict_operations(document).items()):
        extra = '"415", "422"' if kind == "image" else '"422"'
        lines += ["[[operations]]", f'include-operation-id = "{operation}"',
                  "checks.positive_data_acceptance.expected-statuses = "
                  f'["2xx", "3xx", "401", "403", "404", "409", "429", "5xx", {extra}]']
        # A body the schema refuses for its size (more instances than maxItems) is 413 by
        # the contract (batch_too_large), a status Schemathesis' default list lacks.
        lines.append("checks.negative_data_rejection.expected-statuses = "
                     '["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", '
                     '"428", "429", "5xx"]')
        if kind == "tabular":
            lines.append("phases.coverage.enabled = false")
        lines.append("")
    return "\n".join(lines)


def request_body(entry: dict[str, Any]) -> tuple[str, Any]:
    """The media type and (JSON bodies) the parsed body of a HAR entry's request."""
    post = entry["request"].get("postData") or {}
    media = (post.get("mimeType") or "").split(";")[0].strip()
    text = post.get("text") or ""
    if post.get("encoding") == "base64":
        text = base64.b64decode(text).decode("utf-8", "replace")
    if media != "application/json":
        return media, None
    try:
        return media, json.loads(text)
    except ValueError:
        return media, None


def body_validator(document: dict[str, Any], path: str) -> jsonschema.Draft202012Validator:
    body = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    return jsonschema.Draft202012Validator({**body["schema"],
                                            "components": document["components"]})


def test_schemathesis_finds_nothing_against_make_serve(stack, tmp_path):
    document = openapi(stack)
    config = tmp_path / "schemathesis.toml"
    config.write_text(config_text(document))
    har = tmp_path / "run.har"
    command = [str(VENV / "bin" / "st"), "--config-file", str(config), "--no-color", "run",
               f"{stack.url}/openapi.json", "--url", stack.url, "--seed", str(SEED),
               "--max-time", str(BUDGET_SECONDS), "--workers", "1", "--checks", "all",
               "--exclude-checks", "ignored_auth", "--continue-on-failure",
               "--report", "har", "--report-har-path", str(har),
               "--report-dir", str(tmp_path / "reports")]
    result = run_cli(command, env=tool_env(), cwd=tmp_path, timeout=BUDGET_SECONDS + 240)
    output = result.stdout + result.stderr
    print(output[-3000:])
    assert result.returncode == 0, output[-8000:]
    # Exit 0 and no failure in the summary (a warning about the image routes' generated
    # bytes, which are not images, is expected: see the module's docstring).
    assert "Failures:" not in output and "unique failures" not in output, output[-8000:]

    entries = json.loads(har.read_text())["log"]["entries"]
    kinds = predict_operations(document)
    by_path = {path: item["post"]["operationId"] for path, item in document["paths"].items()
               if "post" in item and item["post"]["operationId"] in kinds}
    tested = {entry["request"]["url"].split("?")[0].split("/", 3)[-1] for entry in entries}
    assert {path.lstrip("/") for path in by_path} <= tested, sorted(tested)
    validators = {path: body_validator(document, path) for path in by_path}
    let_through = 0
    for entry in entries:
        path = "/" + entry["request"]["url"].split("?")[0].split("/", 3)[-1]
        status = entry["response"]["status"]
        if path not in by_path or entry["request"]["method"] != "POST" \
                or status not in (415, 422):
            continue
        _media, body = request_body(entry)
        if body is None or not validators[path].is_valid(body):
            continue  # a schema-invalid body: refusing it is right
        answer = json.loads(entry["response"]["content"].get("text") or "{}")
        allowed = IMAGE_CONTENT if kinds[by_path[path]] == "image" else TABULAR_CONTENT
        assert answer["error"]["code"] in allowed, (path, status, answer, body)
        let_through += 1
    print(f"schemathesis: {len(entries)} requests; {let_through} schema-valid bodies refused "
          "for their content (not an image, or a non-finite model output)")
