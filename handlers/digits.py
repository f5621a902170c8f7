"""Lambda handler for the distilled, int8-quantized handwritten-digit classifier (images)."""

from handlers.runtime import serve_model

handler = serve_model("digits")
