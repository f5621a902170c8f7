"""The model store in S3: ``S3Store`` and the pieces it is made of.

    store.py   the store (same interface as ``LocalStore``)
    layout.py  where a model's objects live under ``s3://bucket/prefix``
    client.py  the boto3 client's settings; boto3 is imported on first use only
    errors.py  botocore errors → ``ModelStoreError``
    reads.py   bounded, sha256-checked reads
    cache.py   the verified on-disk copy a handler loads from

Importing this package never imports boto3.
"""

from model_store.s3.client import S3Client, S3ClientConfig, make_s3_client
from model_store.s3.layout import S3Location
from model_store.s3.store import RUNTIME_CLIENT_CONFIG, S3Store

__all__ = ["RUNTIME_CLIENT_CONFIG", "S3Client", "S3ClientConfig", "S3Location", "S3Store",
           "make_s3_client"]
