'use strict';

// Least privilege: one IAM role per function instead of the framework's shared role.
//
// The framework's default role lets every function of the service write every other
// function's logs (and create log groups). Here each function gets a role that can do
// exactly what its model needs:
//   - write to its own log group (created by the stack, with its retention), nothing else;
//   - with `params.modelSource: s3://bucket/prefix`, read its own model's keys in that store
//     (models/<name>/...) and the content-addressed model bytes (blobs/sha256/...), and list
//     only its own model's folder. Serving from a layer (the default) needs no S3 access,
//     so then there is none.
//   - a model's batch function (handler `handlers/<model>.batch_handler`, see bulk.js) also
//     reads in/<model>/ of the stage's bulk bucket, writes (and clears) out/<model>/, and
//     receives and deletes the messages of the one queue that feeds it.
// A function's model is the function's name in serverless.yml. Functions that name their
// own `role` keep it.

const { batchModel, feedingQueue } = require('./bulk');
// The pool function and its batch function (handlers/pool.py, featherserve/codegen/pool_files.py).
const POOL_HANDLER = /^handlers\/pool\.(handler|batch_handler)$/;

const S3_SCHEME = 's3://';
const BUCKET = /^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]$/;

function parseModelSource(source, ServerlessError = Error) {
  if (!source) return null;
  if (!source.startsWith(S3_SCHEME)) {
    throw new ServerlessError(
      `params.modelSource must be empty (serve from the model layer) or s3://bucket/prefix, ` +
        `got ${JSON.stringify(source)}`,
      'FEATHERSERVE_MODEL_SOURCE'
    );
  }
  const [bucket, ...parts] = source.slice(S3_SCHEME.length).split('/');
  if (!BUCKET.test(bucket)) {
    throw new ServerlessError(`${source}: ${bucket} is not a bucket name`, 'FEATHERSERVE_MODEL_SOURCE');
  }
  const prefix = parts.filter(Boolean).map((part) => `${part}/`).join('');
  return { bucket, prefix };
}

function logStatement(logGroupName) {
  return {
    Effect: 'Allow',
    Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
    Resource: [
      {
        'Fn::Sub':
          `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}` +
          `:log-group:${logGroupName}:*`,
      },
    ],
  };
}

function s3Statements({ bucket, prefix }, modelName) {
  const bucketArn = `arn:\${AWS::Partition}:s3:::${bucket}`;
  const modelPrefix = `${prefix}models/${modelName}/`;
  return [
    {
      Effect: 'Allow',
      Action: ['s3:GetObject'],
      Resource: [
        { 'Fn::Sub': `${bucketArn}/${modelPrefix}*` },
        // Model bytes are stored once per sha256; a manifest of this model names which.
        { 'Fn::Sub': `${bucketArn}/${prefix}blobs/sha256/*` },
      ],
    },
    {
      // Resolving "latest" lists the model's versions.
      Effect: 'Allow',
      Action: ['s3:ListBucket'],
      Resource: [{ 'Fn::Sub': bucketArn }],
      Condition: { StringLike: { 's3:prefix': [`${modelPrefix}*`] } },
    },
  ];
}

function bulkStatements(bucketName, model, queueId) {
  const bucketArn = `arn:\${AWS::Partition}:s3:::${bucketName}`;
  return [
    {
      Effect: 'Allow',
      Action: ['s3:GetObject'],
      Resource: [{ 'Fn::Sub': `${bucketArn}/in/${model}/*` }],
    },
    {
      // Multipart parts of an output it had to abort; a refused file's stale predictions.
      Effect: 'Allow',
      Action: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:DeleteObject'],
      Resource: [{ 'Fn::Sub': `${bucketArn}/out/${model}/*` }],
    },
    {
      Effect: 'Allow',
      // What Lambda's event source mapping needs to poll the queue as this function.
      Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'],
      Resource: [{ 'Fn::GetAtt': [queueId, 'Arn'] }],
    },
  ];
}

function roleResource(functionObject, statements) {
  return {
    Type: 'AWS::IAM::Role',
    Properties: {
      Description: `${functionObject.name}: its own log group and model, nothing else`,
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { Service: ['lambda.amazonaws.com'] },
            Action: ['sts:AssumeRole'],
          },
        ],
      },
      Policies: [
        {
          PolicyName: `${functionObject.name}-least-privilege`,
          PolicyDocument: { Version: '2012-10-17', Statement: statements },
        },
      ],
    },
  };
}

class FunctionRolesPlugin {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      // Before the framework decides whether it needs its shared role: it does not when
      // every function has one.
      'before:package:setupProviderConfiguration': () => this.addFunctionRoles(),
      'after:package:compileFunctions': () => this.dropRedundantRoleDependencies(),
    };
  }

  // The framework also lists a role named by logical id in the function's DependsOn; its
  // Fn::GetAtt already orders them, and linters (cfn-lint W3005) flag the duplicate.
  dropRedundantRoleDependencies() {
    const { service } = this.serverless;
    const provider = this.serverless.getProvider('aws');
    const resources = service.provider.compiledCloudFormationTemplate.Resources;
    for (const functionName of service.getAllFunctions()) {
      const { role } = service.getFunction(functionName);
      const resource = resources[provider.naming.getLambdaLogicalId(functionName)];
      if (typeof role !== 'string' || !resource || !Array.isArray(resource.DependsOn)) continue;
      resource.DependsOn = resource.DependsOn.filter((dependency) => dependency !== role);
    }
  }

  addFunctionRoles() {
    const { service } = this.serverless;
    const provider = this.serverless.getProvider('aws');
    const settings = (service.custom && service.custom.featherserve) || {};
    const source = parseModelSource(settings.modelSource, this.serverless.classes.Error);
    const resources = service.provider.compiledCloudFormationTemplate.Resources;
    for (const functionName of service.getAllFunctions()) {
      const functionObject = service.getFunction(functionName);
      if ('role' in functionObject) continue;
      const statements = [];
      if (!functionObject.disableLogs) {
        statements.push(logStatement(provider.naming.getLogGroupName(functionObject.name)));
      }
      // The pool function (handlers/pool.py) reads any pooled model: the store's
      // models/*/ (and in/*/, out/*/ for its batch function), not one model's prefix.
      const pool = POOL_HANDLER.test(functionObject.handler || '');
      const bulkModel = batchModel(functionObject) && (pool ? '*' : batchModel(functionObject));
      if (source) statements.push(...s3Statements(source, pool ? '*' : bulkModel || functionName));
      if (bulkModel) {
        if (!settings.bulkBucket) {
          throw new this.serverless.classes.Error(
            `${functionName} is a batch function, but custom.featherserve.bulkBucket is not set`,
            'FEATHERSERVE_BULK_BUCKET'
          );
        }
        const queueId = feedingQueue(functionObject);
        statements.push(...bulkStatements(settings.bulkBucket, bulkModel, queueId));
      }
      const logicalId = `${provider.naming.getNormalizedFunctionName(functionName)}IamRole`;
      resources[logicalId] = roleResource(functionObject, statements);
      functionObject.role = logicalId;
    }
  }
}

module.exports = FunctionRolesPlugin;
module.exports.parseModelSource = parseModelSource;
