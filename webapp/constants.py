"""Every environment variable the web app reads, in one place."""

from __future__ import annotations

# The model store the catalog reads (manifests only): the same setting and default as the
# model functions. Deployed, the web catalog layer puts the manifests under /opt/models.
MODEL_SOURCE = "FEATHERSERVE_MODEL_SOURCE"
MODEL_VERSION = "FEATHERSERVE_MODEL_VERSION"
# Where the page loads its JavaScript, CSS, onnxruntime-web and model files from: "" means
# this app serves them under /static (local); deployed, the static-assets CDN's origin.
STATIC_URL = "FEATHERSERVE_STATIC_URL"
# The benchmark's results.json (cold start, warm latency); missing file: no numbers shown.
BENCH_RESULTS = "FEATHERSERVE_BENCH_RESULTS"
# Folder of ``<model>.json`` request bodies whose first instance prefills a tabular form.
EXAMPLES_DIR = "FEATHERSERVE_EXAMPLES_DIR"
# Demo predictions invoke the Lambda function "<prefix><model>" at this qualifier.
DEMO_FUNCTION_PREFIX = "FEATHERSERVE_DEMO_FUNCTION_PREFIX"
DEMO_QUALIFIER = "FEATHERSERVE_DEMO_QUALIFIER"
# A Lambda API endpoint other than AWS's: serverless-offline's Lambda port, locally.
DEMO_LAMBDA_ENDPOINT = "FEATHERSERVE_DEMO_LAMBDA_ENDPOINT"
# Set to "true" by serverless-offline in every function it runs: there the demo proxy
# invokes serverless-offline's Lambda endpoint only, never AWS (serverless_plugins/web_app.js
# sets the endpoint from the ports `sls offline start` was given).
IS_OFFLINE = "IS_OFFLINE"
DEMO_MAX_BODY_BYTES = "FEATHERSERVE_DEMO_MAX_BODY_BYTES"
# Folder of onnxruntime-web's dist files served under /static/ort/ (local only).
ORT_DIST = "FEATHERSERVE_ORT_DIST"
# memorySize of the model functions, for the catalog's cost per million requests.
MODEL_MEMORY_MB = "FEATHERSERVE_MODEL_MEMORY_MB"

# The stage's pooled models (docs/pool.md): the pool list `featherserve add NAME --pooled`
# writes; unset, handlers/pool_models.json in the task root (the web function's zip ships
# the handlers package whole beside webapp/; locally, the project root).
POOL_MODELS_FILE = "FEATHERSERVE_POOL_MODELS_FILE"
DEFAULT_POOL_MODELS_FILE = "handlers/pool_models.json"
# A pooled model's demo predictions invoke the stage's pool function "<prefix>pool".
POOL_FUNCTION = "pool"

DEFAULT_QUALIFIER = "live"
# The proxied invoke carries the image base64-encoded in an API Gateway event (4/3 growth
# plus the envelope) and Lambda's synchronous payload limit is 6 MB: 3 MB of image fits.
DEFAULT_DEMO_MAX_BODY_BYTES = 3_000_000
DEFAULT_MODEL_MEMORY_MB = 1024
# Where the layers unpack: /opt on Lambda; the fidelity runner's sandbox sets another (the
# same variable as model_runtime.constants.OPT_DIR).
OPT_DIR = "FEATHERSERVE_OPT_DIR"
DEFAULT_OPT_DIR = "/opt"
# The web catalog layer's folder under the opt dir (the manifests are under <opt>/models).
LAYER_WEB_DIR = "featherserve-web"
