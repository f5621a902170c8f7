"""Image models: datasets, augmentation, teacher/student CNNs, ONNX export, int8, the build.

``build.build_image_model`` is the entry point (``featherserve train image digits``).
"""
