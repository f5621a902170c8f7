"""Errors of the Lambda-fidelity runner: its input is wrong, not the function under test.

    FidelityError            the artifacts or template cannot be read as a Lambda service
    ├── ArtifactNotFound     a code or layer zip the template names is not on disk
    └── TemplateError        a construct the runner does not resolve (an intrinsic, a code source)

A function that fails (bad imports, init errors, wrong answers) is not an exception: it is
a finding in the report.
"""

from __future__ import annotations


class FidelityError(Exception):
    """The runner cannot start: its input is not a packaged Lambda service it can read."""


class ArtifactNotFound(FidelityError):
    """A zip named by the template is neither in the package folder nor where the state says."""


class TemplateError(FidelityError):
    """A template construct the runner does not resolve."""
