"""The pages: catalog, a demo per model, the API docs. Server-rendered HTML; behaviour
comes from external ES modules under /static (the CSP allows no inline script)."""

from __future__ import annotations

from collections.abc import Sequence

from model_store.manifest import ImageSpec, Manifest, TabularSpec
from webapp.catalog import CatalogEntry, CatalogSnapshot
from webapp.html import (
    Assets,
    Markup,
    count,
    data_json,
    h,
    join,
    layout,
    millis,
    percent,
    size,
    usd,
)

TASK_LABELS = {"image-classification": "image classification",
               "tabular-classification": "tabular classification",
               "tabular-regression": "tabular regression"}


SERVING = {False: "its own function", True: "pooled: the stage's shared pool function"}
# A pooled model has no cold start of its own: its pool loads it on first use (docs/pool.md).
POOLED_COLD_START = "loaded on first use"


def _facts(entry: CatalogEntry) -> Markup:
    manifest, metrics, bench = entry.manifest, entry.manifest.metrics, entry.bench
    cold = (POOLED_COLD_START if entry.pooled
            else millis(bench.cold_start_ms) if bench else "not measured")
    rows = [
        ("accuracy", percent(metrics.student_accuracy)),
        ("teacher", percent(metrics.teacher_accuracy)),
        ("size", size(manifest.bytes)),
        ("parameters", count(metrics.student_parameters)),
        ("weights", manifest.quantization.method),
        ("served by", SERVING[entry.pooled]),
        ("cold start", cold),
        ("warm latency", millis(bench.warm_ms) if bench else "not measured"),
        ("per 1M requests", usd(bench.cost_per_million) if bench else "—"),
    ]
    return h('<dl class="facts">{}</dl>',
             join(h("<div><dt>{}</dt><dd>{}</dd></div>", k, v) for k, v in rows))


def _pooled_badge(entry: CatalogEntry) -> Markup:
    return h(' <span class="badge">pooled</span>') if entry.pooled else Markup("")


def catalog_page(snapshot: CatalogSnapshot, assets: Assets) -> str:
    cards = [h(
        '<article class="model" data-model="{name}" data-serving="{serving}">'
        '<h2><a href="{demo}">{name}</a> <span class="version">v{version}</span>{badge}</h2>'
        '<p class="task">{task}</p><p class="description">{description}</p>{facts}'
        '<p class="actions"><a class="button" href="{demo}">Try it</a></p></article>',
        name=e.name, version=e.manifest.version, demo=assets.page(f"/demo/{e.name}"),
        serving="pooled" if e.pooled else "dedicated", badge=_pooled_badge(e),
        task=TASK_LABELS.get(e.manifest.task, e.manifest.task),
        description=e.manifest.description, facts=_facts(e)) for e in snapshot.entries]
    if not cards:
        cards = [h('<p class="empty">No models in the store yet: publish one with '
                   '<code>featherserve train ...</code>.</p>')]
    note = Markup("")
    if snapshot.unreadable:
        note = h('<p class="warning">Not shown (unreadable manifest): {}</p>',
                 ", ".join(snapshot.unreadable))
    measured = next((e.bench for e in snapshot.entries if e.bench), None)
    bench_note = (h('<p class="note">Latency, cold start and cost from the benchmark of '
                    '{} ({}); cost at AWS list prices (Lambda + API Gateway).</p>',
                    measured.measured_at, measured.machine) if measured else Markup(""))
    pooled = sum(1 for e in snapshot.entries if e.pooled)
    served = (h("{} by a Lambda function of its own, {} by the stage's shared pool function",
                len(snapshot.entries) - pooled, pooled) if pooled
              else h("each its own Lambda function"))
    body = h('<h1>Models</h1><p class="lead">{n} model{s} served, {served}. Open one to '
             'try it: the same model also runs in your browser.</p>'
             '<section class="catalog">{cards}</section>{note}{bench}',
             n=len(snapshot.entries), s="" if len(snapshot.entries) == 1 else "s",
             served=served, cards=join(cards), note=note, bench=bench_note)
    return layout(assets, "Models", body, main_attrs=h(' id="catalog"'))


def _image_inputs(spec: ImageSpec) -> Markup:
    draw = Markup("")
    if spec.resize == "ink-box":
        draw = h('<div class="draw"><canvas id="pad" width="280" height="280" '
                 'aria-label="drawing pad: draw with a mouse or a finger"></canvas>'
                 '<div class="row"><button type="button" id="predict-drawing">Read the '
                 'drawing</button><button type="button" id="clear-pad" class="secondary">'
                 'Clear</button></div></div>')
    return h(
        '<section class="inputs"><h2>Your image</h2>'
        '<div id="drop" class="drop" tabindex="0">Drop an image here, paste one, or'
        '<div class="row"><label class="button">Choose a file<input id="file" type="file" '
        'accept="image/*" hidden></label><label class="button secondary">Take a photo'
        '<input id="camera" type="file" accept="image/*" capture="environment" hidden>'
        '</label></div></div>{draw}<figure class="preview" hidden><img id="preview" '
        'alt="the image sent to the model"></figure></section>', draw=draw)


def _tabular_inputs(spec: TabularSpec, example: Sequence[float | str | None] | None
                    ) -> Markup:
    fields = []
    for index, feature in enumerate(spec.features):
        field_id = f"f{index}"
        value = None if example is None else example[index]
        hint = Markup("")
        if feature.kind == "category":
            options = [h('<option value="{}"{}>{}</option>', c,
                         Markup(" selected") if c == value else Markup(""), c)
                       for c in feature.categories]
            if feature.allow_missing:
                options.insert(0, h('<option value=""{}>(missing)</option>',
                                    Markup(" selected") if value is None else Markup("")))
            control = h('<select id="{}" name="{}" data-kind="category">{}</select>',
                        field_id, feature.name, join(options))
        else:
            required = Markup("") if feature.allow_missing else Markup(" required")
            shown = "" if value is None else repr(value)
            control = h('<input id="{}" name="{}" data-kind="number" type="number" step="any"'
                        '{} inputmode="decimal" value="{}">', field_id, feature.name, required,
                        shown)
            if feature.min is not None and feature.max is not None:
                hint = h("<small>{} to {}{}</small>", f"{feature.min:g}", f"{feature.max:g}",
                         "; empty: missing" if feature.allow_missing else "")
        fields.append(h('<div class="field"><label for="{}">{}</label>{}{}</div>',
                        field_id, feature.name, control, hint))
    source = ("Prefilled with a real row from the examples." if example is not None
              else "No example row for this model: enter values.")
    return h('<section class="inputs"><h2>Features</h2><p class="note">{source}</p>'
             '<form id="features" novalidate><div class="fields">{fields}</div>'
             '<div class="row"><button type="submit">Predict</button>'
             '<button type="reset" class="secondary">Reset</button></div></form></section>',
             source=source, fields=join(fields))


def _results() -> Markup:
    column = ('<div class="answer" id="{id}" aria-live="polite"><h3>{title}</h3>'
              '<p class="label">—</p><ol class="bars"></ol><p class="timing"></p></div>')
    return h('<section class="results" hidden><h2>Answer</h2><div class="answers">{}{}</div>'
             '<p id="parity" class="parity"></p></section>'
             '<p id="error" class="error" role="alert" hidden></p>',
             h(column, id="server", title="Lambda (server)"),
             h(column, id="browser", title="Your browser (onnxruntime-web)"))


def demo_page(entry: CatalogEntry, assets: Assets, max_body_bytes: int) -> str:
    manifest: Manifest = entry.manifest
    spec = manifest.input
    inputs = (_image_inputs(spec) if isinstance(spec, ImageSpec)
              else _tabular_inputs(spec, entry.example_row))
    attrs = h(' id="demo" data-model="{name}" data-version="{version}" data-kind="{kind}" '
              'data-predict-url="{predict}" data-model-url="{model}" data-ort-url="{ort}" '
              'data-ort-base="{ort_base}" data-input="{spec}" data-labels="{labels}" '
              'data-features="{features}" data-max-bytes="{max_bytes}" data-output-kind="{output}" '
              'data-serving="{serving}"',
              name=manifest.name, version=manifest.version,
              serving="pooled" if entry.pooled else "dedicated",
              kind="image" if isinstance(spec, ImageSpec) else "tabular",
              predict=assets.page(f"/demo/{manifest.name}/predict"),
              model=assets.model_file(manifest.name, manifest.sha256),
              ort=assets.ort("ort.wasm.min.mjs"), ort_base=assets.ort_base(),
              spec=data_json(manifest.to_dict()["input"]), labels=data_json(list(manifest.labels)),
              features=data_json(list(spec.feature_names) if isinstance(spec, TabularSpec)
                                 else []),
              max_bytes=max_body_bytes, output=manifest.output.kind)
    body = h('<p class="crumbs"><a href="{home}">Models</a> / {name}</p>'
             '<h1>{name} <span class="version">v{version}</span>{badge}</h1>'
             '<p class="description">{description}</p>{serving}<div class="demo-grid">{inputs}'
             '{results}</div>', home=assets.page("/"), name=manifest.name,
             version=manifest.version, badge=_pooled_badge(entry),
             description=manifest.description, serving=_serving_note(entry), inputs=inputs,
             results=_results())
    return layout(assets, f"{manifest.name} demo", body, script="demo.js", main_attrs=attrs)


def _serving_note(entry: CatalogEntry) -> Markup:
    if not entry.pooled:
        return Markup("")
    return h('<p class="note serving">Pooled: served by the stage\'s shared pool function, '
             'which loads it on first use (its version is the store alias the pool serves); '
             'the API and its answers are the same as for a model with a function of its '
             'own.</p>')


def docs_page(assets: Assets) -> str:
    body = h('<h1>API</h1><p class="lead">The whole service, described from the models\' '
             'manifests: <a href="{spec}">openapi.json</a> (OpenAPI 3.1).</p>'
             '<div id="spec" aria-live="polite"><p class="note">Loading…</p></div>',
             spec=assets.page("/openapi.json"))
    return layout(assets, "API", body, script="docs.js",
                  main_attrs=h(' id="docs" data-openapi-url="{}"', assets.page("/openapi.json")))


def not_found_page(assets: Assets, message: str) -> str:
    body = h('<h1>Not found</h1><p>{}</p><p><a href="{}">All models</a></p>',
             message, assets.page("/"))
    return layout(assets, "Not found", body)
