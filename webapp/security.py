"""Response headers that lock the pages down: a strict Content-Security-Policy (no inline
script or style, nothing from any origin but this app and its static origin), no framing,
no sniffing, no referrer."""

from __future__ import annotations


def content_security_policy(static_origin: str) -> str:
    """``static_origin`` is the CDN's https origin when deployed ("" locally: 'self')."""
    sources = "'self'" + (f" {static_origin}" if static_origin else "")
    return "; ".join([
        "default-src 'none'",
        # onnxruntime-web compiles its WebAssembly: that needs 'wasm-unsafe-eval' (which
        # allows wasm compilation only, not eval of JavaScript).
        f"script-src {sources} 'wasm-unsafe-eval'",
        f"style-src {sources}",
        "img-src 'self' blob: data:",
        # The page fetches the model file and the wasm binary, and posts to the demo route.
        f"connect-src {sources}",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ])


def security_headers(static_origin: str, *, https: bool, page: bool) -> dict[str, str]:
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    }
    if page:
        headers["Content-Security-Policy"] = content_security_policy(static_origin)
        headers["X-Frame-Options"] = "DENY"
    if https:
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return headers
