"""HTML building blocks. Every value is escaped by ``markupsafe`` unless it is ``Markup``
built here, so a label, feature name or description from a manifest is always text."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape


def h(template: str, *args: Any, **kwargs: Any) -> Markup:
    """``template`` (trusted) with every argument escaped (``Markup`` arguments kept)."""
    return Markup(template).format(*args, **kwargs)


def join(parts: Iterable[Markup]) -> Markup:
    return Markup("").join(parts)


def data_json(value: Any) -> str:
    """JSON for a data-* attribute (escaped as an attribute value by ``h``)."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


@dataclass(frozen=True)
class Assets:
    """Where a page's links and files live: the app's root (API Gateway's stage prefix) and
    the static origin (this app's /static locally, the CDN when deployed)."""

    root: str
    static: str
    app_version: str
    ort_version: str

    def page(self, path: str) -> str:
        return f"{self.root}{path}"

    def app(self, file_name: str) -> str:
        return f"{self.static}/app/{self.app_version}/{file_name}"

    def ort(self, file_name: str) -> str:
        return f"{self.static}/ort/{self.ort_version}/{file_name}"

    def ort_base(self) -> str:
        return f"{self.static}/ort/{self.ort_version}/"

    def model_file(self, name: str, sha256: str) -> str:
        return f"{self.static}/models/{name}/{sha256}.onnx"


def layout(assets: Assets, title: str, body: Markup, *, script: str | None = None,
           main_attrs: Markup | None = None) -> str:
    script_tag = (h('<script type="module" src="{}"></script>', assets.app(script))
                  if script else Markup(""))
    return str(h(
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<title>{title} · featherserve</title>\n'
        '<link rel="icon" href="data:,">\n'
        '<link rel="stylesheet" href="{css}">\n{script}\n</head>\n<body>\n'
        '<header class="site"><a class="brand" href="{home}">featherserve</a>'
        '<nav><a href="{home}">Models</a><a href="{docs}">API</a></nav></header>\n'
        '<main{attrs}>\n{body}\n</main>\n'
        '<footer class="site">Small models on AWS Lambda. Predictions on these pages go to '
        'the models\' live versions; the API itself needs a key.</footer>\n'
        '</body>\n</html>\n',
        title=title, css=assets.app("style.css"), script=script_tag,
        home=assets.page("/"), docs=assets.page("/docs"), attrs=main_attrs or Markup(""),
        body=body))


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.2f}%"


def size(num_bytes: int | None) -> str:
    if not num_bytes:
        return "—"
    if num_bytes < 1024:
        return f"{num_bytes} B"
    if num_bytes < 1024 * 1024:
        return f"{num_bytes / 1024:.1f} KiB"
    return f"{num_bytes / 1024 / 1024:.1f} MiB"


def count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def millis(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f} ms" if value >= 10 else f"{value:.2f} ms"


def usd(value: float | None) -> str:
    return "—" if value is None else f"${value:.2f}"


__all__ = ["Assets", "Markup", "count", "data_json", "escape", "h", "join", "layout",
           "millis", "percent", "size", "usd"]
