'use strict';

// Bulk scoring, on or off per stage, with timeouts that agree.
//
// generated/bulk.yml declares the stage's bucket and, per served model, a queue, its
// dead-letter queue and the queue policy (every logical id starts with "Bulk");
// generated/functions.yml declares each model's batch function (handler
// `handlers/<model>.batch_handler`), fed by that model's queue.
//
// - `params.batch: false` leaves all of them out of the stage: no bucket, no queue, no
//   batch function, nothing to pay for or secure.
// - A queue's VisibilityTimeout must be above the timeout of the function it feeds, or SQS
//   hands a message to a second invocation while the first is still scoring its file;
//   packaging stops with a clear error when it is not.
// - Each batch function serves its stage's bucket only (FEATHERSERVE_BATCH_BUCKET: a message
//   naming any other bucket is refused). Set in the compiled template only: `sls invoke
//   local` cannot resolve a CloudFormation intrinsic in a function's environment.

const BATCH_HANDLER = /^handlers\/([a-z][a-z0-9_]*)\.batch_handler$/;
const BULK_PREFIX = 'Bulk';
const BUCKET_ID = 'BulkBucket';
const BUCKET_VARIABLE = 'FEATHERSERVE_BATCH_BUCKET';

function isOn(value) {
  return value === true || String(value).toLowerCase() === 'true';
}

// The model a batch function scores for, or null for any other function.
function batchModel(functionObject) {
  const match = BATCH_HANDLER.exec((functionObject && functionObject.handler) || '');
  return match ? match[1] : null;
}

// The logical id of the queue feeding a function (its sqs event's Fn::GetAtt), or null.
function feedingQueue(functionObject) {
  for (const event of functionObject.events || []) {
    const arn = event && event.sqs && (event.sqs.arn || event.sqs);
    const getAtt = arn && arn['Fn::GetAtt'];
    if (Array.isArray(getAtt)) return getAtt[0];
  }
  return null;
}

class BulkPlugin {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      initialize: () => this.applyStageSwitch(),
      'before:package:setupProviderConfiguration': () => this.checkTimeouts(),
      'after:aws:package:finalize:mergeCustomProviderResources': () => this.stageBucket(),
    };
  }

  settings() {
    const custom = this.serverless.service.custom || {};
    return custom.featherserve || {};
  }

  applyStageSwitch() {
    if (isOn(this.settings().batch)) return;
    const { service } = this.serverless;
    for (const name of Object.keys(service.functions || {})) {
      if (batchModel(service.functions[name])) delete service.functions[name];
    }
    const resources = service.resources || {};
    for (const section of ['Resources', 'Outputs']) {
      for (const id of Object.keys(resources[section] || {})) {
        if (id.startsWith(BULK_PREFIX)) delete resources[section][id];
      }
    }
  }

  checkTimeouts() {
    const { service } = this.serverless;
    const resources = (service.resources && service.resources.Resources) || {};
    for (const name of service.getAllFunctions()) {
      const functionObject = service.getFunction(name);
      const queueId = batchModel(functionObject) && feedingQueue(functionObject);
      if (!queueId) continue;
      const queue = resources[queueId];
      if (!queue) {
        throw new this.serverless.classes.Error(
          `${name} is fed by ${queueId}, which the template does not declare: run ` +
            '`featherserve generate`',
          'FEATHERSERVE_BULK_QUEUE'
        );
      }
      const visibility = Number(queue.Properties.VisibilityTimeout);
      const timeout = Number(functionObject.timeout || service.provider.timeout || 6);
      if (!(visibility > timeout)) {
        throw new this.serverless.classes.Error(
          `${queueId}'s VisibilityTimeout (${visibility} s) must be above ${name}'s timeout ` +
            `(${timeout} s); AWS advises six times it (params batchVisibilityTimeout, batchTimeout)`,
          'FEATHERSERVE_BULK_TIMEOUTS'
        );
      }
    }
  }

  stageBucket() {
    const { service } = this.serverless;
    const resources = service.provider.compiledCloudFormationTemplate.Resources;
    if (!resources[BUCKET_ID]) return;
    const naming = this.serverless.getProvider('aws').naming;
    for (const name of service.getAllFunctions()) {
      const fn = batchModel(service.getFunction(name)) &&
        resources[naming.getLambdaLogicalId(name)];
      if (!fn) continue;
      fn.Properties.Environment = fn.Properties.Environment || { Variables: {} };
      fn.Properties.Environment.Variables = fn.Properties.Environment.Variables || {};
      fn.Properties.Environment.Variables[BUCKET_VARIABLE] = { Ref: BUCKET_ID };
    }
  }
}

module.exports = BulkPlugin;
module.exports.batchModel = batchModel;
module.exports.feedingQueue = feedingQueue;
