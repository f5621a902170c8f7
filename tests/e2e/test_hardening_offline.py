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

from featherserve.support.processes import last_json_document, run_cli, tool_env
from tests.support.contract import INTERNAL_DETAIL
from tests.support.reproductions import TABULAR, Reproduction, reproductions
from tests.support.stack import SLS, sls_offline

pytestmark = pytest.mark.e2e
REPRODUCTIONS = {r.name: r for r in reproductions()}


@pytest.fixture(scope="module")
def offline(tmp_path_factory) -> Iterator[int]:
    """README's `sls offline start --stage e2e --httpPort N --lambdaPort M`."""
    log = tmp_path_factory.mktemp("offline-hardening") / "offline.log"
    with sls_offline(log, stage="e2e") as stack:
        yield stack.port


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


# ------------------------------------------- issue 17: the web routes through the real stack
@pytest.mark.parametrize("segment", ["digits%2Fpredict", "digits%2fpredict", "digits%5Cpredict",
                                     "digits%252Fpredict", "breast_cancer%255cpredict"])
def test_an_encoded_separator_does_not_reach_the_demo_proxy(offline, segment):
    """/demo/<name>%2Fpredict matches /demo/{name} (no demo throttle): refused, never proxied."""
    r = Reproduction("smuggled", "POST", f"/demo/{segment}",
                     headers={"Content-Type": "application/json"},
                     body=b'{"instances": [[0]]}')
    status, _, body = send(offline, r)
    payload = json.loads(body)
    assert status == 400, body[:300]
    assert payload["error"]["code"] == "encoded_separator" and payload["error"]["request_id"]


WRONG_METHODS = [("/", "GET, HEAD, OPTIONS"), ("/docs", "GET, HEAD, OPTIONS"),
                 ("/openapi.json", "GET, HEAD, OPTIONS"), ("/demo/digits", "GET, HEAD, OPTIONS"),
                 ("/demo/digits/predict", "OPTIONS, POST"),
                 (f"/models/{TABULAR}/predict", "OPTIONS, POST"),
                 (f"/models/{TABULAR}", "GET, HEAD, OPTIONS")]


@pytest.mark.parametrize("method", ["TRACE", "DELETE"])
@pytest.mark.parametrize(("path", "allowed"), WRONG_METHODS, ids=[p for p, _ in WRONG_METHODS])
def test_a_405_through_serverless_offline_carries_allow(offline, method, path, allowed):
    status, headers, body = send(offline, Reproduction("wrong method", method, path))
    assert status == 405, body[:300]
    assert json.loads(body)["error"]["code"] == "method_not_allowed"
    listed = sorted(m.strip() for m in headers["allow"].split(","))
    assert listed == sorted(allowed.split(", "))
