"""The bulk path's generated parts: each served model's batch function (in
``generated/functions.yml``) and ``generated/bulk.yml`` (the stage's bucket, and per model a
queue with its dead-letter queue and the policy that lets the bucket send to it).

Files created under ``in/<model>/`` of the bucket notify that model's queue; its batch
function (``handlers/<model>.batch_handler``) scores them to ``out/<model>/``, which no
notification watches, so output can never trigger a function. Every resource here is
named ``Bulk...``: serverless_plugins/bulk.js leaves them and the batch functions out of a
stage whose ``params.batch`` is false, and checks their timeouts against each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

BULK_FILE = "bulk.yml"
BATCH_SUFFIX = "-batch"  # a model name has no '-', so this never names another model


class BulkModel(Protocol):
    """What owns a queue: a dedicated model, or the pool (one queue for its models)."""

    @property
    def name(self) -> str: ...

    @property
    def queue_key(self) -> str: ...


class LayeredModel(BulkModel, Protocol):
    """A dedicated model: its batch function uses its model layer."""

    @property
    def layer_ref(self) -> str: ...


def batch_function_name(model: str) -> str:
    return model + BATCH_SUFFIX


def queue_id(model: BulkModel) -> str:
    return f"Bulk{model.queue_key}Queue"


def batch_function_lines(model: LayeredModel, label: str, max_body_bytes: int) -> list[str]:
    """The model's batch function, fed by its queue (a block of generated/functions.yml)."""
    name = model.name
    return [
        f"{batch_function_name(name)}:",
        f"  handler: handlers/{name}.batch_handler",
        f'  description: "{name}, bulk: scores files dropped under in/{name}/ of the stage\'s '
        'bulk bucket"',
        "  # One full vCPU (1,769 MB by default): a file is scored on one core, and while it is",
        "  # CPU-bound the cost per row is the same at any memory size, only slower below it.",
        "  memorySize: ${param:batchMemorySize}",
        "  # The queue's visibility timeout must exceed this (bulk.js checks it).",
        "  timeout: ${param:batchTimeout}",
        "  environment:",
        "    # The columns that pass through to each output line (empty: every column that is",
        "    # not a feature) and the one to score against (empty: none): README \"Score a file\".",
        '    FEATHERSERVE_BATCH_KEEP: "${param:batchKeep}"',
        '    FEATHERSERVE_BATCH_TARGET: "${param:batchTarget}"',
        f'    FEATHERSERVE_MODEL_LAYER: "{label}"',
        "    # One row (or image) may be as large as one HTTP request body, no larger.",
        f'    FEATHERSERVE_MAX_BODY_BYTES: "{max_body_bytes}"',
        '    FEATHERSERVE_BATCH_MAX_OBJECT_BYTES: "${param:batchMaxObjectBytes}"',
        "  layers:",
        "    - { Ref: RuntimeLambdaLayer }",
        f"    - {{ Ref: {model.layer_ref} }}",
        "  events:",
        "    - sqs:",
        f'        arn: {{ "Fn::GetAtt": [{queue_id(model)}, Arn] }}',
        "        batchSize: ${param:batchSize}",
        "        # Each failed message is reported alone; its neighbours are done.",
        "        functionResponseType: ReportBatchItemFailures",
        "        maximumConcurrency: ${param:batchMaxConcurrency}",
        "",
    ]


COMMENT = """\
# Bulk scoring (README "Score a file"): the stage's bucket, and per served model a queue
# (with its dead-letter queue) that hears ObjectCreated under in/<model>/ and feeds the
# model's batch function in functions.yml. Output goes to out/<model>/, which nothing
# watches. serverless_plugins/bulk.js leaves every Bulk* resource and the batch functions
# out of a stage whose params.batch is false; function_roles.js gives each batch function
# its own prefixes and queue.
"""


def render_bulk(models: Sequence[BulkModel], header: str,
                pools: Sequence[tuple[BulkModel, Sequence[str]]] = ()) -> str:
    """``pools``: each pool's queue owner and its models (one queue, a notification each)."""
    lines = [header, COMMENT, "Resources:"]
    lines += _bucket(models, pools)
    for model in [*models, *(pool for pool, _ in pools)]:
        lines += _queues(model)
    lines += ["", "Outputs:",
              "  BulkBucketName:",
              "    Description: Drop files under in/<model>/; predictions appear under "
              "out/<model>/",
              "    Value: { Ref: BulkBucket }"]
    return "\n".join(lines) + "\n"


def _bucket(models: Sequence[BulkModel],
            pools: Sequence[tuple[BulkModel, Sequence[str]]] = ()) -> list[str]:
    owners = [*models, *(pool for pool, _ in pools)]
    policies = ", ".join(f"{queue_id(m)}Policy" for m in owners)
    targets = [(m.name, m) for m in models]
    targets += [(name, pool) for pool, names in pools for name in names]
    lines = [
        "  BulkBucket:",
        "    Type: AWS::S3::Bucket",
        "    # The files are the user's data: `sls remove` leaves the bucket (empty it, then",
        "    # delete it yourself).",
        "    DeletionPolicy: Retain",
        "    UpdateReplacePolicy: Retain",
        *(["    # S3 checks that it may send to each queue before it saves the notifications.",
           f"    DependsOn: [{policies}]"] if owners else []),
        "    Properties:",
        '      BucketName: { "Fn::Sub": "${param:bulkBucket}" }',
        "      BucketEncryption:",
        "        ServerSideEncryptionConfiguration:",
        "          - ServerSideEncryptionByDefault: { SSEAlgorithm: AES256 }",
        "            BucketKeyEnabled: true",
        "      PublicAccessBlockConfiguration:",
        "        BlockPublicAcls: true",
        "        BlockPublicPolicy: true",
        "        IgnorePublicAcls: true",
        "        RestrictPublicBuckets: true",
        "      OwnershipControls:",
        "        Rules: [{ ObjectOwnership: BucketOwnerEnforced }]",
        "      LifecycleConfiguration:",
        "        Rules:",
        "          # Parts of an output whose invocation was killed before it could abort them.",
        "          - Id: abort-incomplete-uploads",
        "            Status: Enabled",
        "            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }",
    ]
    if targets:
        lines += ["      NotificationConfiguration:", "        QueueConfigurations:"]
        for name, owner in targets:
            lines += [
                '          - Event: "s3:ObjectCreated:*"',
                "            Filter: { S3Key: { Rules: [{ Name: prefix, Value: "
                f"in/{name}/ }}] }} }}",
                f'            Queue: {{ "Fn::GetAtt": [{queue_id(owner)}, Arn] }}',
            ]
    lines += [
        "  BulkBucketPolicy:",
        "    Type: AWS::S3::BucketPolicy",
        "    Properties:",
        "      Bucket: { Ref: BulkBucket }",
        "      PolicyDocument:",
        '        Version: "2012-10-17"',
        "        Statement:",
        "          - Sid: TlsOnly",
        "            Effect: Deny",
        '            Principal: "*"',
        '            Action: "s3:*"',
        "            Resource:",
        '              - { "Fn::GetAtt": [BulkBucket, Arn] }',
        '              - { "Fn::Join": ["", [{ "Fn::GetAtt": [BulkBucket, Arn] }, "/*"]] }',
        '            Condition: { Bool: { "aws:SecureTransport": "false" } }',
    ]
    return lines


def _queues(model: BulkModel) -> list[str]:
    queue, name = queue_id(model), model.name
    return [
        f"  {queue}DeadLetter:",
        "    Type: AWS::SQS::Queue",
        "    Properties:",
        f"      QueueName: ${{self:service}}-${{sls:stage}}-{name}-bulk-dlq",
        "      SqsManagedSseEnabled: true",
        "      # SQS's longest: two weeks to look at a message that failed every attempt.",
        "      MessageRetentionPeriod: 1209600",
        f"  {queue}:",
        "    Type: AWS::SQS::Queue",
        "    Properties:",
        f"      QueueName: ${{self:service}}-${{sls:stage}}-{name}-bulk",
        "      SqsManagedSseEnabled: true",
        "      VisibilityTimeout: ${param:batchVisibilityTimeout}",
        "      RedrivePolicy:",
        f'        deadLetterTargetArn: {{ "Fn::GetAtt": [{queue}DeadLetter, Arn] }}',
        "        maxReceiveCount: ${param:batchMaxReceiveCount}",
        f"  {queue}Policy:",
        "    Type: AWS::SQS::QueuePolicy",
        "    Properties:",
        f"      Queues: [{{ Ref: {queue} }}]",
        "      PolicyDocument:",
        '        Version: "2012-10-17"',
        "        Statement:",
        "          - Sid: BucketNotifications",
        "            Effect: Allow",
        "            Principal: { Service: s3.amazonaws.com }",
        "            Action: sqs:SendMessage",
        f'            Resource: {{ "Fn::GetAtt": [{queue}, Arn] }}',
        "            Condition:",
        "              # The bucket by name: a Ref would make the bucket and this policy",
        "              # depend on each other.",
        '              ArnEquals: { "aws:SourceArn": { "Fn::Sub": '
        '"arn:${AWS::Partition}:s3:::${param:bulkBucket}" } }',
        '              StringEquals: { "aws:SourceAccount": { Ref: "AWS::AccountId" } }',
    ]
