"""Lambda layer packaging: model layers, the runtime-dependency layer, and size limits."""

from featherserve.layers.build import (
    DEFAULT_CODE_PATHS,
    DEFAULT_OUT_DIR,
    LayersBuild,
    LayersRequest,
    build_layers,
)
from featherserve.layers.exceptions import (
    LayerBuildError,
    LayerError,
    LayerLimitError,
    TargetInterpreterError,
)
from featherserve.layers.limits import DEFAULT_LIMITS, LambdaLimits
from featherserve.layers.model_layer import ModelRef, build_model_layers, plan_model_layer
from featherserve.layers.report import (
    CodePackage,
    FunctionSpec,
    SizeReport,
    check_sizes,
    format_report,
)
from featherserve.layers.runtime_layer import (
    RuntimeLayerConfig,
    RuntimeLayerResult,
    RuntimeTarget,
    build_runtime_layer,
    read_runtime_requirements,
)
from featherserve.layers.trim import DEFAULT_TRIM_RULES, TrimResult, trim_tree
from featherserve.layers.zipping import BuiltLayer, LayerEntry, LayerSpec, write_layer_zip

__all__ = [
    "DEFAULT_CODE_PATHS",
    "DEFAULT_LIMITS",
    "DEFAULT_OUT_DIR",
    "DEFAULT_TRIM_RULES",
    "BuiltLayer",
    "CodePackage",
    "FunctionSpec",
    "LambdaLimits",
    "LayerBuildError",
    "LayerEntry",
    "LayerError",
    "LayerLimitError",
    "LayerSpec",
    "LayersBuild",
    "LayersRequest",
    "ModelRef",
    "RuntimeLayerConfig",
    "RuntimeLayerResult",
    "RuntimeTarget",
    "SizeReport",
    "TargetInterpreterError",
    "TrimResult",
    "build_layers",
    "build_model_layers",
    "build_runtime_layer",
    "check_sizes",
    "format_report",
    "plan_model_layer",
    "read_runtime_requirements",
    "trim_tree",
    "write_layer_zip",
]
