"""``featherserve predict`` (a file on this machine) and ``featherserve batch submit`` (a file
through a deployed stage's bucket, queue and function)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EXIT_REFUSED = 1
# Files above this size, or folders of several files, get a progress bar on a terminal.
_LONG_INPUT_BYTES = 1024 * 1024


def _reported(run: Any) -> Any:
    """Bad locations and S3's own errors become one line on stderr and exit 1."""
    def guarded(args: argparse.Namespace) -> int:
        try:
            code: int = run(args)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_REFUSED
        except Exception as exc:
            if not type(exc).__module__.startswith(("botocore", "boto3", "s3transfer")):
                raise
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_REFUSED
        return code
    return guarded


def cmd_predict(args: argparse.Namespace) -> int:
    from featherserve.bulk.local import (
        inputs_at,
        load_scoring_model,
        predict_files,
        total_bytes,
        write_summary,
    )
    from featherserve.bulk.progress import Progress
    from model_runtime.batch.settings import BatchSettings

    inputs = inputs_at(args.input)
    if not inputs:
        print(f"error: {args.input} holds no files", file=sys.stderr)
        return EXIT_REFUSED
    model = load_scoring_model(args.name, store=args.store, version=args.version)
    overrides: dict[str, Any] = {"max_object_bytes": 2**62}  # no invocation limit here
    if args.chunk_rows:
        overrides["chunk_rows"] = args.chunk_rows
    # Explicit options beat FEATHERSERVE_BATCH_KEEP / _TARGET, which beat the defaults.
    for option in ("keep", "target"):
        if getattr(args, option) is not None:
            overrides[option] = getattr(args, option)
    settings = BatchSettings.from_env(**overrides)
    size = total_bytes(inputs)
    show = {"always": True, "never": False}.get(args.progress, sys.stderr.isatty() and (
        size >= _LONG_INPUT_BYTES or len(inputs) > 1))
    report = predict_files(model, inputs, args.output, settings=settings,
                           progress=Progress(size, enabled=show))
    document = report.document(args.output)
    print(json.dumps(document, indent=2))
    if settings.target and len(report.refused) < len(report.summaries):
        where = write_summary(args.output, document, settings)
        print(f"score against {settings.target!r}: {report.score_line()}; the summary with "
              f"it → {where}", file=sys.stderr)
    for summary in report.refused:
        print(f"refused: {summary['input']['uri']}: {summary['error']['message']}",
              file=sys.stderr)
    scored = len(report.summaries) - len(report.refused)
    if scored:
        rows = sum(s["rows"] for s in report.summaries if s["status"] == "scored")
        errors = sum(s["errors"] for s in report.summaries if s["status"] == "scored")
        print(f"{model.name} v{model.manifest.version}: {rows:,} rows ({errors:,} with an "
              f"error) from {scored} file(s) in {report.seconds:.1f} s → {args.output}",
              file=sys.stderr)
    return EXIT_REFUSED if report.refused else 0


def cmd_submit(args: argparse.Namespace) -> int:
    import boto3

    from featherserve.bulk.submit import (
        SubmitError,
        download_predictions,
        stage_bucket,
        upload,
        wait_for_summary,
    )

    file = Path(args.file)
    if not file.is_file():
        print(f"error: {file}: no such file", file=sys.stderr)
        return EXIT_REFUSED
    try:
        bucket = args.bucket or stage_bucket(args.stage, args.region)
        client = boto3.client("s3", region_name=args.region)
        submission = upload(client, args.name, file, bucket, args.key)
        print(f"uploaded {submission.uri}; waiting for the function", file=sys.stderr)
        summary = wait_for_summary(client, args.name, submission, timeout_s=args.timeout,
                                   poll_s=args.poll)
    except SubmitError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    print("", file=sys.stderr)
    print(json.dumps(summary, indent=2))
    if summary["status"] != "scored":
        print(f"refused: {summary['error']['message']}", file=sys.stderr)
        return EXIT_REFUSED
    dest = Path(args.output) if args.output else file.with_name(
        file.name + ".predictions.jsonl")
    download_predictions(client, args.name, submission, dest)
    print(f"{summary['rows']:,} rows ({summary['errors']:,} with an error) → {dest}",
          file=sys.stderr)
    return 0


def register(commands: Any) -> None:
    predict = commands.add_parser(
        "predict", help="score a file, a folder or S3 objects on this machine (the bulk "
                        "function's pipeline)")
    predict.add_argument("name", help="the model")
    predict.add_argument("--input", required=True, metavar="FILE|DIR|s3://...",
                         help="a .csv/.tsv/.jsonl file of rows or an image; a folder of "
                              "them; an S3 object or prefix")
    predict.add_argument("--output", required=True, metavar="FILE|s3://...",
                         help="where the JSON Lines predictions go (written whole or not at "
                              "all); the summary is printed")
    predict.add_argument("--store", default=None, metavar="LOCATION",
                         help="the model store (default: the project's models/)")
    predict.add_argument("--version", default=None, help="version or alias (default: latest)")
    predict.add_argument("--chunk-rows", type=int, default=None, metavar="N",
                         help="rows per inference call (default 1024)")
    predict.add_argument("--keep", default=None, metavar="COL[,COL]",
                         help="the input columns each output line carries (to join the answers "
                              "back); default: every column that is not a feature")
    predict.add_argument("--target", default=None, metavar="COLUMN",
                         help="score the predictions against this column (accuracy and "
                              "per-class recall, or R² and MAE): printed, in the summary, and "
                              "in OUTPUT.summary.json")
    predict.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                         help="progress bar on stderr (auto: on a terminal, for long inputs)")
    predict.set_defaults(run=_reported(cmd_predict))

    batch = commands.add_parser("batch", help="bulk scoring on a deployed stage")
    actions = batch.add_subparsers(dest="action", required=True, metavar="ACTION")
    submit = actions.add_parser(
        "submit", help="upload a file to the stage's in/<model>/ prefix and wait for its "
                       "predictions")
    submit.add_argument("name", help="the model")
    submit.add_argument("file", help="the file to score")
    submit.add_argument("--stage", default="dev")
    submit.add_argument("--region", default=None)
    submit.add_argument("--bucket", default=None,
                        help="the bulk bucket (default: the stage's stack output "
                             "BulkBucketName)")
    submit.add_argument("--key", default=None,
                        help="the name under in/<model>/ (default: the file's name)")
    submit.add_argument("--output", default=None,
                        help="where to save the predictions (default: FILE.predictions.jsonl)")
    submit.add_argument("--timeout", type=float, default=1200.0,
                        help="seconds to wait for the result (default 1200)")
    submit.add_argument("--poll", type=float, default=2.0, help=argparse.SUPPRESS)
    submit.set_defaults(run=_reported(cmd_submit))
