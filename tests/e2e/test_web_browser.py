"""The web app in a real browser: Debian's headless Chromium driven by Playwright, against
the stack started as README.md says (`make serve`, or `sls offline start` with the options
it documents; tests/support/stack.py), with no environment of the test's own: the demo
proxy finds serverless-offline's Lambda endpoint because the README's command makes it."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from featherserve.support.processes import ROOT, free_port, tool_env
from model_store import LocalStore
from model_store.base import PROJECT_STORE
from tests.support.browser import VIEWPORT, chromium, needs_chromium, watch_problems
from tests.support.hostile_store import (
    HOSTILE_DESCRIPTION,
    HOSTILE_FEATURES,
    HOSTILE_LABELS,
    hostile_manifest,
    publish_hostile,
)
from tests.support.stack import make_serve, sls_offline

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
PARITY = 1e-4
SERVER_DOWN = "the model's function could not be reached"
pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[str]:
    """`make serve` on free ports (PORT, LAMBDA_PORT), nothing else."""
    needs_chromium()
    with make_serve(tmp_path_factory.mktemp("web") / "serve.log") as stack:
        yield stack.url


@pytest.fixture(scope="module")
def site_without_models(tmp_path_factory) -> Iterator[str]:
    """`make serve` whose model functions cannot be reached: the web function is given a
    Lambda endpoint where nothing listens (a user's FEATHERSERVE_DEMO_LAMBDA_ENDPOINT,
    docs/settings.md), so every proxied call really fails to connect."""
    needs_chromium()
    closed = f"http://127.0.0.1:{free_port()}"
    env = tool_env({"FEATHERSERVE_DEMO_LAMBDA_ENDPOINT": closed})
    with make_serve(tmp_path_factory.mktemp("web-down") / "serve.log", env=env) as stack:
        yield stack.url


@pytest.fixture(params=["served", "model function unreachable"])
def any_site(request) -> tuple[str, bool]:
    """Both stacks: (base URL, whether the model functions answer)."""
    if request.param == "served":
        return request.getfixturevalue("site"), True
    return request.getfixturevalue("site_without_models"), False


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory) -> Iterator[str]:
    """The same stack serving a store whose breast_cancer has markup for names and labels."""
    needs_chromium()
    folder = tmp_path_factory.mktemp("hostile")
    publish_hostile(folder / "store", hostile_manifest("breast_cancer"))
    with sls_offline(folder / "offline.log",
                     params=[f"modelSource={folder / 'store'}"]) as stack:
        yield stack.url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser, request, tmp_path) -> Iterator[Any]:
    context = browser.new_context(viewport=VIEWPORT)
    opened = context.new_page()
    problems = watch_problems(opened)
    opened.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    failed_before = request.session.testsfailed
    yield opened
    # The test's own report is counted before its fixtures are torn down: a failure shows.
    if request.session.testsfailed > failed_before or problems:
        shot = tmp_path / f"{request.node.name}.png"
        opened.screenshot(path=str(shot), full_page=True)
        print(f"screenshot: {shot}")
    context.close()
    # A page whose server half is down logs the failed fetch (503): that one is expected.
    assert [p for p in problems if "503" not in p] == [], problems


def last_answer(page: Any) -> dict[str, Any]:
    """The page's last prediction, once both halves (server and browser) are done."""
    page.wait_for_function("() => window.featherserveDemo && window.featherserveDemo.last"
                           " && window.featherserveDemo.last.done", timeout=60_000)
    return page.evaluate("() => window.featherserveDemo.last")


def assert_parity(answer: dict[str, Any], label: str) -> float:
    assert answer["server"]["label"] == label, answer
    assert answer["browserLabel"] == label, answer
    assert answer["largest"] <= PARITY, answer
    return float(answer["largest"])


def assert_both_answers(page: Any, answer: dict[str, Any], label: str, serving: bool) -> None:
    """Served: both columns show ``label``, equal to 1e-4. Model function unreachable: the
    browser's column still shows ``label``, and the server's a clear error."""
    assert page.locator("#browser .label").inner_text() == label
    assert answer["browserLabel"] == label, answer
    if serving:
        assert_parity(answer, label)
        assert page.locator("#server .label").inner_text() == label
        assert page.locator("#error").is_hidden()
        return
    assert answer["server"] is None and SERVER_DOWN in answer["serverError"], answer
    assert page.locator("#server .label").inner_text() == "unavailable"
    assert SERVER_DOWN in page.locator("#error").inner_text()
    assert "running onnxruntime-web" not in page.locator("#browser").inner_text()


def checked_answer(page: Any, label: str, serving: bool, what: str) -> dict[str, Any]:
    """The page's last prediction, both columns checked (assert_both_answers); served, its
    largest probability difference is printed."""
    answer = last_answer(page)
    assert_both_answers(page, answer, label, serving)
    if serving:
        print(f"{what}: largest probability difference {answer['largest']:.3g}")
    return answer


def test_catalog_lists_every_model(site, page):
    page.goto(site + "/")
    shown = page.locator("article.model").evaluate_all("els => els.map(e => e.dataset.model)")
    assert sorted(shown) == LocalStore(PROJECT_STORE).names()
    assert "accuracy" in page.locator("article.model").first.inner_text()


def test_digits_demo_reads_an_uploaded_png_as_seven(any_site, page, tmp_path):
    url, serving = any_site
    page.goto(url + "/demo/digits")
    page.set_input_files("#file", str(ROOT / "examples" / "digits.png"))
    answer = checked_answer(page, "7", serving, "digits upload")
    assert answer["exactInput"] is True
    if serving:
        assert "round trip" in page.locator("#server .timing").inner_text()
    # docs/web-app.md's picture (docs/web-demo.png) is made by hand; a test writes to tmp only.
    page.screenshot(path=str(tmp_path / "web-demo.png"), full_page=True,
                    animations="disabled", mask=[page.locator(".answer .timing")],
                    mask_color="#ffffff")


def draw_seven(page: Any) -> None:
    box = page.locator("#pad").bounding_box()
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x + 0.25 * w, y + 0.2 * h)
    page.mouse.down()
    for fx, fy in ((0.75, 0.2), (0.6, 0.5), (0.45, 0.85)):
        page.mouse.move(x + fx * w, y + fy * h, steps=12)
    page.mouse.up()


def test_digits_demo_reads_a_drawn_seven(any_site, page):
    url, serving = any_site
    page.goto(url + "/demo/digits")
    draw_seven(page)
    page.click("#predict-drawing")
    checked_answer(page, "7", serving, "drawn digit")


def test_tabular_demo_submits_its_prefilled_row(any_site, page):
    url, serving = any_site
    page.goto(url + "/demo/breast_cancer")
    assert page.locator("#f0").input_value() == "17.99"  # examples/breast_cancer.json row 0
    page.click("#features button[type=submit]")
    checked_answer(page, "malignant", serving, "tabular row")


def test_phone_viewport(site, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True, device_scale_factor=2)
    phone = context.new_page()
    try:
        for path in ("/", "/demo/digits", "/demo/breast_cancer", "/docs"):
            phone.goto(site + path)
            overflow = phone.evaluate("() => document.documentElement.scrollWidth - innerWidth")
            assert overflow <= 0, (path, overflow)
        phone.goto(site + "/demo/digits")
        phone.set_input_files("#file", str(ROOT / "examples" / "digits.png"))
        assert_parity(last_answer(phone), "7")
    finally:
        context.close()


def test_api_docs_page_renders_the_openapi(site, page):
    page.goto(site + "/docs")
    page.wait_for_selector("#docs[data-ready=true]")
    text = page.locator("#spec").inner_text()
    assert "/models/digits/predict" in text and "/models/breast_cancer" in text


def test_browser_preprocessing_matches_the_server_bit_for_bit(site, page):
    """The page's port of prepare_image against the Python one, on the rendered digits."""
    from model_store.manifest import Manifest
    from preprocessing.imaging import image_bytes_to_array

    manifest = Manifest.from_json((PROJECT_STORE / "digits/1/manifest.json").read_text())
    files = sorted((ROOT / "tests/images/rendered_digits").glob("*.png"))[::3]
    page.goto(site + "/demo/digits")
    page.wait_for_selector("#demo[data-ready=true]")
    worst = 0.0
    for path in files:
        data = path.read_bytes()
        expected = image_bytes_to_array(data, manifest.input)
        got = page.evaluate("""async ([b64, spec]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const blob = new Blob([bytes], { type: "image/png" });
            const bitmap = await createImageBitmap(blob, { colorSpaceConversion: "none",
                premultiplyAlpha: "none" });
            const canvas = document.createElement("canvas");
            canvas.width = bitmap.width; canvas.height = bitmap.height;
            const context = canvas.getContext("2d");
            context.drawImage(bitmap, 0, 0);
            const rgba = context.getImageData(0, 0, canvas.width, canvas.height).data;
            const p = window.featherserveDemo.prepare;
            const { image, exact } = p.flattenToMode(rgba, canvas.width, canvas.height, spec,
                                                     p.sniffImage(bytes));
            return { exact, tensor: Array.from(p.prepareImage(image, spec)) };
        }""", [base64.b64encode(data).decode(), json.loads(json.dumps(
            manifest.to_dict()["input"]))])
        assert got["exact"] is True
        diff = float(np.abs(np.asarray(got["tensor"], np.float32) - expected.ravel()).max())
        worst = max(worst, diff)
    assert worst == 0.0, worst


def assert_nothing_ran(page: Any) -> None:
    assert page.evaluate("() => window.pwned") is None
    assert page.locator("img[src='x'], svg, b[onclick]").count() == 0


def test_markup_in_a_manifest_is_shown_as_text_and_never_runs(hostile_site, page):
    page.goto(hostile_site + "/")
    assert page.locator("article.model .description").inner_text() == HOSTILE_DESCRIPTION
    assert_nothing_ran(page)
    page.goto(hostile_site + "/demo/breast_cancer")
    page.wait_for_selector("#demo[data-ready=true]")
    assert page.locator("#features label").all_inner_texts() == list(HOSTILE_FEATURES)
    for index, value in enumerate(("0.5", "-1", "2")):
        page.fill(f"#f{index}", value)
    page.click("#features button[type=submit]")
    answer = last_answer(page)
    label = answer["server"]["label"]
    assert label in HOSTILE_LABELS
    assert_parity(answer, label)
    assert page.locator("#server .label").inner_text() == label
    assert page.locator("#browser .label").inner_text() == label
    bars = page.locator("#server .bars").inner_text()
    assert all(shown in bars for shown in HOSTILE_LABELS)
    assert_nothing_ran(page)
    page.goto(hostile_site + "/docs")
    page.wait_for_selector("#docs[data-ready=true]")
    spec = page.locator("#spec").text_content()  # collapsed sections too
    assert HOSTILE_DESCRIPTION in spec and HOSTILE_FEATURES[2] in spec  # JSON-quoted others
    assert_nothing_ran(page)
