"""Training side of featherserve: datasets, teachers, distillation, export, quantization.

May import anything (torch, scikit-learn, skl2onnx, onnx); nothing in ``handlers`` imports it.
"""
