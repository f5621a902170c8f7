"""The Lambda-fidelity runner: run packaged (or deployed) functions as Lambda runs them.

``load_package`` reads `sls package` output, ``verify_service`` runs every function on
CPython 3.12 through awslambdaric against a Runtime API stand-in and compares each event's
answer with the same handler answering in process; ``featherserve verify`` is the command.
"""

from featherserve.fidelity.exceptions import ArtifactNotFound, FidelityError, TemplateError
from featherserve.fidelity.model import FunctionSpec, HttpRoute, ServiceSpec
from featherserve.fidelity.package import load_package
from featherserve.fidelity.verify import FunctionReport, RunnerSetup, verify_service

__all__ = [
    "ArtifactNotFound",
    "FidelityError",
    "FunctionReport",
    "FunctionSpec",
    "HttpRoute",
    "RunnerSetup",
    "ServiceSpec",
    "TemplateError",
    "load_package",
    "verify_service",
]
