"""Bulk scoring (S3 → SQS → the batch functions): a private TLS-only bucket, one queue per
model with its dead-letter queue and alarm, and each batch function's narrow rights; a
stage may leave it out."""

from __future__ import annotations

import json

import pytest

from tests.support.deploy import MODELS
from tests.support.template import (
    BULK_ARN,
    BULK_BUCKET,
    STAGE_PARAMS,
    alarms,
    bulk_queue_ids,
    dead_letter_ids,
    functions,
    is_batch,
    of_type,
    policy_statements,
)

pytestmark = pytest.mark.e2e


def test_the_bulk_bucket_is_encrypted_private_and_tls_only(template):
    bucket = template["Resources"]["BulkBucket"]
    properties = bucket["Properties"]
    assert properties["BucketName"] == {"Fn::Sub": BULK_BUCKET}
    (rule,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True}
    assert properties["OwnershipControls"] == {"Rules": [{"ObjectOwnership":
                                                           "BucketOwnerEnforced"}]}
    (lifecycle,) = properties["LifecycleConfiguration"]["Rules"]
    assert lifecycle["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    # Users' files: removing the stack leaves the bucket.
    assert bucket["DeletionPolicy"] == bucket["UpdateReplacePolicy"] == "Retain"
    (policy,) = [p["Properties"] for p in of_type(template, "AWS::S3::BucketPolicy").values()
                 if p["Properties"]["Bucket"] == {"Ref": "BulkBucket"}]
    (deny,) = policy["PolicyDocument"]["Statement"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "s3:*")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Resource"] == [
        {"Fn::GetAtt": ["BulkBucket", "Arn"]},
        {"Fn::Join": ["", [{"Fn::GetAtt": ["BulkBucket", "Arn"]}, "/*"]]}]
    assert template["Outputs"]["BulkBucketName"]["Value"] == {"Ref": "BulkBucket"}


def test_only_each_models_input_prefix_notifies_its_own_queue(template):
    queues = bulk_queue_ids(template)
    assert sorted(queues) == sorted(MODELS)
    assert len(set(queues.values())) == len(MODELS)
    # Nothing watches out/: the function's output can never trigger it again.
    assert "out/" not in json.dumps(template["Resources"]["BulkBucket"])
    # S3 may send to a queue only from this bucket of this account; the bucket waits for
    # the policies (S3 checks them when it saves the notifications).
    policies = {p["Properties"]["Queues"][0]["Ref"]: p["Properties"]["PolicyDocument"]
                for p in of_type(template, "AWS::SQS::QueuePolicy").values()}
    assert set(queues.values()) <= set(policies)
    for queue_id in queues.values():
        document = policies[queue_id]
        # TLS only first (test_every_queue_refuses_requests_without_tls), then S3's right.
        _, statement = document["Statement"]
        assert statement["Effect"] == "Allow"
        assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
        assert statement["Action"] == "sqs:SendMessage"
        assert statement["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]}
        assert statement["Condition"] == {
            "ArnEquals": {"aws:SourceArn": {"Fn::Sub": BULK_ARN}},
            "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
        assert f"{queue_id}Policy" in template["Resources"]["BulkBucket"]["DependsOn"]


def test_each_queue_has_a_dead_letter_queue_and_outlasts_its_function(template):
    fns = {p["Handler"]: (k, p) for k, p in functions(template).items()}
    mappings = [m["Properties"] for m in
                of_type(template, "AWS::Lambda::EventSourceMapping").values()]
    assert len(mappings) == len(MODELS)
    for model, queue_id in bulk_queue_ids(template).items():
        queue = template["Resources"][queue_id]["Properties"]
        assert queue["QueueName"] == f"featherserve-sec-{model}-bulk"
        assert queue["SqsManagedSseEnabled"] is True
        redrive = queue["RedrivePolicy"]
        assert 2 <= redrive["maxReceiveCount"] <= 5
        dead_letter_id = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
        dead_letter = template["Resources"][dead_letter_id]["Properties"]
        assert dead_letter["QueueName"] == f"featherserve-sec-{model}-bulk-dlq"
        assert dead_letter["MessageRetentionPeriod"] >= queue.get("MessageRetentionPeriod",
                                                                  345600)
        function_id, function = fns[f"handlers/{model}.batch_handler"]
        assert queue["VisibilityTimeout"] > function["Timeout"]
        (mapping,) = [m for m in mappings if m["EventSourceArn"] == {
            "Fn::GetAtt": [queue_id, "Arn"]}]
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert 1 <= mapping["BatchSize"] <= 10
        assert mapping["ScalingConfig"]["MaximumConcurrency"] >= 2
        # Lambda polls as the function's live alias (rolled back with it).
        target = mapping["FunctionName"]["Fn::Join"][1]
        assert target == [{"Fn::GetAtt": [function_id, "Arn"]}, "live"]


def test_every_queue_refuses_requests_without_tls(template):
    queues = of_type(template, "AWS::SQS::Queue")
    assert len(queues) == 2 * len(MODELS)  # each model's queue and its dead-letter queue
    covered = set()
    for policy in of_type(template, "AWS::SQS::QueuePolicy").values():
        properties = policy["Properties"]
        ids = [q["Ref"] for q in properties["Queues"]]
        covered.update(ids)
        (deny,) = [s for s in properties["PolicyDocument"]["Statement"]
                   if s["Effect"] == "Deny"]
        assert (deny["Principal"], deny["Action"]) == ("*", "sqs:*")
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert deny["Resource"] == [{"Fn::GetAtt": [i, "Arn"]} for i in ids]
    assert covered == set(queues)


@pytest.mark.parametrize("fixture", ["template", "stage_template"])
def test_a_message_in_any_dead_letter_queue_raises_an_alarm(request, fixture):
    template = request.getfixturevalue(fixture)
    found = alarms(template)
    dead_letters = dead_letter_ids(template)
    assert len(set(dead_letters.values())) == len(MODELS)
    depth = {k: a for k, a in found.items() if a.get("Namespace") == "AWS/SQS"}
    assert len(depth) == len(MODELS)
    for dead_letter_id in dead_letters.values():
        (alarm,) = [a for a in depth.values() if a["Dimensions"] == [
            {"Name": "QueueName", "Value": {"Fn::GetAtt": [dead_letter_id, "QueueName"]}}]]
        assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
        assert alarm["Statistic"] == "Maximum"
        if fixture == "stage_template":  # the same topic as every other alarm
            assert alarm["AlarmActions"] == alarm["OKActions"] == [STAGE_PARAMS["alarmTopicArn"]]
        else:
            assert "AlarmActions" not in alarm


def test_without_bulk_scoring_there_is_no_queue_alarm(no_bulk_template):
    assert not [a for a in alarms(no_bulk_template).values() if a.get("Namespace") == "AWS/SQS"]
    assert not of_type(no_bulk_template, "AWS::SQS::QueuePolicy")


def test_each_batch_function_reads_its_input_writes_its_output_and_polls_its_queue(template):
    roles = of_type(template, "AWS::IAM::Role")
    queues = bulk_queue_ids(template)
    batch = {p["Handler"].split("/")[1].split(".")[0]: p
             for p in functions(template).values() if is_batch(p)}
    assert sorted(batch) == sorted(MODELS)
    for model, properties in batch.items():
        variables = properties["Environment"]["Variables"]
        assert int(variables["FEATHERSERVE_BATCH_MAX_OBJECT_BYTES"]) > 0
        # Its stage's bucket only (bulk.js sets it in the compiled template: invoke local
        # cannot resolve a Ref); a message naming another bucket is refused.
        assert variables["FEATHERSERVE_BATCH_BUCKET"] == {"Ref": "BulkBucket"}
        _, read, write, poll = policy_statements(roles[properties["Role"]["Fn::GetAtt"][0]])
        assert read == {"Effect": "Allow", "Action": ["s3:GetObject"],
                        "Resource": [{"Fn::Sub": f"{BULK_ARN}/in/{model}/*"}]}
        assert write == {"Effect": "Allow",
                         "Action": ["s3:PutObject", "s3:AbortMultipartUpload",
                                    "s3:DeleteObject"],
                         "Resource": [{"Fn::Sub": f"{BULK_ARN}/out/{model}/*"}]}
        assert poll == {"Effect": "Allow",
                        "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage",
                                   "sqs:GetQueueAttributes"],
                        "Resource": [{"Fn::GetAtt": [queues[model], "Arn"]}]}


def test_a_stage_can_leave_bulk_scoring_out(no_bulk_template):
    resources = no_bulk_template["Resources"]
    assert not [k for k in resources if k.startswith("Bulk")]
    assert not of_type(no_bulk_template, "AWS::Lambda::EventSourceMapping")
    assert not [p for p in functions(no_bulk_template).values() if is_batch(p)]
    assert len(functions(no_bulk_template)) >= len(MODELS)
    assert "BulkBucketName" not in no_bulk_template.get("Outputs", {})
