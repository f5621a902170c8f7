"""What one loaded model costs the pool's memory budget, estimated from its file size.

Measured here (onnxruntime 1.x, CPU, one thread): a session of a 226-byte model adds about
115 KiB of RSS, and a whole loaded pool entry (session, parser, card, service) about
130 KiB (200 models loaded through ``serve_pool``); a model's weights are held once by the
session, and kernels that prepack their weights may hold a second copy. So an entry is
charged a fixed overhead plus twice its file: conservative for the small models pools hold.
"""

from __future__ import annotations

SESSION_OVERHEAD_BYTES = 160 * 1024
WEIGHT_FACTOR = 2


def estimated_bytes(model_bytes: int) -> int:
    return SESSION_OVERHEAD_BYTES + WEIGHT_FACTOR * max(0, model_bytes)
