"""Lambda handlers: one thin module per model, plus the shared runtime in ``handlers.runtime``."""
