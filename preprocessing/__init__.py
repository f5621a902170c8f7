"""Preprocessing that training and serving must do identically (image decoding and
preparation). Depends on numpy and Pillow only; never on the HTTP runtime or training."""
