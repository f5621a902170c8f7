"""``featherserve import NAME MODEL_FILE --data FILE.csv --target COLUMN [--distil]``.

Open the model → convert it to ONNX → parity on every row of the data file (or nothing is
published, and the worst rows are shown) → scores on the same held-out split a trained model
is judged on, beside the trivial baseline → report and picture → publish, graph checked.
With ``--distil`` the imported model instead becomes the teacher of a small student, which
goes through the whole tabular build, report and quality gate.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pandas as pd

from model_store.manifest import Lineage, Manifest, Metrics, OutputSpec, Quantization, TabularSpec
from training.common import build_folder, command_line, format_table, kit_version, log, utc_now
from training.errors import DataError
from training.importing.convert import Converted, convert
from training.importing.loaders import ImportedModel, load_model_file
from training.importing.parity import PROBABILITY_TOLERANCE, VALUE_TOLERANCE, check_parity
from training.plots import write_confusion_matrix, write_residual_plot
from training.publishing import publish_checked
from training.tabular.build import build_tabular_model
from training.tabular.config import TabularConfig
from training.tabular.data import TabularSplit, split_table
from training.tabular.graph import open_session, run
from training.tabular.preprocess import MATRIX_INPUT, manifest_features, onnx_feeds
from training.tabular.report import Scores, scores_of
from training.tabular.table import Table, Task, infer_task, read_table
from training.tabular.teacher import TeacherModel


def import_model(name: str, model_file: Path, *, data: str | Path, target: str,
                 task: str | None = None, store_root: Path, seed: int = 0,
                 distil: bool = False, quick: bool = False, min_retention: float | None = None,
                 report_dir: Path | None = None, teacher_dir: Path | None = None,
                 command: str = "") -> Manifest:
    imported = load_model_file(Path(model_file))
    table = read_table(data, target)
    regression = _regression(imported, table, task)
    log(f"[{name}] {imported.name}, a {'regression model' if regression else 'classifier'}; "
        "unpickling runs code from the file: import only files you trust")
    converted = convert(imported, table, regression)
    table = _model_table(table, converted)
    config = TabularConfig.quick() if quick else TabularConfig()
    if min_retention is not None:
        config = replace(config, min_retention=min_retention)
    task_name: Task = "regression" if regression else "classification"
    split = split_table(table, task_name, config)
    with tempfile.TemporaryDirectory(prefix="featherserve-import-") as work:
        path = Path(work) / "model.onnx"
        _write(converted.model, path)
        session = open_session(path)
        layout = converted.layout
        served_all = run(session, onnx_feeds(table.frame, layout, table), converted.output_name)
        parity_text = "the ONNX file is served as it is (no conversion, no parity to check)"
        if converted.original is not None:
            original_all = _original(converted, imported, table.frame)
            parity = check_parity(name, original_all, served_all, table.frame, regression)
            parity_text = (parity.summary() + " (tolerance "
                           f"{VALUE_TOLERANCE if regression else PROBABILITY_TOLERANCE:g})")
        log(f"[{name}] {parity_text}")
        if distil:
            factory = _teacher_factory(imported, converted, path)
            return build_tabular_model(
                name, data=data, target=target, task=task_name, store_root=store_root,
                seed=seed, config=config, report_dir=report_dir, teacher=factory,
                teacher_dir=teacher_dir, command=command,
                ignore=tuple(c for c in read_table(data, target).feature_names
                             if c not in converted.features))
        test_output = run(session, onnx_feeds(split.x_test, layout, table), converted.output_name)
        served = scores_of(test_output, split)
        baseline = scores_of(None, split)
        _report(name, split, imported, served, baseline, parity_text, path,
                (report_dir or build_folder(store_root) / "reports") / name, test_output)
        manifest = _manifest(name, split, imported, converted, served, baseline, parity_text,
                             path, command)
        return publish_checked(manifest, path, store_root,
                               feeds=onnx_feeds(split.x_test.head(8), layout, table))


def _regression(imported: ImportedModel, table: Table, task: str | None) -> bool:
    if imported.regression is None:
        return (task or infer_task(table.target)[0]) == "regression"
    if task is not None and (task == "regression") != imported.regression:
        kind = "regressor" if imported.regression else "classifier"
        raise DataError(f"--task {task}, but {imported.name} is a {kind}")
    return imported.regression


def _model_table(table: Table, converted: Converted) -> Table:
    """The table restricted to the model's features, classes in the model's order."""
    frame = table.frame[list(converted.features)]
    order = None
    if converted.classes is not None:
        seen = sorted({str(v) for v in table.target}, key=_number_first)
        classes = converted.classes
        if not set(seen) <= set(classes):
            if len(seen) != len(classes):
                raise DataError(f"the model knows classes {list(classes)}; the target holds "
                                f"{seen}")
            log(f"  the model's classes {list(classes)} are read as {seen} (sorted, as "
                "LabelEncoder numbers them)")
            classes = tuple(seen)
            mapping = dict(zip(converted.classes, classes, strict=True))
            table = replace(table, target=table.target.map(
                lambda v: mapping.get(str(v), str(v))))
        order = classes
    return replace(table, frame=frame,
                   numbers=tuple(c for c in table.numbers if c in converted.features),
                   categories=tuple(c for c in table.categories if c in converted.features),
                   label_order=order)


def _number_first(value: str) -> tuple[int, float | str]:
    try:
        return (0, float(value))
    except ValueError:
        return (1, value)


def _write(model: onnx.ModelProto | bytes, path: Path) -> None:
    if isinstance(model, bytes):
        path.write_bytes(model)
        return
    model.graph.doc_string = ""  # converters stamp random ids here: same model, same bytes
    onnx.save(model, str(path))


def _original(converted: Converted, imported: ImportedModel,
              frame: pd.DataFrame) -> np.ndarray:
    assert converted.original is not None
    try:
        return converted.original(frame)
    except Exception as exc:  # the user's model on the user's data: say which failed
        raise DataError(f"{imported.name} could not predict the data file's rows: "
                        f"{str(exc).splitlines()[0][:300]}") from exc


def _teacher_factory(imported: ImportedModel, converted: Converted, path: Path):  # type: ignore[no-untyped-def]
    size = path.stat().st_size
    session = open_session(path)

    def factory(split: TabularSplit) -> TeacherModel:
        def predict(frame: pd.DataFrame) -> np.ndarray:
            out = run(session, onnx_feeds(frame, converted.layout, split.table),
                      converted.output_name)
            return np.asarray(out, dtype=np.float64).reshape(len(frame), -1).squeeze(
                axis=1) if converted.regression else np.asarray(out, dtype=np.float64)

        return TeacherModel(description=f"imported {imported.name} (its ONNX conversion, "
                                        f"parity-checked, {size} bytes)",
                            predict=predict, parameters=None, bytes=size,
                            kind=f"imported {imported.name[:40]}")

    return factory


def _report(name: str, split: TabularSplit, imported: ImportedModel, served: Scores,
            baseline: Scores, parity: str, path: Path, folder: Path,
            outputs: np.ndarray) -> None:
    regression = split.task == "regression"
    rows = [[f"imported {imported.name[:50]} (served ONNX)", f"{served.score:.4f}",
             *([f"{served.mae:.4g}"] if regression else []), str(path.stat().st_size)],
            ["baseline (" + ("training mean" if regression else "majority class") + ")",
             f"{baseline.score:.4f}", *([f"{baseline.mae:.4g}"] if regression else []), "-"]]
    headers = ["model", "test R²" if regression else "test accuracy",
               *(["test MAE"] if regression else []), "bytes"]
    lines = [f"{name}: imported {imported.name}; scores on {split.description} (the imported "
             "model may have been trained on these rows)", format_table(headers, rows), parity]
    if served.recall:
        lines.append("per-class recall: " + ", ".join(f"{k} {v:.3f}"
                                                      for k, v in served.recall.items()))
    if not regression and served.score <= baseline.score:
        lines.append("WARNING: no better than always answering the majority class")
    text = "\n".join(lines)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.txt").write_text(text + "\n")
    title = f"{name}: imported model, test split"
    if regression:
        picture = write_residual_plot(folder / "residuals.png", outputs,
                                      split.y_test.astype(np.float64), title)
    else:
        picture = write_confusion_matrix(folder / "confusion_matrix.png",
                                         np.asarray(outputs).argmax(axis=1),
                                         split.y_test.astype(np.int64), split.labels, title)
    log(text)
    log(f"[{name}] report: {folder / 'report.txt'}; picture: {picture}")


def _manifest(name: str, split: TabularSplit, imported: ImportedModel, converted: Converted,
              served: Scores, baseline: Scores, parity: str, path: Path,
              command: str) -> Manifest:
    regression = split.task == "regression"
    table = split.table
    size = path.stat().st_size
    scores = ({"student_r2": served.score, "student_mae": served.mae,
               "baseline_r2": baseline.score, "baseline_mae": baseline.mae} if regression else
              {"student_accuracy": served.score, "baseline_accuracy": baseline.score,
               "per_class_recall": served.recall})
    opset = next((o.version for o in onnx.load(str(path)).opset_import
                  if o.domain in ("", "ai.onnx")), 0)
    return Manifest(
        name=name, task="tabular-regression" if regression else "tabular-classification",
        input=TabularSpec(features=manifest_features(table, table.frame),
                          layout=converted.layout),
        output=OutputSpec(name=converted.output_name,
                          kind="values" if regression else "probabilities"),
        labels=() if regression else split.labels, opset=opset, input_name=MATRIX_INPUT,
        quantization=Quantization(method="none", reason="imported as converted; not quantized"),
        metrics=Metrics(split=split.description, test_samples=len(split.y_test),
                        student_bytes=size, extra={"parity_rows": float(len(table.frame))},
                        **scores),
        lineage=Lineage(dataset=split.source, teacher="",
                        student=f"imported {imported.name}; {parity}",
                        kit_version=kit_version(), created_at=utc_now(),
                        command=command_line(command)),
        # What was imported, and how, is in the lineage (student).
        description=(f"{name}: {'regressor' if regression else 'classifier'}"
                     " predicting "
                     f"{table.target_name!r} from {len(converted.features)} raw columns (send "
                     "the row as in the CSV)."))
