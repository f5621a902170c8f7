"""The same answer everywhere (issue 16, part 4): one imported scikit-learn pipeline with text
categories and missing values, and one RGB photo model, give the same label for the same
input through every way the kit serves them.

In a throwaway copy of the project (``snapshot_project``) the test trains the scikit-learn
docs' mixed-type pipeline (ColumnTransformer: most-frequent imputer + one-hot encoder with
``handle_unknown="ignore"`` on the text, median imputer + StandardScaler on the numbers,
LogisticRegression) on a generated table and saves it with joblib; ``featherserve import``
brings it in, ``featherserve train image --color rgb`` trains a photo model on a generated
folder; both write their handlers and generated entries, ``featherserve layers`` builds the
copy's layers. Then, for rows with categories the model never saw, a category the CSV
spells with a space (" south"), and missing values in several columns, and for photos of
several sizes, aspect ratios, formats, modes and EXIF orientations, the label must be the
same through:

- the handler in process (the reference; for the table, also the original scikit-learn
  model's own ``predict``),
- ``sls invoke local``,
- serverless-offline, started as the README says (tests/support/stack.py),
- ``featherserve predict`` (the real CLI, on a CSV with an id column and on a folder),
- the packaged artifact: what ``sls package`` wrote, run by the Lambda-fidelity runner
  (featherserve/fidelity: CPython 3.12 + awslambdaric on the unpacked zips),
- the browser demo: onnxruntime-web in headless Chromium on the demo page (the page's own
  form and upload; its server half goes through the demo proxy, a sixth path).
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageDraw
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from featherserve.support.events import load_event, with_body
from featherserve.support.processes import VENV, last_json_document, run_cli
from model_runtime import Settings, serve_model
from tests.support.browser import VIEWPORT, chromium, watch_problems
from tests.support.deploy import FEATHERSERVE, project_cli, project_env, snapshot_project
from tests.support.images import COLOURS, colour_photo, encode, in_mode, with_orientation
from tests.support.import_cases import NUMBERS, TEXTS, mixed_table, user_frame
from tests.support.import_cases_sklearn import docs_preprocessor
from tests.support.stack import SLS, Stack, post, sls_offline

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
TABLE, PHOTOS = "mixed_rows", "rgb_photos"
ROWS, TRAINED = 300, 200
# Categories the model never saw in training; the data file holds them (so the card lists
# them), and the one-hot encoder ignores them (handle_unknown="ignore").
UNSEEN = {"colour": "violet", "region": "atlantis", "grade": "Z"}
FEATURES = (*NUMBERS, *TEXTS)
SPACED = " south"
JSON_HEADERS = {"Content-Type": "application/json"}
TRAIN_SIZES = [(40, 30), (24, 48), (64, 64), (50, 20), (33, 47), (80, 60), (20, 20),
               (45, 90), (120, 40), (16, 64)]
# Shared machine: generous limits, never a timing assertion.
INIT_LIMIT = "60"


# ------------------------------------------------------------------------------ the inputs
# (file name, colour, size, how it is written): several sizes (a thumbnail to a panorama),
# aspect ratios (1:10 to 10:1; 49x64 and 97x300 crashed the centre crop once) and formats.
PHOTO_CASES: list[tuple[str, str, tuple[int, int], str]] = [
    ("square.png", "red", (64, 64), "png"),
    ("wide.jpg", "blue", (300, 120), "jpeg"),
    ("tall.webp", "green", (37, 91), "webp-lossless"),
    ("odd.bmp", "red", (49, 64), "bmp"),
    ("portrait.gif", "blue", (97, 300), "gif"),
    ("panorama.png", "green", (400, 40), "png-palette"),
    ("thumb.png", "blue", (9, 12), "png"),
    ("phone.jpeg", "green", (240, 320), "jpeg-progressive"),
    ("banner.webp", "red", (160, 16), "webp"),
    # Stored sideways with the EXIF tag that turns it upright (a phone's photo), in a JPEG
    # and in a PNG (an eXIf chunk: decoded bit for bit by both, so probabilities compare).
    ("sideways.jpg", "red", (90, 160), "jpeg-exif-6"),
    ("sideways.png", "green", (120, 50), "png-exif-8"),
    ("cutout.png", "blue", (70, 70), "png-transparent-corner"),
    ("faded.png", "red", (60, 45), "png-half-transparent"),
    ("print.jpg", "green", (80, 120), "jpeg-cmyk"),
]

BIT_EXACT = {"png", "png-palette", "webp-lossless", "bmp", "gif", "png-exif-8",
             "png-transparent-corner"}


def write_photo(image: Image.Image, how: str) -> bytes:
    writers = {
        "png": lambda: encode(image, "PNG"),
        "png-palette": lambda: encode(in_mode(image, "P"), "PNG"),
        "jpeg": lambda: encode(image, "JPEG", quality=92),
        "jpeg-progressive": lambda: encode(image, "JPEG", quality=90, progressive=True),
        "webp": lambda: encode(image, "WEBP", quality=85),
        "webp-lossless": lambda: encode(image, "WEBP", lossless=True),
        "bmp": lambda: encode(image, "BMP"),
        "gif": lambda: encode(image, "GIF"),
        "jpeg-exif-6": lambda: with_orientation(image.transpose(Image.Transpose.ROTATE_90),
                                                "JPEG", 6, quality=92),
        "png-exif-8": lambda: with_orientation(image.transpose(Image.Transpose.ROTATE_270),
                                               "PNG", 8),
        "png-transparent-corner": lambda: encode(_with_alpha(image, 0), "PNG"),
        "png-half-transparent": lambda: encode(_with_alpha(image, 128), "PNG"),
        "jpeg-cmyk": lambda: encode(in_mode(image, "CMYK"), "JPEG", quality=92),
    }
    return writers[how]()


def _with_alpha(image: Image.Image, alpha: int) -> Image.Image:
    """RGBA with its top-left fifth at ``alpha`` (0: cut out; else half transparent)."""
    rgba = image.convert("RGBA")
    mask = Image.new("L", image.size, 255)
    ImageDraw.Draw(mask).rectangle((0, 0, image.width // 5, image.height // 5), fill=alpha)
    rgba.putalpha(mask)
    return rgba


def data_file_rows(raw: pd.DataFrame) -> pd.DataFrame:
    """The rows the import checks parity on (and the card's categories come from): held-out
    rows, each unseen category, and a missing value in every feature column."""
    held = raw.iloc[TRAINED:].reset_index(drop=True).copy()
    for i, (column, value) in enumerate(UNSEEN.items()):
        held.loc[i, column] = value
    for i, column in enumerate(FEATURES):
        held.loc[10 + i, column] = None if column in TEXTS else np.nan
    return held


def scored_rows(raw: pd.DataFrame, seed: int = 16) -> list[dict[str, Any]]:
    """Rows to score as a client sends them (``null`` where missing): unseen categories and
    missing values in several columns at once, every feature missing in one row."""
    rng = np.random.default_rng(seed)
    held = raw.iloc[TRAINED + 30:TRAINED + 54].reset_index(drop=True)
    rows: list[dict[str, Any]] = []
    for i, record in enumerate(held.drop(columns="label").to_dict("records")):
        row = {k: (None if _missing(v) else (float(v) if k in NUMBERS else str(v)))
               for k, v in record.items()}
        unseen = [] if i % 2 else list(UNSEEN) if i % 4 == 0 else [TEXTS[i % 3]]
        row.update({c: UNSEEN[c] for c in unseen})  # an unseen category in one or all
        if i % 4 == 1:
            row["region"] = SPACED
        others = [f for f in FEATURES if f not in unseen and row[f] != SPACED]
        for column in rng.choice(others, size=int(rng.integers(2, 5)), replace=False):
            row[str(column)] = None
        rows.append(row)
    rows.append(dict.fromkeys(FEATURES))  # everything missing: the imputers fill it all
    return rows


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _cell(value: Any) -> str:
    return "" if value is None else repr(value) if isinstance(value, float) else str(value)


# ------------------------------------------------------------------------------- the copy
@dataclass(frozen=True)
class Project:
    root: Path
    env: dict[str, str]
    rows: list[dict[str, Any]]       # the table inputs
    row_labels: list[str]            # the original scikit-learn model's labels for them
    photos: dict[str, bytes]         # file name → bytes
    photo_dir: Path                  # the same photos as files


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    base = tmp_path_factory.mktemp("same-answer")
    root = snapshot_project(base / "project")
    env = project_env(root)

    # The scikit-learn docs' pipeline, trained on the table as read_csv gives it back.
    raw, target = mixed_table("classification", ROWS, seed=16)
    # A category written with a space around it, as some CSV exports do (UCI adult: " Male").
    raw["region"] = raw["region"].replace({"south": SPACED})
    trained = user_frame(raw.iloc[:TRAINED].reset_index(drop=True), "default")
    model = Pipeline([("preprocessor", docs_preprocessor()),
                      ("model", LogisticRegression(max_iter=1000))])
    model.fit(trained.drop(columns=target), trained[target])
    assert not set(UNSEEN.values()) & {str(v) for c in TEXTS for v in trained[c].unique()}
    joblib.dump(model, base / "pipeline.joblib")
    data_file_rows(raw).to_csv(base / "rows.csv", index=False)
    project_cli(root, "import", TABLE, str(base / "pipeline.joblib"), "--data",
                str(base / "rows.csv"), "--target", target, env=env, timeout=600)

    rng = np.random.default_rng(16)
    folder = base / "photo-folder"
    for label, colour in COLOURS.items():
        (folder / label).mkdir(parents=True)
        for i, size in enumerate(TRAIN_SIZES):
            image = colour_photo(colour, size, rng)
            (folder / label / f"{i}.png").write_bytes(encode(image, "PNG"))
    project_cli(root, "train", "image", PHOTOS, "--folder", str(folder), "--color", "rgb",
                "--size", "16", "--seed", "0", env=env, timeout=600)
    project_cli(root, "layers", env=env, timeout=900)

    rows = scored_rows(raw)
    frame = _read_back(rows)
    row_labels = [str(v) for v in model.predict(frame)]
    photo_dir = base / "photos"
    photo_dir.mkdir()
    photos = {}
    for name, label, size, how in PHOTO_CASES:
        photos[name] = write_photo(colour_photo(COLOURS[label], size, rng), how)
        (photo_dir / name).write_bytes(photos[name])
    return Project(root, env, rows, row_labels, photos, photo_dir)


def _read_back(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The rows as the user's pandas reads them from a CSV (how the model was trained)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(FEATURES)
    writer.writerows([[_cell(row[f]) for f in FEATURES] for row in rows])
    buffer.seek(0)
    return pd.read_csv(buffer)


def table_body(project: Project) -> str:
    return json.dumps({"instances": project.rows})


def photo_body(project: Project) -> str:
    return json.dumps({"instances": [{"b64": base64.b64encode(data).decode()}
                                     for data in project.photos.values()]})


def labels_of(body: dict[str, Any]) -> list[str]:
    assert all("error" not in p for p in body["predictions"]), body
    return [p["label"] for p in body["predictions"]]


def write_events(project: Project, folder: Path) -> dict[str, Path]:
    """Each model's request as an API Gateway HTTP API (v2) and REST (v1) event."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, shipped, body in ((TABLE, "breast_cancer", table_body(project)),
                                (PHOTOS, "digits", photo_body(project))):
        for fmt in ("v1", "v2"):
            event = json.loads(json.dumps(load_event(f"{shipped}_predict_{fmt}"))
                               .replace(shipped, name))
            path = folder / f"{name}_predict_{fmt}.json"
            path.write_text(json.dumps(with_body(event, body,
                                                 content_type="application/json")))
            written[f"{name}_{fmt}"] = path
    return written


# ---------------------------------------------------------------------- the reference
@pytest.fixture(scope="module")
def reference(project: Project) -> dict[str, list[str]]:
    """The handler in process, on the copy's store; the table's equal the original model's."""
    answers = {}
    for name, body in ((TABLE, table_body(project)), (PHOTOS, photo_body(project))):
        handler = serve_model(name, settings=Settings(model_source=str(project.root / "models")))
        event = with_body(json.loads(json.dumps(load_event("digits_predict_v2"))
                                     .replace("digits", name)), body,
                          content_type="application/json")
        response = handler(event, None)
        assert response["statusCode"] == 200, response["body"]
        answers[name] = labels_of(json.loads(response["body"]))
    return answers


def test_the_inputs_cover_unseen_categories_and_missing_values(project):
    rows = project.rows
    assert sum(any(row[c] == v for c, v in UNSEEN.items()) for row in rows) >= 5
    assert all(sum(row[f] is None for f in FEATURES) >= 2 for row in rows)
    assert {f for row in rows for f in FEATURES if row[f] is None} == set(FEATURES)
    assert sum(row["region"] == SPACED for row in rows) >= 5
    sizes = {size for _, _, size, _ in PHOTO_CASES}
    assert min(w / h for w, h in sizes) <= 0.35 and max(w / h for w, h in sizes) >= 9
    assert len({how.split("-")[0] for *_, how in PHOTO_CASES}) >= 5


def test_the_served_pipeline_answers_as_the_original_model(project, reference):
    assert reference[TABLE] == project.row_labels
    assert len(set(project.row_labels)) >= 2, project.row_labels  # not one constant answer


def test_the_photo_model_sees_the_colours(project, reference):
    expected = [colour for _, colour, _, _ in PHOTO_CASES]
    right = sum(a == b for a, b in zip(reference[PHOTOS], expected, strict=True))
    assert right >= len(expected) - 1, (reference[PHOTOS], expected)


# --------------------------------------------------------------------------- the paths
def test_sls_invoke_local(project, reference, tmp_path):
    events = write_events(project, tmp_path)
    for name in (TABLE, PHOTOS):
        result = run_cli([SLS, "invoke", "local", "-f", name, "--path",
                          str(events[f"{name}_v2"])], env=project.env, cwd=project.root,
                         timeout=180)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        response = last_json_document(result.stdout)
        assert response["statusCode"] == 200, response
        assert labels_of(json.loads(response["body"])) == reference[name], name


@pytest.fixture(scope="module")
def stack(project: Project, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """README's `sls offline start` (on free ports) in the copy, once for the module."""
    log = tmp_path_factory.mktemp("offline") / "offline.log"
    with sls_offline(log, cwd=project.root, env=project.env) as started:
        yield started
    assert started.process.poll() is not None  # stopped with its process group


def test_serverless_offline(project, reference, stack):
    for name, body in ((TABLE, table_body(project)), (PHOTOS, photo_body(project))):
        status, answer = post(f"{stack.url}/models/{name}/predict", body.encode(), JSON_HEADERS,
                              timeout=120)
        assert status == 200, (status, answer, stack.log.read_text()[-3000:])
        assert labels_of(answer) == reference[name], name


def test_featherserve_predict(project, reference, tmp_path):
    """The real CLI: a CSV with an id column (missing cells empty), and a photo folder."""
    table = tmp_path / "rows.csv"
    with table.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["id", *FEATURES])
        for i, row in enumerate(project.rows):
            writer.writerow([f"row-{i}", *(_cell(row[f]) for f in FEATURES)])
    project_cli(project.root, "predict", TABLE, "--input", str(table), "--output",
                str(tmp_path / "rows.jsonl"), env=project.env)
    lines = [json.loads(line) for line in (tmp_path / "rows.jsonl").read_text().splitlines()]
    by_id = {line["keep"]["id"]: line["prediction"]["label"] for line in lines}
    assert [by_id[f"row-{i}"] for i in range(len(project.rows))] == reference[TABLE]

    project_cli(project.root, "predict", PHOTOS, "--input", str(project.photo_dir),
                "--output", str(tmp_path / "photos.jsonl"), env=project.env)
    lines = [json.loads(line) for line in (tmp_path / "photos.jsonl").read_text().splitlines()]
    by_file = {line["file"]: line["prediction"]["label"] for line in lines}
    assert [by_file[name] for name in project.photos] == reference[PHOTOS]


# The fidelity runner's API, run in the copy as `featherserve verify` runs it, for the two
# functions only, printing each packaged answer (the CLI's report says only "answered 200").
PACKAGED_RUN = """
import dataclasses, json, sys
from pathlib import Path
from featherserve.fidelity.command import DEFAULT_CACHE
from featherserve.fidelity.package import load_package
from featherserve.fidelity.runner_setup import runner_setup
from featherserve.fidelity.verify import verify_service

package, events, workdir, names, limit = sys.argv[1:6]
service = load_package(Path(package))
service = dataclasses.replace(service, functions=tuple(
    f for f in service.functions if f.name in names.split(",")))
setup = runner_setup(Path(workdir), events_dir=Path(events), cache_dir=DEFAULT_CACHE,
                     init_limit=float(limit))
print(json.dumps([{"function": r.function.name, "problems": r.problems, "events": [
    {"event": c.event, "ok": c.ok, "payload": c.packaged.payload} for c in r.events]}
    for r in verify_service(service, setup)]))
"""


def test_the_packaged_artifact(project, reference, tmp_path):
    package = run_cli([SLS, "package", "--stage", "dev", "--region", "us-east-1"],
                      env=project.env, cwd=project.root, timeout=300)
    assert package.returncode == 0, package.stdout + package.stderr
    events = tmp_path / "events"
    write_events(project, events)
    result = run_cli([str(VENV / "bin" / "python"), "-c", PACKAGED_RUN,
                      str(project.root / ".serverless"), str(events), str(tmp_path / "work"),
                      f"{TABLE},{PHOTOS}", INIT_LIMIT], env=project.env, cwd=project.root,
                     timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    reports = {r["function"]: r for r in json.loads(result.stdout)}
    assert set(reports) == {TABLE, PHOTOS}
    for name, report in reports.items():
        assert report["problems"] == [], report["problems"]
        assert {e["event"] for e in report["events"]} == {f"{name}_predict_v1",
                                                          f"{name}_predict_v2"}
        for event in report["events"]:
            # ok: the packaged answer equals the same handler's in process.
            assert event["ok"] and event["payload"]["statusCode"] == 200, event
            assert labels_of(json.loads(event["payload"]["body"])) == reference[name], event


# ---------------------------------------------------------------------------- the browser
@pytest.fixture(scope="module")
def page(stack: Stack) -> Iterator[Any]:
    with chromium() as browser:
        opened = browser.new_context(viewport=VIEWPORT).new_page()
        problems = watch_problems(opened)
        yield opened
    assert problems == [], problems


def demo_answer(page: Any, act: Any) -> dict[str, Any]:
    """Clear the page's last answer, ``act`` (submit or upload), wait for both halves."""
    page.evaluate("() => { window.featherserveDemo.last = null; }")
    act()
    page.wait_for_function("() => window.featherserveDemo.last"
                           " && window.featherserveDemo.last.done", timeout=60_000)
    answer: dict[str, Any] = page.evaluate("() => window.featherserveDemo.last")
    assert answer.get("serverError") is None and answer.get("browserError") is None, answer
    return answer


def test_the_browser_demo_runs_the_pipeline_on_the_form(project, reference, stack, page):
    page.goto(f"{stack.url}/demo/{TABLE}")
    page.wait_for_selector("#demo[data-ready=true]")
    names = page.locator("#features label").all_inner_texts()
    assert names == list(FEATURES)
    server, browser, largest = [], [], 0.0
    for row in project.rows:
        for index, feature in enumerate(FEATURES):
            value = row[feature]
            if feature in TEXTS:
                page.select_option(f"#f{index}", "" if value is None else value)
            else:
                page.fill(f"#f{index}", _cell(value))
        answer = demo_answer(page, lambda: page.click("#features button[type=submit]"))
        server.append(answer["server"]["label"])
        browser.append(answer.get("browserLabel"))
        largest = max(largest, answer["largest"])
    print(f"table in the browser: largest probability difference {largest:.3g}")
    assert server == reference[TABLE]
    assert browser == reference[TABLE]
    assert largest <= 1e-4


def test_the_browser_demo_runs_the_photo_model_on_uploads(project, reference, stack, page):
    page.goto(f"{stack.url}/demo/{PHOTOS}")
    page.wait_for_selector("#demo[data-ready=true]")
    server, browser, exact = [], [], []
    for name in project.photos:
        answer = demo_answer(page, lambda n=name: page.set_input_files(
            "#file", str(project.photo_dir / n)))
        server.append(answer["server"]["label"])
        browser.append(answer.get("browserLabel"))
        exact.append(answer["exactInput"])
        if answer["exactInput"]:  # the same tensor, bit for bit: the same probabilities
            assert answer["largest"] <= 1e-4, (name, answer)
    print(f"photos in the browser: exact input for {sum(exact)}/{len(exact)}")
    assert server == reference[PHOTOS]
    assert browser == reference[PHOTOS]
    # The page feeds the model the server's tensor bit for bit for lossless 8-bit files
    # without partial transparency (README "In the browser too"), EXIF-rotated ones included.
    assert [n for n, e in zip(project.photos, exact, strict=True) if e] == [
        name for name, *_, how in PHOTO_CASES if how in BIT_EXACT]


# ------------------------------------------- a category that neither table nor file had
def test_a_category_no_table_had_is_refused_alike(project, stack, page, tmp_path):
    """The model's card lists the categories of the data file it was imported with; a value
    outside them is the contract's 422 ``unknown_category`` on every path that can send it,
    and the demo's form offers only the card's values (and "(missing)")."""
    row = {**project.rows[1], "colour": "mauve"}
    body = json.dumps({"instances": [row]})
    handler = serve_model(TABLE, settings=Settings(model_source=str(project.root / "models")))
    event = with_body(json.loads(json.dumps(load_event("digits_predict_v2"))
                                 .replace("digits", TABLE)), body,
                      content_type="application/json")
    response = handler(event, None)
    in_process = (response["statusCode"], json.loads(response["body"])["error"]["code"])
    status, answer = post(f"{stack.url}/models/{TABLE}/predict", body.encode(), JSON_HEADERS,
                          timeout=120)
    assert in_process == (status, answer["error"]["code"]) == (422, "unknown_category"), answer
    assert "'mauve'" in answer["error"]["message"]

    table = tmp_path / "rows.csv"
    table.write_text("id," + ",".join(FEATURES) + "\n"
                     + "x," + ",".join(_cell(row[f]) for f in FEATURES) + "\n")
    result = run_cli([FEATHERSERVE, "predict", TABLE, "--input", str(table), "--output",
                      str(tmp_path / "rows.jsonl")], env=project.env, cwd=project.root)
    (line,) = [json.loads(x) for x in (tmp_path / "rows.jsonl").read_text().splitlines()]
    assert line["keep"] == {"id": "x"} and line["error"]["code"] == "unknown_category", (
        line, result.stderr)

    page.goto(f"{stack.url}/demo/{TABLE}")
    page.wait_for_selector("#demo[data-ready=true]")
    offered = page.locator(f"#f{FEATURES.index('colour')} option").evaluate_all(
        "options => options.map(o => o.value)")
    assert offered == ["", *sorted({"amber", "blue", "green", "red", UNSEEN["colour"]})]


# --------------------------------------------- how the kit reads a data file's spelling
def test_a_data_file_is_read_as_spelled_numbers_with_spaces_as_numbers(tmp_path):
    """`featherserve import`/`train` read categories as the file spells them (as pandas gives
    them to the user's own model, and as `featherserve predict` reads the rows), numbers
    written "1, 2.5" style as numbers, a blank cell as missing."""
    from training.tabular.table import read_table

    lines = ["size, colour, count, label"]
    lines += [f"{1.5 + i}, {' Male' if i % 2 else 'Female'}, {'  ' if i == 3 else i}, "
              f"{'yes' if i % 3 else 'no'}" for i in range(12)]
    (tmp_path / "spaced.csv").write_text("\n".join(lines) + "\n")
    table = read_table(tmp_path / "spaced.csv", "label")
    assert table.numbers == ("size", "count") and table.categories == ("colour",)
    assert set(table.frame["colour"]) == {"  Male", " Female"}
    assert table.frame["count"].isna().sum() == 1 and table.frame["size"][0] == 1.5
    assert {str(v).strip() for v in table.target} == {"yes", "no"}
