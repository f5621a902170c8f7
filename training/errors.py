"""Why a training or import job refused to publish. Each message says what was measured and
what to try; the CLI prints it and exits non-zero.

    TrainingError             (ValueError)
    ├── DataError             the data file cannot train this model (columns, target, rows)
    ├── QualityGateError      not clearly better than the trivial baseline, or a student
    │                         that keeps too little of its teacher's score
    ├── UnsupportedModelError an imported model of a kind the converters cannot handle
    └── ParityError           the converted model disagrees with the original
"""

from __future__ import annotations


class TrainingError(ValueError):
    """Nothing was published."""


class DataError(TrainingError):
    pass


class QualityGateError(TrainingError):
    pass


class UnsupportedModelError(TrainingError):
    pass


class ParityError(TrainingError):
    pass
