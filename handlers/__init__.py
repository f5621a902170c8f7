"""Lambda entry files, the ones the template names: one thin module per model (from
``model_runtime``) and ``web.py`` (from ``webapp``). No library code lives here."""
