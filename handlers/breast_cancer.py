"""Lambda handler for the distilled breast-cancer classifier (tabular, 30 features)."""

from model_runtime import serve_model
from model_runtime.batch import serve_batch

handler = serve_model("breast_cancer")
# Files dropped under in/breast_cancer/ of the stage's bucket, through SQS: the same loaded model.
batch_handler = serve_batch(handler)
