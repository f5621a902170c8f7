"""Bulk scoring: files dropped under ``in/<model>/`` of the stage's bucket come back as
predictions under ``out/<model>/``, through S3 notifications, SQS and Lambda, with the
same model, parsing and result shaping as the HTTP path. ``featherserve predict`` runs the
same pipeline on a laptop."""

from model_runtime.batch.serve import BatchHandler, serve_batch

__all__ = ["BatchHandler", "serve_batch"]
