'use strict';

// What a production stage needs beyond the functions (used by featherserve.js):
//
// - A deploy of any stage but dev refuses a CORS origin that is not one site's https://
//   origin: the local default (http://localhost:8000, for `make serve`), "*", http://.
//   Deploys to a local mock of AWS (AWS_ENDPOINT_URL on loopback) are not refused.
// - Throttling of the whole stage (every key together) and of each model's predict method,
//   on top of the per-key usage plan: one leaked key cannot take everything.
// - An access log (JSON, one line per request, never the key itself) in a log group that
//   expires like the functions' logs; API Gateway writes it through the region's
//   CloudWatch role, set here as CloudFormation does it (AWS::ApiGateway::Account).
// - Reserved concurrency on every function that does not set its own: a flood (or a
//   loop) can neither starve the account's other functions nor scale the bill unbounded.
// - Alarms: API 5xx, per function errors, throttles and slow p99, and any message in a
//   dead-letter queue; with `alarmTopicArn` each alarm notifies that SNS topic (empty: the
//   alarms exist, notify nobody).
// - Pooled models (issue 19): the pool functions' metrics get a service name of the stage's
//   own, and three alarms on Metrics Insights queries grouped by the `model` dimension
//   watch every pooled model separately (5xx answers, load failures, slow answers): the
//   template grows by no resource per pooled model (see poolModelAlarms).
// - Every SQS queue denies requests made without TLS (aws:SecureTransport false), as the
//   buckets do.
// - The deployment bucket keeps 30 days of replaced artifacts (it is versioned).
//
// Everything is plain data added to the compiled template; the mocked deploy of the test
// suite leaves out what moto cannot create (tests/support/mock_aws.js).

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);
const DEV_STAGES = new Set(['dev']);
const ACCESS_LOG_FORMAT = JSON.stringify({
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  apiKeyId: '$context.identity.apiKeyId',
  requestTime: '$context.requestTime',
  httpMethod: '$context.httpMethod',
  resourcePath: '$context.resourcePath',
  status: '$context.status',
  responseLength: '$context.responseLength',
  integrationLatency: '$context.integrationLatency',
  error: '$context.error.message',
});
const PUSH_TO_LOGS_POLICY =
  'arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs';

function isLocalOrigin(origin) {
  try {
    return LOCAL_HOSTS.has(new URL(String(origin)).hostname);
  } catch (error) {
    return false;
  }
}

function isLocalEndpoint(env) {
  try {
    return LOCAL_HOSTS.has(new URL(env.AWS_ENDPOINT_URL || '').hostname);
  } catch (error) {
    return false;
  }
}

// Why a stage outside dev may not use this origin, or null when it is one site's https
// origin. CORS names one site: "*" would let every page on the web call the API with a
// visitor's browser, and an http:// page can be rewritten by anyone on its network.
function originProblem(origin) {
  const text = String(origin == null ? '' : origin).trim();
  if (!text) return 'empty';
  if (text.includes('*')) return 'a wildcard, which lets every site call the API';
  let url;
  try {
    url = new URL(text);
  } catch (error) {
    return 'not an origin (scheme://host[:port])';
  }
  if (LOCAL_HOSTS.has(url.hostname) || /^127\./.test(url.hostname)) {
    return 'a local origin that no visitor of a deployed site has';
  }
  if (url.protocol !== 'https:') {
    return 'not https://, so any network between a visitor and the site can rewrite its page';
  }
  // A browser sends its Origin header as exactly scheme://host[:port]; anything more never
  // matches it.
  if (text !== url.origin) return 'not an origin: scheme://host[:port] only, no path or "/"';
  return null;
}

// The message refusing the deploy, or null when it may go ahead.
function corsRefusal(stage, origin, env) {
  if (DEV_STAGES.has(stage) || isLocalEndpoint(env)) return null;
  const problem = originProblem(origin);
  if (!problem) return null;
  return (
    `featherserve: refusing to deploy stage "${stage}" with corsOrigin ${origin}: ${problem}. ` +
    'Every stage but dev must name the one https:// site that calls this API: a ' +
    `"${stage}:" block under params in serverless.yml with corsOrigin: https://your.site, ` +
    'or --param="corsOrigin=https://your.site" for this deploy.'
  );
}

function positiveInteger(value, name, ServerlessError) {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) {
    throw new ServerlessError(
      `featherserve: ${name} must be a whole number of at least 1, got ${JSON.stringify(value)}`,
      'FEATHERSERVE_BAD_PARAM'
    );
  }
  return number;
}

// Stage-wide and per-method throttles, and the access log, on the deployment's stage.
//
// Pooled models share their route's throttle: API Gateway keys a method's throttle (a
// stage's MethodSettings, and a usage plan's per-method throttle alike) by the resource
// path and HTTP method, `/models/{name}/predict` POST, never by the value a path parameter
// takes, so no setting can throttle one pooled model apart from the others. The pool's
// `{name}` predict route gets the predict throttle every dedicated route gets (the pooled
// models together); a model that needs a throttle of its own is served dedicated.
function stageSettings(resources, settings, predictPaths, logGroupId, accountId) {
  const deploymentId = Object.keys(resources).find(
    (id) => resources[id].Type === 'AWS::ApiGateway::Deployment'
  );
  if (!deploymentId) return false;
  const deployment = resources[deploymentId];
  const description = deployment.Properties.StageDescription || {};
  description.ThrottlingRateLimit = settings.stageRateLimit;
  description.ThrottlingBurstLimit = settings.stageBurstLimit;
  description.MetricsEnabled = true;
  description.AccessLogSetting = {
    DestinationArn: { 'Fn::GetAtt': [logGroupId, 'Arn'] },
    Format: ACCESS_LOG_FORMAT,
  };
  // MethodSettings name a resource by its path with every "/" after the first as "~1".
  const existing = description.MethodSettings || [];
  const predict = predictPaths
    .map((path) => ({
      ResourcePath: `/${`/${path.replace(/^\/+/, '')}`.replace(/\//g, '~1')}`,
      HttpMethod: '*',
      ThrottlingRateLimit: settings.predictRateLimit,
      ThrottlingBurstLimit: settings.predictBurstLimit,
    }))
    .filter((p) => !existing.some((s) => s.ResourcePath === p.ResourcePath));
  description.MethodSettings = [...existing, ...predict];
  deployment.Properties.StageDescription = description;
  deployment.DependsOn = [...new Set([...[].concat(deployment.DependsOn || []), accountId])];
  return true;
}

function accessLogResources(service, stage, retentionInDays) {
  return {
    ApiGatewayAccessLogGroup: {
      Type: 'AWS::Logs::LogGroup',
      Properties: {
        LogGroupName: `/aws/api-gateway/${service}-${stage}-access`,
        RetentionInDays: retentionInDays,
      },
    },
    ApiGatewayCloudWatchRole: {
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [{
            Effect: 'Allow',
            Principal: { Service: ['apigateway.amazonaws.com'] },
            Action: ['sts:AssumeRole'],
          }],
        },
        ManagedPolicyArns: [{ 'Fn::Sub': PUSH_TO_LOGS_POLICY }],
      },
    },
    ApiGatewayAccountSettings: {
      Type: 'AWS::ApiGateway::Account',
      Properties: { CloudWatchRoleArn: { 'Fn::GetAtt': ['ApiGatewayCloudWatchRole', 'Arn'] } },
    },
  };
}

function alarm(description, metric, actions) {
  return {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmDescription: description,
      TreatMissingData: 'notBreaching',
      EvaluationPeriods: 1,
      ...metric,
      ...(actions.length ? { AlarmActions: actions, OKActions: actions } : {}),
    },
  };
}

// functionIds: { logicalId: name }; apiName: the REST API's name (the 5xx metric's key).
function alarmResources(functionIds, apiName, stage, settings) {
  const actions = settings.alarmTopicArn ? [settings.alarmTopicArn] : [];
  const resources = {
    ApiGateway5xxAlarm: alarm(
      `featherserve ${stage}: the API answered 5xx (a function failed, timed out or was throttled)`,
      {
        Namespace: 'AWS/ApiGateway', MetricName: '5XXError', Statistic: 'Sum', Period: 60,
        Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        Dimensions: [{ Name: 'ApiName', Value: apiName }, { Name: 'Stage', Value: stage }],
      },
      actions
    ),
  };
  for (const [logicalId, name] of Object.entries(functionIds)) {
    const dimensions = [{ Name: 'FunctionName', Value: { Ref: logicalId } }];
    const lambda = { Namespace: 'AWS/Lambda', Dimensions: dimensions, Period: 60 };
    const base = logicalId.replace(/LambdaFunction$/, '');
    resources[`${base}ErrorsAlarm`] = alarm(
      `featherserve ${stage}: ${name} raised errors or timed out`,
      { ...lambda, MetricName: 'Errors', Statistic: 'Sum', Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold' },
      actions
    );
    resources[`${base}ThrottlesAlarm`] = alarm(
      `featherserve ${stage}: ${name} was throttled (its reserved concurrency is used up)`,
      { ...lambda, MetricName: 'Throttles', Statistic: 'Sum', Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold' },
      actions
    );
    resources[`${base}DurationAlarm`] = alarm(
      `featherserve ${stage}: ${name} p99 duration over ${settings.alarmDurationMs} ms`,
      { ...lambda, Period: 300, MetricName: 'Duration', ExtendedStatistic: 'p99',
        Threshold: settings.alarmDurationMs, ComparisonOperator: 'GreaterThanThreshold' },
      actions
    );
  }
  return resources;
}

// The pool's entry file (docs/pool.md): handlers/pool.py. Exactly this: a dedicated model
// may be named pool_eu ("pool" alone is reserved).
const POOL_HANDLER = /^handlers\/pool\.handler$/;
const POOL_BATCH_HANDLER = /^handlers\/pool\.batch_handler$/;
const SERVICE_NAME_VARIABLE = 'POWERTOOLS_SERVICE_NAME';
const NAMESPACE_VARIABLE = 'POWERTOOLS_METRICS_NAMESPACE';

// The Powertools service name of a stage's pools: every function of every stage is
// `featherserve` otherwise, and the stages share the metrics namespace, so the pools' own
// name is what keeps one stage's per-model alarms off another stage's requests.
function poolServiceName(service, stage) {
  return `${service}-${stage}-pool`;
}

// A pool's HTTP or bulk function, by its handler.
function isPoolFunction(handler) {
  return POOL_HANDLER.test(String(handler || '')) || POOL_BATCH_HANDLER.test(String(handler || ''));
}

// Gives every pool function (and its bulk function, which shares the pool's code and its
// load-failure metric) the stage's pool service name in the compiled template (as
// featherserve.js already set it on the functions, for the commands that do not read the
// template), and returns
// { functionIds, namespace, serviceName } of the HTTP pool functions, or null when the stage
// pools no model. The namespace is the one the functions themselves get (the provider's
// environment, merged into each function's by the framework): a query naming another
// namespace would watch nothing. Changes `resources` in place.
function poolMetrics(resources, serviceName, ServerlessError) {
  const functionIds = [];
  const namespaces = new Set();
  for (const [id, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const properties = resource.Properties || {};
    const handler = String(properties.Handler || '');
    const http = POOL_HANDLER.test(handler);
    if (!http && !POOL_BATCH_HANDLER.test(handler)) continue;
    properties.Environment = properties.Environment || {};
    const variables = properties.Environment.Variables || {};
    variables[SERVICE_NAME_VARIABLE] = serviceName;
    properties.Environment.Variables = variables;
    if (!http) continue;
    const namespace = variables[NAMESPACE_VARIABLE];
    if (typeof namespace !== 'string' || !namespace || namespace.includes('"')) {
      throw new ServerlessError(
        `featherserve: the pool function ${id} needs ${NAMESPACE_VARIABLE} set to a plain ` +
          `name (provider.environment in serverless.yml), got ${JSON.stringify(namespace)}: ` +
          "its per-model alarms query the metrics in that namespace.",
        'FEATHERSERVE_POOL_NAMESPACE'
      );
    }
    namespaces.add(namespace);
    functionIds.push(id);
  }
  if (!functionIds.length) return null;
  if (namespaces.size > 1) {
    throw new ServerlessError(
      `featherserve: the pool functions name different ${NAMESPACE_VARIABLE}s ` +
        `(${[...namespaces].join(', ')}); one stage's pools share one namespace.`,
      'FEATHERSERVE_POOL_NAMESPACE'
    );
  }
  return { functionIds, namespace: [...namespaces][0], serviceName };
}

// A Metrics Insights query over the pools' requests of this stage, one series per model.
// SCHEMA(namespace, model, service) takes exactly the metrics whose dimension set is
// {model, service}, which is what the pool prints for a model of its list (a request for a
// name it does not serve has no model dimension, and is no model's problem). A query
// returns at most 500 series: ORDER BY ... DESC keeps the worst 500 models.
function poolModelQuery(statistic, metric, namespace, serviceName) {
  return `SELECT ${statistic}(${metric}) FROM SCHEMA("${namespace}", model, service) ` +
    `WHERE service = '${serviceName}' GROUP BY model ORDER BY ${statistic}() DESC`;
}

// The pooled models' alarms: three for the whole stage however many models it pools (two
// hundred pooled models would otherwise cost 600 alarms and stop the stack at
// CloudFormation's 500 resources). Each is a multi time series alarm on a Metrics Insights
// query grouped by model: every model is a contributor with a state of its own, so one
// model's failures alarm (and name that model) while its neighbours stay OK. An account
// holds 200 Metrics Insights alarms per region by default: three per stage.
//
// The pool function keeps its own per-function alarms (errors, throttles, p99 duration)
// from alarmResources.
function poolModelAlarms(pool, stage, settings) {
  const actions = settings.alarmTopicArn ? [settings.alarmTopicArn] : [];
  const query = (id, statistic, metric, period) => ({
    Metrics: [{
      Id: id,
      Expression: poolModelQuery(statistic, metric, pool.namespace, pool.serviceName),
      Period: period,
      ReturnData: true,
    }],
  });
  return {
    PoolModelServerErrorsAlarm: alarm(
      `featherserve ${stage}: a pooled model answered 5xx (the alarm's contributors name ` +
        'which models)',
      { ...query('serverErrors', 'SUM', 'ServerErrors', 60), Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold' },
      actions
    ),
    PoolModelLoadFailuresAlarm: alarm(
      `featherserve ${stage}: a pooled model failed to load or to verify (sha256, manifest, ` +
        'store); the pool answers 503 for it alone',
      { ...query('loadFailures', 'SUM', 'PoolLoadFailures', 300), Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold' },
      actions
    ),
    // Metrics Insights has no percentiles: the per-model latency alarm is on the AVERAGE
    // over five minutes, against the same alarmDurationMs the functions' p99 alarms use.
    // A model whose answers are slow on average is slow; a tail the average hides still
    // shows in the pool function's own p99 Duration alarm (all models together).
    PoolModelLatencyAlarm: alarm(
      `featherserve ${stage}: a pooled model's average latency over 5 minutes is above ` +
        `${settings.alarmDurationMs} ms`,
      { ...query('latency', 'AVG', 'Latency', 300), Threshold: settings.alarmDurationMs,
        ComparisonOperator: 'GreaterThanThreshold' },
      actions
    ),
  };
}

// Queue logical id -> the logical id of its dead-letter queue, read from RedrivePolicy.
function deadLetterQueues(resources) {
  const found = {};
  for (const [id, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::SQS::Queue') continue;
    const target = ((resource.Properties || {}).RedrivePolicy || {}).deadLetterTargetArn;
    const getAtt = target && target['Fn::GetAtt'];
    if (Array.isArray(getAtt) && resources[getAtt[0]]) found[id] = getAtt[0];
  }
  return found;
}

// One alarm per dead-letter queue: a message there is a file that failed every attempt and
// would otherwise sit unseen until SQS drops it (14 days).
function deadLetterAlarms(resources, stage, alarmTopicArn) {
  const actions = alarmTopicArn ? [alarmTopicArn] : [];
  const alarms = {};
  for (const deadLetterId of new Set(Object.values(deadLetterQueues(resources)))) {
    alarms[`${deadLetterId}DepthAlarm`] = alarm(
      `featherserve ${stage}: a message reached ${deadLetterId} (a file failed every attempt)`,
      {
        Namespace: 'AWS/SQS', MetricName: 'ApproximateNumberOfMessagesVisible',
        Statistic: 'Maximum', Period: 300, Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [deadLetterId, 'QueueName'] } }],
      },
      actions
    );
  }
  return alarms;
}

function tlsOnlyStatement(queueIds) {
  return {
    Sid: 'TlsOnly',
    Effect: 'Deny',
    Principal: '*',
    Action: 'sqs:*',
    Resource: queueIds.map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] })),
    Condition: { Bool: { 'aws:SecureTransport': 'false' } },
  };
}

// Every queue refuses requests without TLS: each queue policy gains the deny, and a queue
// without a policy (the dead-letter queues) gets one holding only the deny. Changes
// `resources` in place.
function requireTlsOnQueues(resources) {
  const covered = new Set();
  for (const resource of Object.values(resources)) {
    if (resource.Type !== 'AWS::SQS::QueuePolicy') continue;
    const properties = resource.Properties;
    const queueIds = (properties.Queues || []).map((q) => q && q.Ref).filter(Boolean);
    queueIds.forEach((id) => covered.add(id));
    const document = properties.PolicyDocument;
    const statements = [].concat(document.Statement || []);
    if (!statements.some((statement) => statement.Sid === 'TlsOnly')) {
      document.Statement = [tlsOnlyStatement(queueIds), ...statements];
    }
  }
  for (const [id, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::SQS::Queue' || covered.has(id)) continue;
    resources[`${id}Policy`] = {
      Type: 'AWS::SQS::QueuePolicy',
      Properties: {
        Queues: [{ Ref: id }],
        PolicyDocument: { Version: '2012-10-17', Statement: [tlsOnlyStatement([id])] },
      },
    };
  }
}

module.exports = {
  ACCESS_LOG_FORMAT,
  accessLogResources,
  alarmResources,
  corsRefusal,
  deadLetterAlarms,
  deadLetterQueues,
  isLocalOrigin,
  isPoolFunction,
  originProblem,
  poolMetrics,
  poolModelAlarms,
  poolModelQuery,
  poolServiceName,
  positiveInteger,
  requireTlsOnQueues,
  stageSettings,
};
