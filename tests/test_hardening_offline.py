"""Issue 10's reproductions through the real CLI: serverless-offline for the HTTP ones,
`sls invoke local` for those only an event can carry (maps of the wrong JSON type,
hand-written events, unpaired surrogates)."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from featherserve.support.processes import (
    NODE_BIN,
    free_port,
    last_json_document,
    run_cli,
    running,
    tool_env,
    wait_for_port,
)
from tests.support.contract import INTERNAL_DETAIL
from tests.support.reproductions import TABULAR, Reproduction, reproductions

pytestmark = pytest.mark.e2e
SLS = str(NODE_BIN / "sls")
REPRODUCTIONS = {r.name: r for r in reproductions()}


@pytest.fixture(scope="module")
def offline(tmp_path_factory) -> Iterator[int]:
    port = free_port()
    log = tmp_path_factory.mktemp("offline-hardening") / "offline.log"
    command = [SLS, "offline", "start", "--stage", "e2e", "--host", "127.0.0.1",
               "--httpPort", str(port), "--lambdaPort", str(free_port())]
    with running(command, env=tool_env(), log_path=log) as process:
        wait_for_port(port, process, log)
        yield port


def send(port: int, r: Reproduction) -> tuple[int, dict[str, str], bytes]:
    """Exactly ``r``'s bytes and headers (no Content-Type of the client's own); a joined
    Content-Type goes out as repeated header lines."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.putrequest(r.method, r.path, skip_accept_encoding=True)
        for name, value in r.headers.items():
            for part in value.split(",") if name == "Content-Type" else [value]:
                connection.putheader(name, part.strip())  # repeated, as a client repeats it
        if r.body:
            connection.putheader("Content-Length", str(len(r.body)))
        connection.endheaders(r.body or None)
        answer = connection.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        connection.close()


@pytest.mark.parametrize("name", sorted(REPRODUCTIONS))
def test_each_reproduction_through_serverless_offline(offline, name):
    r = REPRODUCTIONS[name]
    expect = r.offline or r.expect
    status, headers, body = send(offline, r)
    assert status == expect.status, body[:500]
    assert not INTERNAL_DETAIL.search(body.decode("utf-8", "replace")), body[:500]
    if r.method == "HEAD":
        assert body == b"" and headers["x-model-version"]
        return
    payload = json.loads(body)
    if expect.code:
        assert set(payload) == {"error"} and payload["error"]["code"] == expect.code
        assert expect.message_has in payload["error"]["message"]
        assert payload["error"]["request_id"]
    if expect.labels:
        assert [p["label"] for p in payload["predictions"]] == list(expect.labels)


def test_the_preflight_through_serverless_offline_allows_the_stages_origin(offline):
    preflight = Reproduction("preflight", "OPTIONS", f"/models/{TABULAR}/predict", headers={
        "Origin": "http://localhost:8000", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-api-key"})
    status, headers, _ = send(offline, preflight)
    assert status in (200, 204)
    assert headers["access-control-allow-origin"] == "http://localhost:8000"


def invoke_local(event: Any, tmp_path: Path, function: str = TABULAR) -> dict[str, Any]:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))  # json escapes an unpaired surrogate as \udXXX
    result = run_cli([SLS, "invoke", "local", "-f", function, "--path", str(path)],
                     env=tool_env())
    response = last_json_document(result.stdout)
    assert isinstance(response, dict) and "statusCode" in response, result.stdout[-2000:]
    return response


PREDICT = f"/models/{TABULAR}/predict"
EVENTS = {
    "minimal GET": ({"httpMethod": "GET", "path": f"/models/{TABULAR}"}, 200, None),
    "object body": ({"httpMethod": "POST", "path": PREDICT,
                     "body": json.loads(Path("examples/breast_cancer.json").read_text())},
                    200, None),
    "headers as a string": ({"httpMethod": "POST", "path": PREDICT, "headers": "x",
                             "requestContext": {}}, 400, "invalid_event"),
    "requestContext as a list": ({"httpMethod": "GET", "path": f"/models/{TABULAR}",
                                  "requestContext": [1]}, 400, "invalid_event"),
    "queryStringParameters as a number": ({"httpMethod": "GET", "path": f"/models/{TABULAR}",
                                           "queryStringParameters": 5}, 400, "invalid_event"),
    "unpaired surrogate in the body": ({"httpMethod": "POST", "path": PREDICT,
                                        "headers": {"content-type": "application/json"},
                                        "body": '{"instances": [["\ud800"]]}'},
                                       400, "malformed_json"),
}


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_event_level_reproductions_through_sls_invoke_local(tmp_path, name):
    event, status, code = EVENTS[name]
    response = invoke_local(event, tmp_path)
    assert response["statusCode"] == status, response
    body = json.loads(response["body"])
    assert not INTERNAL_DETAIL.search(response["body"])
    if code:
        assert body["error"]["code"] == code
        assert body["error"]["request_id"]  # sls invoke local's context has one
