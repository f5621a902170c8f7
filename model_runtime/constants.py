"""Every environment variable the handler runtime reads, in one place."""

from __future__ import annotations

# Where the model comes from: a folder (a layer's /opt/models or a local store) or, later,
# s3://bucket/prefix. Unset: /opt/models when it exists (Lambda), else the project's store.
MODEL_SOURCE = "FEATHERSERVE_MODEL_SOURCE"
# Where layers are unpacked: /opt on Lambda, which never sets this. Only a run of the
# packaged artifacts outside Lambda (`featherserve verify`) points it at its own folder.
OPT_DIR = "FEATHERSERVE_OPT_DIR"
# Where a model from S3 is cached: Lambda's only writable folder is /tmp.
MODEL_CACHE = "FEATHERSERVE_MODEL_CACHE"
# Version number or alias ("latest", "prod", ...) to serve.
MODEL_VERSION = "FEATHERSERVE_MODEL_VERSION"
MAX_BATCH = "FEATHERSERVE_MAX_BATCH"
MAX_BODY_BYTES = "FEATHERSERVE_MAX_BODY_BYTES"
TOP_K = "FEATHERSERVE_TOP_K"
# ONNX Runtime intra-op threads; Lambda gives one vCPU per 1,769 MB of memory.
THREADS = "FEATHERSERVE_THREADS"
MAX_IMAGE_PIXELS = "FEATHERSERVE_MAX_IMAGE_PIXELS"
# What all the images of one request may decode to together, in raster bytes (pixels ×
# bands × bytes per sample), charged from each header before decoding.
MAX_REQUEST_IMAGE_BYTES = "FEATHERSERVE_MAX_REQUEST_IMAGE_BYTES"
# The one browser origin allowed to read responses (API Gateway answers the preflight).
CORS_ORIGIN = "FEATHERSERVE_CORS_ORIGIN"
# Passes of built-in sample requests at init, so the first real request pays no lazy
# loading (0 turns it off; model_runtime.warmup).
WARMUP = "FEATHERSERVE_WARMUP"
# Bulk scoring (model_runtime.batch): the largest input object one invocation accepts,
# rows per inference chunk, and the one bucket whose notifications are served (empty: any).
BATCH_MAX_OBJECT_BYTES = "FEATHERSERVE_BATCH_MAX_OBJECT_BYTES"
BATCH_CHUNK_ROWS = "FEATHERSERVE_BATCH_CHUNK_ROWS"
BATCH_CHUNK_BYTES = "FEATHERSERVE_BATCH_CHUNK_BYTES"
BATCH_BUCKET = "FEATHERSERVE_BATCH_BUCKET"
# The columns of a file that pass through to its output lines (comma-separated; empty: every
# column that is not a feature), and the column holding the known answer to score against.
BATCH_KEEP = "FEATHERSERVE_BATCH_KEEP"
BATCH_TARGET = "FEATHERSERVE_BATCH_TARGET"
METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"
SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"

DEFAULT_MODEL_CACHE = "/tmp/featherserve/models"
DEFAULT_MAX_BATCH = 64
# Lambda's synchronous payload limit is 6 MB and API Gateway base64-encodes binary bodies
# (4/3 growth), so a decoded body above ~4.5 MB can never arrive intact anyway.
DEFAULT_MAX_BODY_BYTES = 4_500_000
DEFAULT_TOP_K = 5
DEFAULT_THREADS = 1
# Three passes: measured first-request ÷ warm 1.64× with one pass, 1.50× with two, 1.42×
# with four (tabular); a pass costs ~1.5 ms of init (tabular), ~2 ms (images).
DEFAULT_WARMUP = 3
DEFAULT_MAX_IMAGE_PIXELS = 4096 * 4096
# One 4096×4096 RGBA PNG, or five 8-bit greyscale ones: under 0.5 s of decoding here.
DEFAULT_MAX_REQUEST_IMAGE_BYTES = 96 * 1024 * 1024
# Client JSON nests 3 deep in the contract ({"instances": [{...}]}); a deeper body is refused
# before parsing (Python's parser recurses once per level).
MAX_JSON_DEPTH = 32
# Values (numbers, strings, lists, objects) in one JSON body: 64 instances of 1,000 features
# fit three times over; 1.5 million empty lists (a 4.5 MB body) do not.
MAX_JSON_VALUES = 200_000
# What one 15-minute invocation finishes with a wide margin: see README, "Score a file".
DEFAULT_BATCH_MAX_OBJECT_BYTES = 256 * 1024 * 1024
DEFAULT_BATCH_CHUNK_ROWS = 1024
# A chunk also ends once its rows took this much of the file: about one request body, so
# a chunk of wide rows parses to what one request may, not 1,024 times a row.
DEFAULT_BATCH_CHUNK_BYTES = 4 * 1024 * 1024
DEFAULT_NAMESPACE = "featherserve"
DEFAULT_SERVICE = "featherserve"

# Pooled models (model_runtime.pool): the pool list shipped with the function, the memory
# its loaded sessions may hold (bytes; unset: a share of the function's memory), at most how
# many stay loaded (0: no count limit), how long a model's alias is trusted before it is read
# again (promote and rollback reach the pool within this), and the models loaded at init.
POOL_MODELS_FILE = "FEATHERSERVE_POOL_MODELS_FILE"
POOL_MEMORY_BYTES = "FEATHERSERVE_POOL_MEMORY_BYTES"
POOL_MEMORY_PERCENT = "FEATHERSERVE_POOL_MEMORY_PERCENT"
POOL_MAX_MODELS = "FEATHERSERVE_POOL_MAX_MODELS"
POOL_ALIAS_TTL_S = "FEATHERSERVE_POOL_ALIAS_TTL_S"
POOL_WARM = "FEATHERSERVE_POOL_WARM"
# Set by Lambda: the function's memory in MB, and the folder its code is unpacked to.
FUNCTION_MEMORY_MB = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"
TASK_ROOT = "LAMBDA_TASK_ROOT"
DEFAULT_POOL_MODELS_FILE = "pool_models.json"
DEFAULT_POOL_MEMORY_PERCENT = 60
DEFAULT_POOL_ALIAS_TTL_S = 60
# Off Lambda (no AWS_LAMBDA_FUNCTION_MEMORY_SIZE), the pool budgets as for a 1,024 MB function.
DEFAULT_FUNCTION_MEMORY_MB = 1024
