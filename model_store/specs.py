"""A model's input spec: what a client sends and how it becomes the model's tensor.

``TabularSpec`` (ordered ``Feature``s: numbers or categories, missing values allowed or
not) and ``ImageSpec`` (size, colour, normalisation, the preprocessing preset) are read
by the handler and by training alike, so that both prepare inputs identically. They
change when preprocessing does; the manifest (``model_store.manifest``) carries one and
re-exports these names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from model_store.exceptions import ManifestError
from model_store.validation import as_mapping, build, require

ImageMode = Literal["L", "RGB"]
InvertPolicy = Literal["never", "always", "auto"]
ResizePolicy = Literal["stretch", "fit-pad", "center-crop", "ink-box"]
# Named image preprocessing: "digits" (ink found, cropped and centred, either polarity),
# "photo" (colour kept, no inversion), "custom" (whatever the fields say).
ImagePreset = Literal["custom", "digits", "photo"]
IMAGE_PRESETS: tuple[str, ...] = ("custom", "digits", "photo")
FeatureKind = Literal["number", "category"]
# "matrix": one float32 input [N, features] (numbers only; NaN where a value is missing).
# "columns": one input per feature, named after it, [N, 1]: float32 numbers (NaN where
# missing) or strings (MISSING_CATEGORY where missing); the graph itself imputes and encodes.
TabularLayout = Literal["matrix", "columns"]
# What a missing categorical value becomes in a string tensor, in training and in serving.
MISSING_CATEGORY = ""


@dataclass(frozen=True)
class Feature:
    """One tabular input column, in the order the model expects it.

    A number (``min``/``max`` seen in training, for the card) or a category (one of
    ``categories``, sent as a string); ``allow_missing``: the client may send ``null``.
    """

    name: str
    dtype: Literal["float32", "string"] = "float32"
    min: float | None = None
    max: float | None = None
    kind: FeatureKind = "number"
    categories: tuple[str, ...] = ()
    allow_missing: bool = False


@dataclass(frozen=True)
class TabularSpec:
    features: tuple[Feature, ...]
    kind: Literal["tabular"] = "tabular"
    layout: TabularLayout = "matrix"

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)


@dataclass(frozen=True)
class ImageSpec:
    """How raw image bytes become the model's input tensor (shared by training and serving)."""

    height: int
    width: int
    mode: ImageMode = "L"
    # Per-channel normalisation after scaling pixels to [0, 1]: (x - mean) / std.
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    # The model was trained on light ink on a dark background; "auto" flips an image whose
    # border is brighter than its centre, so dark-on-light photos of paper work too.
    invert: InvertPolicy = "auto"
    resize: ResizePolicy = "ink-box"
    # Fraction of the canvas kept empty around the content for the "ink-box" policy.
    padding: float = 0.15
    layout: Literal["NCHW"] = "NCHW"
    kind: Literal["image"] = "image"
    preset: ImagePreset = "custom"

    @property
    def channels(self) -> int:
        return 1 if self.mode == "L" else 3


InputSpec: TypeAlias = TabularSpec | ImageSpec


# -- validation --------------------------------------------------------------------------
def validate_tabular(spec: TabularSpec) -> None:
    names = spec.feature_names
    require(len(names) > 0, "input.features", "at least one feature is required")
    require(len(set(names)) == len(names), "input.features", "feature names must be unique")
    require(spec.layout in ("matrix", "columns"), "input.layout",
            f"{spec.layout!r} must be matrix or columns")
    for feature in spec.features:
        where = f"input.features[{feature.name}]"
        require(bool(feature.name.strip()), "input.features", "empty feature name")
        require(feature.kind in ("number", "category"), where,
                f"kind {feature.kind!r} must be number or category")
        low, high = feature.min, feature.max
        if low is not None and high is not None:
            require(low <= high, where, "min > max")
        if feature.kind == "number":
            require(feature.dtype == "float32" and not feature.categories, where,
                    "a number is float32 and has no categories")
            continue
        require(feature.dtype == "string" and low is None and high is None, where,
                "a category is a string and has no min/max")
        require(len(feature.categories) >= 1, where, "a category lists its categories")
        require(len(set(feature.categories)) == len(feature.categories), where,
                "categories must be unique")
        require(MISSING_CATEGORY not in feature.categories, where,
                f"{MISSING_CATEGORY!r} stands for a missing value, not a category")
        require(spec.layout == "columns", where,
                "categories need the columns layout (one string input per feature)")


def validate_image(spec: ImageSpec) -> None:
    require(4 <= spec.height <= 1024 and 4 <= spec.width <= 1024, "input.size",
            "height and width must be within 4..1024")
    require(spec.mode in ("L", "RGB"), "input.mode", f"{spec.mode!r} must be L or RGB")
    require(len(spec.mean) == spec.channels and len(spec.std) == spec.channels,
            "input.mean", "mean and std need one value per channel")
    require(all(s > 0 for s in spec.std), "input.std", "must be positive")
    require(spec.invert in ("never", "always", "auto"), "input.invert", spec.invert)
    require(spec.resize in ("stretch", "fit-pad", "center-crop", "ink-box"),
            "input.resize", spec.resize)
    require(0.0 <= spec.padding < 0.5, "input.padding", "must be within [0, 0.5)")
    require(spec.preset in IMAGE_PRESETS, "input.preset",
            f"{spec.preset!r} must be one of {IMAGE_PRESETS}")
    if spec.preset == "digits":
        require(spec.mode == "L" and spec.resize == "ink-box" and spec.invert == "auto",
                "input.preset", "digits means L, ink-box and auto-invert")
    elif spec.preset == "photo":
        require(spec.resize != "ink-box" and spec.invert == "never", "input.preset",
                "photo means no ink-box and no inversion")


# -- from JSON ---------------------------------------------------------------------------
def input_spec_from_dict(raw: Mapping[str, Any]) -> InputSpec:
    """The manifest's ``input`` object as a spec (validated with its task by the manifest)."""
    raw = as_mapping(raw, "input")
    if raw.get("kind") == "image":
        return build(ImageSpec, _with_preset(raw), "input",  # type: ignore[no-any-return]
                     tuples=("mean", "std"))
    if raw.get("kind") == "tabular":
        features = tuple(build(Feature, as_mapping(f, "input.features"), "input.features",
                               tuples=("categories",))
                         for f in raw.get("features", ()))
        return TabularSpec(features=features, layout=raw.get("layout", "matrix"))
    raise ManifestError(f"input.kind: {raw.get('kind')!r} is not image/tabular")


def _with_preset(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """Manifests written before presets existed: name the preset their fields match."""
    if "preset" in raw:
        return raw
    digits = (raw.get("mode") == "L" and raw.get("resize") == "ink-box"
              and raw.get("invert") == "auto")
    return {**raw, "preset": "digits" if digits else "custom"}
