"""Preprocessing's own error family. The HTTP runtime maps it to statuses in one place
(``model_runtime.image_inputs``); training reports it as a skipped file.

    PreprocessingError            code, message (safe to show a client)
    ├── ImageTooLarge             too many bytes, pixels or a side too long (413)
    ├── UnsupportedImageFormat    a real image format outside the allowlist (415)
    └── InvalidImage              empty, undecodable, too small or blank (422)
"""

from __future__ import annotations


class PreprocessingError(ValueError):
    code: str = "invalid_image"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ImageTooLarge(PreprocessingError):
    code = "image_too_large"


class UnsupportedImageFormat(PreprocessingError):
    code = "unsupported_image_format"


class InvalidImage(PreprocessingError):
    code = "undecodable_image"
