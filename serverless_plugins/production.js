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
  originProblem,
  positiveInteger,
  requireTlsOnQueues,
  stageSettings,
};
