"""Code generation for served models: a thin handler module per model, and the functions,
layers and routes of the service (``generated/*.yml``, included by serverless.yml)."""

from featherserve.codegen.handler_modules import (
    HANDLERS_DIR,
    handler_path,
    served_models,
)
from featherserve.codegen.service_files import (
    GENERATED_DIR,
    ServedModel,
    add_model,
    regenerate,
    remove_model,
)

__all__ = [
    "GENERATED_DIR",
    "HANDLERS_DIR",
    "ServedModel",
    "add_model",
    "handler_path",
    "regenerate",
    "remove_model",
    "served_models",
]
