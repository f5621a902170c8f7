"""What can go wrong with one SQS message, beside the rows' own (HTTP-family) errors.

    BatchError
    ├── UnreadableMessage   the message is not an S3 notification: it fails, SQS retries it,
    │                       then parks it in the dead-letter queue for a person to look at
    ├── SourceMissing       the object named by the notification is not there: same path
    └── OutOfTime           too little of the invocation is left to start (or finish) an
                            object: the message fails and is retried by a fresh invocation

A file that can never be scored (empty, broken header, not UTF-8, too large, too large once
unpacked, a key too long for its outputs' keys) is not one of these: it is refused with the
contract's error shape in its summary, and the message is done (retrying cannot help). Row
errors go to that row's output line.
"""

from __future__ import annotations


class BatchError(Exception):
    """Base of the bulk path's own failures."""


class UnreadableMessage(BatchError):
    pass


class SourceMissing(BatchError):
    pass


class OutOfTime(BatchError):
    def __init__(self, message: str, *, rows_done: int = 0) -> None:
        super().__init__(message)
        self.rows_done = rows_done
