'use strict';

// featherserve's small Serverless Framework plugin.
//
// Production guards (serverless_plugins/production.js has the why of each): a deploy of a
// non-dev stage with a CORS origin other than one https:// site is refused; stage and
// predict-method throttling, an access log with retention, reserved concurrency on every
// function, alarms (with an optional SNS topic) on functions, the API and the dead-letter
// queues, per-model alarms for pooled models (grouped by the `model` dimension, a constant
// number per stage), TLS-only queue policies, and a lifecycle for the versioned deployment
// bucket.
//
// Offline packaging: when packaging layers, the framework asks CloudFormation for the
// deployed stack's layer hashes (to skip re-uploading an unchanged layer). With no AWS
// credentials at all that call can only fail, and it would also make the SDK probe the
// EC2 metadata endpoint. The comparison is an upload optimisation, so without any
// credential source we skip it and package fresh layers; with credentials it runs as usual.

const fs = require('fs');
const os = require('os');
const path = require('path');
const production = require('./production');

// The deployment bucket is versioned (serverless.yml): replaced artifacts go after this.
const NONCURRENT_VERSION_DAYS = 30;

function hasCredentialSource(env) {
  const variables = [
    'AWS_ACCESS_KEY_ID',
    'AWS_PROFILE',
    'AWS_WEB_IDENTITY_TOKEN_FILE',
    'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
    'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  ];
  if (variables.some((name) => env[name])) return true;
  const home = os.homedir();
  const files = [
    env.AWS_SHARED_CREDENTIALS_FILE || path.join(home, '.aws', 'credentials'),
    env.AWS_CONFIG_FILE || path.join(home, '.aws', 'config'),
  ];
  return files.some((file) => fs.existsSync(file));
}

class FeatherservePlugin {
  constructor(serverless, options, { log } = {}) {
    this.serverless = serverless;
    this.options = options;
    this.log = log || console;
    this.hooks = {
      initialize: () => {
        this.refuseUnsafeOriginOutsideDev();
        this.namePoolMetrics();
      },
      'before:package:compileFunctions': () => this.reserveConcurrency(),
      'before:package:compileLayers': () => this.skipLayerComparisonWithoutCredentials(),
      'before:package:finalize': () => this.addProductionResources(),
    };
  }

  get settings() {
    return (this.serverless.service.custom && this.serverless.service.custom.featherserve) || {};
  }

  refuseUnsafeOriginOutsideDev() {
    // `deploy` and `deploy function` (which pushes the function's environment, the origin
    // included); `deploy list` only reads.
    const commands = (this.serverless.processedInput || {}).commands || [];
    if (commands[0] !== 'deploy' || (commands.length > 1 && commands[1] !== 'function')) return;
    const stage = this.serverless.getProvider('aws').getStage();
    const refusal = production.corsRefusal(stage, this.settings.corsOrigin, process.env);
    if (refusal) {
      throw new this.serverless.classes.Error(refusal, 'FEATHERSERVE_CORS_ORIGIN');
    }
  }

  // The pool functions' metrics and logs carry the stage's own service name (the per-model
  // alarms query it), set on the functions themselves so that every command sees it: the
  // package (addProductionResources checks the compiled template again), `deploy function`,
  // `invoke local` and serverless-offline.
  namePoolMetrics() {
    const { service } = this.serverless;
    const name = production.poolServiceName(service.service,
      this.serverless.getProvider('aws').getStage());
    for (const fn of Object.values(service.functions || {})) {
      if (fn && production.isPoolFunction(fn.handler)) {
        fn.environment = { ...(fn.environment || {}), POWERTOOLS_SERVICE_NAME: name };
      }
    }
  }

  // Every function without a reservedConcurrency of its own gets the stage's default.
  reserveConcurrency() {
    const { service } = this.serverless;
    const value = this.settings.reservedConcurrency;
    if (String(value) === 'off') return;
    const reserved = production.positiveInteger(value, 'reservedConcurrency',
      this.serverless.classes.Error);
    for (const name of service.getAllFunctions()) {
      const fn = service.getFunction(name);
      if (fn.reservedConcurrency == null) fn.reservedConcurrency = reserved;
    }
  }

  addProductionResources() {
    const { service } = this.serverless;
    const provider = this.serverless.getProvider('aws');
    const { naming } = provider;
    const Error = this.serverless.classes.Error;
    const settings = this.settings;
    const resources = service.provider.compiledCloudFormationTemplate.Resources;
    const stage = provider.getStage();
    const throttles = {};
    for (const name of ['stageRateLimit', 'stageBurstLimit', 'predictRateLimit',
      'predictBurstLimit']) {
      throttles[name] = production.positiveInteger((settings.throttle || {})[name], name, Error);
    }
    const predictPaths = [];
    for (const name of service.getAllFunctions()) {
      for (const event of service.getAllEventsInFunction(name)) {
        const http = event.http;
        const route = http && (typeof http === 'string' ? http.split(' ')[1] : http.path);
        if (route && /^\/?models\/[^/]+\/predict\/?$/.test(route)) {
          predictPaths.push(`/${route.replace(/^\/+|\/+$/g, '')}`);
        }
      }
    }
    const logs = production.accessLogResources(service.service, stage,
      service.provider.logRetentionInDays);
    if (production.stageSettings(resources, throttles, predictPaths,
      'ApiGatewayAccessLogGroup', 'ApiGatewayAccountSettings')) {
      Object.assign(resources, logs);
    }
    const functionIds = {};
    for (const name of service.getAllFunctions()) {
      functionIds[naming.getLambdaLogicalId(name)] = service.getFunction(name).name || name;
    }
    const alarms = settings.alarms || {};
    const alarmSettings = {
      alarmTopicArn: alarms.topicArn || '',
      alarmDurationMs: production.positiveInteger(alarms.durationMs, 'alarmDurationMs', Error),
    };
    Object.assign(resources, production.alarmResources(functionIds,
      naming.getApiGatewayName(), stage, alarmSettings));
    // Pooled models: the same few alarms however many models the stage pools.
    const pool = production.poolMetrics(resources,
      production.poolServiceName(service.service, stage), Error);
    if (pool) Object.assign(resources, production.poolModelAlarms(pool, stage, alarmSettings));
    // The bulk queues come from `resources` (generated/bulk.yml), merged after this hook.
    const custom = (service.resources && service.resources.Resources) || {};
    production.requireTlsOnQueues(custom);
    Object.assign(resources, production.deadLetterAlarms(custom, stage, alarms.topicArn || ''));
    const bucket = resources[naming.getDeploymentBucketLogicalId()];
    if (bucket && bucket.Properties && bucket.Properties.VersioningConfiguration) {
      bucket.Properties.LifecycleConfiguration = { Rules: [{
        Id: 'ExpireReplacedArtifacts', Status: 'Enabled',
        NoncurrentVersionExpiration: { NoncurrentDays: NONCURRENT_VERSION_DAYS },
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
      }] };
    }
  }

  skipLayerComparisonWithoutCredentials() {
    if (hasCredentialSource(process.env)) return;
    const compiler = this.serverless.pluginManager.plugins.find(
      (plugin) => typeof plugin.compareWithLastLayer === 'function'
    );
    if (!compiler) return;
    compiler.compareWithLastLayer = async () => {};
    this.log.notice(
      'featherserve: no AWS credentials found; packaging layers without comparing them to a deployed stack'
    );
  }
}

module.exports = FeatherservePlugin;
