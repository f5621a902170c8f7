"""Lambda handler for the distilled breast-cancer classifier (tabular, 30 features)."""

from handlers.runtime import serve_model

handler = serve_model("breast_cancer")
