"""Which S3 objects an SQS message announces, for every shape AWS delivers them in."""

from __future__ import annotations

import json

import pytest

from featherserve.support.events import load_event
from model_runtime.batch.exceptions import UnreadableMessage
from model_runtime.batch.s3_events import CreatedObject, created_objects
from model_runtime.batch.settings import output_keys


def body_of(event_name: str) -> str:
    return load_event(event_name)["Records"][0]["body"]  # type: ignore[no-any-return]


def test_s3_notification_keys_are_url_decoded():
    (found,) = created_objects(body_of("breast_cancer_batch_sqs"))
    assert found == CreatedObject(
        bucket="featherserve-dev-bulk-123456789012-us-east-1",
        key="in/breast_cancer/2024-06-01/breast cancer rows.csv", size=5437,
        etag="dfc2b0ef613a59b0dd423f369a960c0b")


def test_s3s_test_event_announces_nothing():
    assert created_objects(body_of("digits_batch_sqs_test_event")) == []


def test_the_same_notification_through_sns_and_through_eventbridge():
    s3_body = body_of("breast_cancer_batch_sqs")
    sns = {"Type": "Notification", "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
           "TopicArn": "arn:aws:sns:us-east-1:123456789012:bulk-fanout",
           "Message": s3_body, "Timestamp": "2024-06-01T06:12:43.300Z"}
    eventbridge = {
        "version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created", "source": "aws.s3", "account": "123456789012",
        "time": "2024-06-01T06:12:43Z", "region": "us-east-1",
        "resources": ["arn:aws:s3:::featherserve-dev-bulk-123456789012-us-east-1"],
        "detail": {"version": "0",
                   "bucket": {"name": "featherserve-dev-bulk-123456789012-us-east-1"},
                   "object": {"key": "in/breast_cancer/2024-06-01/breast cancer rows.csv",
                              "size": 5437, "etag": "dfc2b0ef613a59b0dd423f369a960c0b",
                              "sequencer": "0066FA5C3B2A4C1F9E"},
                   "request-id": "C3D13FE58DE4C810", "reason": "PutObject"}}
    direct = created_objects(s3_body)
    assert created_objects(json.dumps(sns)) == direct
    assert created_objects(json.dumps(eventbridge)) == direct


def test_removals_and_other_events_announce_nothing():
    record = json.loads(body_of("breast_cancer_batch_sqs"))
    record["Records"][0]["eventName"] = "ObjectRemoved:Delete"
    assert created_objects(json.dumps(record)) == []


@pytest.mark.parametrize("body", [
    "", "not json", "[]", "null", json.dumps({"hello": "world"}),
    json.dumps({"Records": [{"eventSource": "aws:sqs"}]}),
    json.dumps({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put"}]}),
    json.dumps({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                             "s3": {"bucket": {"name": "b"}, "object": {"key": ""}}}]}),
    json.dumps({"Type": "Notification", "Message": "{not json"}),
    json.dumps({"Type": "Notification", "Message": json.dumps(
        {"Type": "Notification", "Message": "{}"})}),
])
def test_anything_else_is_unreadable(body):
    with pytest.raises(UnreadableMessage):
        created_objects(body)


@pytest.mark.parametrize(("key", "expected"), [
    ("in/digits/a.png", ("out/digits/a.png.predictions.jsonl", "out/digits/a.png.summary.json")),
    ("in/digits/june/b c.tar", ("out/digits/june/b c.tar.predictions.jsonl",
                                "out/digits/june/b c.tar.summary.json")),
    ("in/digits/", None),  # a folder marker
    ("in/digits/folder/", None),
    ("in/digitsx/a.png", None),  # another model's prefix
    ("out/digits/a.png.predictions.jsonl", None),  # the output never loops back
    ("in/breast_cancer/a.csv", None),
])
def test_only_the_models_input_prefix_has_outputs(key, expected):
    assert output_keys("digits", key) == expected
