"""Lambda handler for the distilled, int8-quantized handwritten-digit classifier (images)."""

from model_runtime import serve_model
from model_runtime.batch import serve_batch

handler = serve_model("digits")
# Files dropped under in/digits/ of the stage's bucket, through SQS: the same loaded model.
batch_handler = serve_batch(handler)
