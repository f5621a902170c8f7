"""The bulk path's fixtures (tests/support/bulk.py) for every test here: ``bulk``, a fresh
mocked account with the shipped models' bucket and queues, and their HTTP handlers."""

from tests.support.bulk import bulk, images, tabular

__all__ = ["bulk", "images", "tabular"]
