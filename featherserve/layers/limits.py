"""Lambda's size and count limits, in one place.

AWS documents the limits as "250 MB" and "50 MB"; the enforced values are binary megabytes
(MiB): 262,144,000 bytes unzipped for a function plus all of its layers, and 52,428,800
bytes for a zip uploaded directly. The kit checks them here rather than discovering them
in a failed deploy.
"""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024

# Function code plus every layer it uses, after unzipping.
MAX_UNZIPPED_BYTES = 250 * MIB
# One zip uploaded directly (each layer, and a function's own package).
MAX_ZIPPED_BYTES = 50 * MIB
# Layers attached to one function.
MAX_LAYERS = 5


@dataclass(frozen=True)
class LambdaLimits:
    """The limits a size report checks against; tests inject small ones."""

    max_unzipped_bytes: int = MAX_UNZIPPED_BYTES
    max_zipped_bytes: int = MAX_ZIPPED_BYTES
    max_layers: int = MAX_LAYERS


DEFAULT_LIMITS = LambdaLimits()


def format_bytes(size: int) -> str:
    """Human size in MiB (the unit the limits are defined in), exact bytes for small values."""
    if size < 100 * 1024:
        return f"{size} B" if size < 1024 else f"{size / 1024:.1f} KiB"
    return f"{size / MIB:.1f} MiB"
