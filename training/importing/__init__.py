"""Import a model trained elsewhere (scikit-learn, XGBoost, LightGBM, ONNX) with a parity gate;
``build.import_model`` is the entry point (``featherserve import``)."""
