"""A photo folder as people have it: trained with the real CLI, served by the real handler.

The folder (generated here) has three labels told apart by their dominant colour, in every
format a camera, phone, scanner or web page leaves behind: JPEG (baseline, progressive,
CMYK, EXIF-rotated), PNG (RGB, palette, alpha, 16-bit), WebP, GIF, BMP and TIFF, from a
few pixels to a megapixel at aspect ratios up to 1:10, upper-case extensions, a nested
folder, hidden files, a zip's ``__MACOSX``, one truncated JPEG and one text file.
``featherserve train image`` must read it, warn about the two bad files by name, train,
publish to a temporary store; ``serve_model`` then answers new photos of every served
format without an error row.
Folders that cannot make a classifier are refused with the numbers.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw

from featherserve import train_cli
from featherserve.cli import main as featherserve
from featherserve.support.events import load_event, response_json, with_body
from model_runtime import Settings, serve_model
from model_store.local import LocalStore
from tests.support.images import (
    COLOURS,
    colour_photo,
    encode,
    in_mode,
    png_16bit_rgb,
    with_orientation,
)
from training.image.folder import MIN_IMAGES_PER_CLASS, read_image_folder

NAME = "messy_photos"
# (width, height): thumbnails of a few pixels, phone and panorama shapes, up to a megapixel.
SIZES = [(5, 4), (64, 64), (640, 480), (48, 300), (1200, 800), (31, 9), (200, 200),
         (90, 160), (12, 12), (400, 40), (333, 251), (17, 170), (100, 75), (240, 320),
         (1000, 1000)]
PER_CLASS = len(SIZES)


def photo(colour: tuple[int, int, int], size: tuple[int, int],
          rng: np.random.Generator) -> Image.Image:
    """A messier folder's photo: wider lighting and grey, a larger object."""
    return colour_photo(colour, size, rng, light=(0.75, 1.15), grey=(60, 200), spot=0.35)


def save_as(image: Image.Image, index: int, folder: Path) -> Path:
    """The index-th of the ways a photo ends up on disk."""
    writers: list[tuple[str, Any]] = [
        ("PNG", lambda: encode(image, "PNG")),
        ("JPG", lambda: encode(image, "JPEG", quality=90)),
        ("png", lambda: encode(in_mode(image, "P"), "PNG")),
        ("jpeg", lambda: encode(image, "JPEG", quality=85, progressive=True)),
        ("webp", lambda: encode(image, "WEBP", quality=80)),
        ("gif", lambda: encode(image, "GIF")),
        ("BMP", lambda: encode(image, "BMP")),
        ("tif", lambda: encode(image, "TIFF", compression="tiff_lzw")),
        ("jpg", lambda: encode(in_mode(image, "CMYK"), "JPEG", quality=90)),
        ("png", lambda: _with_transparent_corner(image)),
        ("PNG", lambda: png_16bit_rgb(image)),
        # Stored sideways as a phone does, with the EXIF tag that turns it upright.
        ("JPG", lambda: with_orientation(image.transpose(Image.Transpose.ROTATE_90), "JPEG",
                                         6, quality=90)),
        ("TIFF", lambda: encode(image, "TIFF")),
        ("webp", lambda: encode(image.convert("RGBA"), "WEBP", lossless=True)),
        ("jpeg", lambda: encode(image, "JPEG", quality=60)),
    ]
    suffix, write = writers[index % len(writers)]
    path = folder / f"IMG_{index:04d}.{suffix}"
    path.write_bytes(write())
    return path


def _with_transparent_corner(image: Image.Image) -> bytes:
    rgba = image.convert("RGBA")
    alpha = Image.new("L", image.size, 255)
    ImageDraw.Draw(alpha).rectangle((0, 0, image.width // 5, image.height // 5), fill=0)
    rgba.putalpha(alpha)
    return encode(rgba, "PNG")


@pytest.fixture(scope="module")
def messy_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(16)
    for offset, (label, colour) in enumerate(COLOURS.items()):
        folder = root / label
        (folder / "2024 holiday").mkdir(parents=True)  # a nested folder, as people sort them
        for i, size in enumerate(SIZES):
            where = folder / "2024 holiday" if i % 4 == 3 else folder
            save_as(photo(colour, size, rng), i + offset, where)
    good = encode(photo(COLOURS["red"], (80, 60), rng), "JPEG")
    (root / "red" / "broken.JPG").write_bytes(good[: len(good) // 2])  # an interrupted copy
    (root / "green" / "notes.txt").write_text("shot on the balcony, 5pm\n")
    (root / "blue" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(64))
    (root / "__MACOSX" / "red").mkdir(parents=True)  # unzipped from a Mac: not a label
    (root / "__MACOSX" / "red" / "._IMG_0001.PNG").write_bytes(b"\x00\x05\x16\x07" + bytes(60))
    return root


@pytest.fixture(scope="module")
def trained(messy_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``featherserve train image`` as a user types it (``--quick`` and a small input keep it
    to seconds), into a temporary store, reports and build directory."""
    base = tmp_path_factory.mktemp("train")
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(train_cli, "PROJECT_BUILD", base / "build")
    argv = ["train", "image", NAME, "--folder", str(messy_folder), "--color", "rgb",
            "--size", "16", "--quick", "--seed", "0", "--store", str(base / "store"),
            "--reports", str(base / "reports"), "--no-serve"]
    stderr, stdout = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
            code = featherserve(argv)
    finally:
        monkeypatch.undo()
    return {"code": code, "stderr": stderr.getvalue(), "stdout": stdout.getvalue(),
            "store": base / "store", "argv": argv}


def test_training_reads_the_folder_and_names_the_bad_files(trained, messy_folder):
    assert trained["code"] == 0, trained["stderr"][-3000:]
    log = trained["stderr"]
    warnings = [line for line in log.splitlines() if line.startswith("warning: skipped")]
    assert len(warnings) == 2, warnings
    assert any(str(messy_folder / "red" / "broken.JPG") in w and "undecodable_image" in w
               for w in warnings), warnings
    assert any(str(messy_folder / "green" / "notes.txt") in w and "not an image" in w
               for w in warnings), warnings
    assert ".DS_Store" not in log and "__MACOSX" not in log
    assert f"split of {3 * PER_CLASS} images" in log


def test_the_exif_rotated_jpeg_is_read_upright(messy_folder):
    path = messy_folder / "blue" / "2024 holiday" / "IMG_0011.JPG"  # SIZES[11], stored sideways
    with Image.open(path) as stored:
        assert stored.size == SIZES[11][::-1] and stored.getexif()[0x0112] == 6
    found = read_image_folder(messy_folder)
    assert SIZES[11] in [image.size for image in found.images]
    assert SIZES[11][::-1] not in [image.size for image in found.images]
    assert found.counts() == [PER_CLASS] * 3 and len(found.skipped) == 2


def test_the_model_learned_the_colours(trained):
    manifest = LocalStore(trained["store"]).manifest(NAME)
    metrics = manifest.metrics
    print(f"messy-folder accuracy (served int8 model, test split): {metrics.student_accuracy}"
          f" (baseline {metrics.baseline_accuracy}); recall {dict(metrics.per_class_recall)}")
    assert manifest.labels == tuple(sorted(COLOURS))
    assert metrics.student_accuracy is not None and metrics.baseline_accuracy is not None
    assert metrics.student_accuracy >= 0.8 > metrics.baseline_accuracy


def predict_event(*images: bytes) -> dict[str, Any]:
    event = json.loads(json.dumps(load_event("digits_predict_v2")).replace("digits", NAME))
    body = json.dumps({"instances": [{"b64": base64.b64encode(i).decode()} for i in images]})
    return with_body(event, body, content_type="application/json")


def test_the_served_model_answers_photos_of_every_format(trained):
    handler = serve_model(NAME, settings=Settings(model_source=str(trained["store"])))
    rng = np.random.default_rng(7)
    served_formats = [i for i in range(15) if i not in (7, 12)]  # TIFF: training folders only
    right = total = 0
    for label, colour in COLOURS.items():  # one request per label: the body limit is 4.5 MB
        images = []
        for i, index in enumerate(served_formats):
            size = SIZES[(index + 3 * i) % len(SIZES)]
            size = (max(8, size[0]), max(8, size[1]))  # a request's images are 8 px or more
            images.append(save_as(photo(colour, size, rng), index,
                                  trained["store"].parent).read_bytes())
        response = handler(predict_event(*images), None)
        assert response["statusCode"] == 200, response["body"]
        predictions = response_json(response)["predictions"]
        assert len(predictions) == len(images)
        assert all("error" not in p and p["label"] in COLOURS for p in predictions)
        right += sum(p["label"] == label for p in predictions)
        total += len(images)
    print(f"new photos of every served format: {right}/{total} right")
    assert right >= 0.8 * total


def test_a_served_tiff_is_the_contracts_415(trained):
    handler = serve_model(NAME, settings=Settings(model_source=str(trained["store"])))
    tiff = encode(photo(COLOURS["red"], (64, 64), np.random.default_rng(1)), "TIFF")
    response = handler(predict_event(tiff), None)
    assert response["statusCode"] == 415
    assert "TIFF" in response_json(response)["error"]["message"]


# -- folders that cannot make a classifier ------------------------------------------------
def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = featherserve(argv)
    return code, capsys.readouterr().err


def _folder(root: Path, counts: dict[str, int], extra: dict[str, str] | None = None) -> Path:
    rng = np.random.default_rng(0)
    for i, (label, count) in enumerate(counts.items()):
        (root / label).mkdir(parents=True)
        for j in range(count):
            colour = list(COLOURS.values())[i % 3]
            save_as(photo(colour, (32, 24), rng), j, root / label)
    for name, text in (extra or {}).items():
        (root / name).write_text(text)
    return root


def _train_argv(folder: Path, tmp_path: Path) -> list[str]:
    return ["train", "image", "refused", "--folder", str(folder), "--quick", "--no-serve",
            "--store", str(tmp_path / "store"), "--reports", str(tmp_path / "reports")]


def test_one_label_only_is_refused_with_the_numbers(tmp_path, capsys):
    folder = _folder(tmp_path / "one", {"cats": 12})
    code, err = _run(_train_argv(folder, tmp_path), capsys)
    assert code == 1
    assert "at least 2 labels" in err and "1 label folder ('cats', 12 images)" in err, err
    assert not (tmp_path / "store").exists()


def test_images_without_label_folders_are_refused_with_the_numbers(tmp_path, capsys):
    folder = tmp_path / "flat"
    folder.mkdir()
    for j in range(7):
        save_as(photo((200, 10, 10), (20, 20), np.random.default_rng(j)), j, folder)
    code, err = _run(_train_argv(folder, tmp_path), capsys)
    assert code == 1 and "no label folders (7 files directly in it)" in err, err


def test_too_few_images_per_label_are_refused_with_the_numbers(tmp_path, capsys):
    folder = _folder(tmp_path / "few", {"cats": 9, "dogs": 3, "owls": 0})
    (folder / "dogs" / "scan.PDF").write_bytes(b"%PDF-1.7\n")
    code, err = _run(_train_argv(folder, tmp_path), capsys)
    assert code == 1
    assert f"at least {MIN_IMAGES_PER_CLASS} readable images" in err, err
    assert "'dogs' has 3, 'owls' has 0" in err and "'cats'" not in err.split("error:")[1]
    assert "1 file(s) were skipped" in err and "scan.PDF" in err
