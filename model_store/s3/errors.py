"""botocore's errors, as the model store's exception tree (see model_store/exceptions.py).

    NoCredentialsError, PartialCredentialsError      StoreUnavailableError (how to give creds)
    ClientError NoSuchBucket                         StoreUnavailableError (names the bucket)
    ClientError AccessDenied, InvalidAccessKeyId...  StoreUnavailableError (which permissions)
    ClientError SlowDown, Throttling..., HTTP 5xx    StoreUnavailableError (throttled/down)
    ConnectTimeoutError, EndpointConnectionError     StoreUnavailableError (cannot connect)
    ReadTimeoutError, ConnectionClosedError, ...     StoreUnavailableError (no answer in time)
    any other ClientError                            ModelStoreError (code and message)

``NoSuchKey`` is not translated here: the store knows what a missing key means.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from model_store.exceptions import ModelStoreError, StoreUnavailableError
from model_store.s3.layout import S3Location

MISSING_KEY_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
CONFLICT_CODES = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict"})
THROTTLING_CODES = frozenset({
    "SlowDown", "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled",
    "RequestThrottledException", "TooManyRequestsException", "RequestLimitExceeded",
    "ServiceUnavailable", "InternalError", "RequestTimeout",
})
ACCESS_CODES = frozenset({
    "AccessDenied", "403", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch",
    "ExpiredToken", "InvalidToken", "TokenRefreshRequired", "AllAccessDisabled",
})
HOW_TO_GIVE_CREDENTIALS = (
    "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (plus AWS_SESSION_TOKEN for temporary "
    "keys), or AWS_PROFILE with a profile in ~/.aws/credentials, or run where a role provides "
    "them (the Lambda execution role)")


def error_code(exc: BaseException) -> str:
    """The S3 error code of a botocore ``ClientError`` ("" for anything else)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))


def _status(exc: BaseException) -> int:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return 0
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def translate(exc: Exception, location: S3Location, action: str) -> ModelStoreError | None:
    """The store error for ``exc`` raised while doing ``action``; None if it is not botocore's."""
    from botocore import exceptions as boto  # already imported: a client raised ``exc``

    where = f"{action} in {location.url}"
    if isinstance(exc, boto.NoCredentialsError | boto.PartialCredentialsError):
        return StoreUnavailableError(f"{where}: no usable AWS credentials ({exc}); "
                                     f"{HOW_TO_GIVE_CREDENTIALS}")
    if isinstance(exc, boto.ConnectTimeoutError):
        return StoreUnavailableError(f"{where}: could not connect to S3 in time ({exc}); "
                                     "check the network, the endpoint and the timeouts")
    if isinstance(exc, boto.EndpointConnectionError):
        return StoreUnavailableError(f"{where}: cannot reach S3 ({exc}); check the network "
                                     "and AWS_ENDPOINT_URL, if set")
    if isinstance(exc, boto.ReadTimeoutError):
        return StoreUnavailableError(f"{where}: S3 did not answer in time ({exc}); "
                                     "try again, or raise the read timeout")
    if isinstance(exc, boto.ClientError):
        return _translate_client_error(exc, location, where)
    if isinstance(exc, boto.BotoCoreError):  # connection closed, streaming errors, ...
        return StoreUnavailableError(f"{where}: {type(exc).__name__}: {exc}")
    return None


def _translate_client_error(exc: Exception, location: S3Location, where: str
                            ) -> ModelStoreError:
    code, status = error_code(exc), _status(exc)
    if code == "NoSuchBucket":
        return StoreUnavailableError(
            f"{where}: bucket {location.bucket!r} does not exist (or is in another account); "
            "create it or fix the store location")
    if code in THROTTLING_CODES or status in (429, 500, 502, 503, 504):
        return StoreUnavailableError(f"{where}: S3 is throttling or unavailable ({exc}); "
                                     "try again later")
    if code in ACCESS_CODES:
        return StoreUnavailableError(
            f"{where}: access denied ({exc}); the credentials need s3:ListBucket on "
            f"{location.bucket!r} and s3:GetObject (s3:PutObject to publish) on its keys")
    return ModelStoreError(f"{where}: S3 answered {code or status}: {exc}")


@contextlib.contextmanager
def s3_errors(location: S3Location, action: str) -> Iterator[None]:
    """Re-raise botocore errors from the block as store errors that say what to do."""
    try:
        yield
    except ModelStoreError:
        raise
    except Exception as exc:
        error = translate(exc, location, action)
        if error is None:
            raise
        raise error from exc


def is_missing_key(exc: Any) -> bool:
    return error_code(exc) in MISSING_KEY_CODES


def is_write_conflict(exc: Any) -> bool:
    return error_code(exc) in CONFLICT_CODES
