'use strict';

// Deploying to a mocked AWS (a local moto server) in the test suite.
//
// This plugin does nothing unless FEATHERSERVE_MOCK_AWS=1 and AWS_ENDPOINT_URL points at
// this machine (127.0.0.1, localhost, [::1]); with the flag set and any other endpoint it
// stops the command, so a template bent for the mock can never reach a real account.
// Against the mock it works around what moto's CloudFormation (5.x) cannot do, and only that:
//
// - Resource types it does not implement (API keys, the usage plan and its keys, gateway
//   responses, the bucket policy) are left out. moto would skip them, but it keeps holes in
//   the stack's resource list on which DescribeStackResource (`sls remove`) then fails.
// - AWS::ApiGateway::Method: moto reads Integration.IntegrationHttpMethod and .Uri of every
//   method and fails the stack on the CORS preflight (OPTIONS) methods, whose MOCK
//   integration has neither. They get placeholders, so the methods still exist.
// - AWS::Lambda::LayerVersion: moto ignores LayerName, its Ref is not the layer version's
//   ARN, and a changed layer leaves a hole in the stack instead of a new version. The layers
//   are published through the Lambda API instead, as CloudFormation would: a new version
//   whenever the layer changed (the framework's layer hash output differs), the replaced
//   version deleted, all of them deleted by `sls remove`. Functions list no Layers in the
//   mock (moto ignores them anyway, and fails updating a function that has them).
// - Outputs lose their Export names: moto's DeleteStack fails looking up the exports of a
//   stack it has updated.
// - AWS::Lambda::Alias is not implemented, and a Lambda::Permission on an alias ARN fails.
//   Aliases are left out, permissions and event source mappings name the function, and
//   each alias is created or moved
//   through the Lambda API when CloudFormation would do it: when its target (the function's
//   AWS::Lambda::Version resource) changed, or when it does not exist yet.
// - AWS::Lambda::Version: in a stack update moto creates the new version resource before it
//   updates the function, so it "publishes" the configuration from before the update. Where
//   an alias moves, the version is published again after the update, as CloudFormation
//   orders it (the version depends on the function).
//
// - The bulk path's bucket: moto's CloudFormation creates it with its encryption only, and
//   has no AWS::SQS::QueuePolicy. The queue policies are left out of the stack, and after
//   each deploy the bucket's notifications, public access block, ownership controls and
//   lifecycle rules and the queues' policies are set through the S3 and SQS APIs, as
//   CloudFormation would set them (the template's values, its intrinsics resolved).
//
// Everything left out of the mock is checked in the packaged template instead
// (the tests under tests/template/), and the test reads the template the framework
// uploaded to check what CloudFormation is asked to change.

const { ALIAS_NAME } = require('./live_alias');

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);
const NOT_IN_MOTO = new Set([
  'AWS::ApiGateway::ApiKey',
  'AWS::ApiGateway::UsagePlan',
  'AWS::ApiGateway::UsagePlanKey',
  'AWS::ApiGateway::GatewayResponse',
  'AWS::S3::BucketPolicy',
  // The region's API Gateway settings (the access log's CloudWatch role) and the alarms
  // (serverless_plugins/production.js): moto's CloudFormation has neither.
  'AWS::ApiGateway::Account',
  'AWS::CloudWatch::Alarm',
  // The web pages' CDN: references to it become a placeholder origin (cdnPlaceholders).
  'AWS::CloudFront::Distribution',
  'AWS::CloudFront::OriginAccessControl',
  'AWS::CloudFront::ResponseHeadersPolicy',
]);
const CDN_PLACEHOLDER = 'https://cdn.mock.invalid';
const BUCKET_OUTPUT = 'ServerlessDeploymentBucketName';
// Bucket properties moto's CloudFormation ignores; the mock sets them through the S3 API.
const BUCKET_SETTINGS = [
  'NotificationConfiguration',
  'PublicAccessBlockConfiguration',
  'OwnershipControls',
  'LifecycleConfiguration',
];

function mockEndpoint(env, ServerlessError) {
  if (env.FEATHERSERVE_MOCK_AWS !== '1') return null;
  let host = null;
  try {
    host = new URL(env.AWS_ENDPOINT_URL || '').hostname;
  } catch (error) {
    host = null;
  }
  if (!LOOPBACK_HOSTS.has(host)) {
    throw new ServerlessError(
      'FEATHERSERVE_MOCK_AWS=1 adapts the stack for a local mock of AWS, so it needs ' +
        'AWS_ENDPOINT_URL on this machine (http://127.0.0.1:PORT); got ' +
        `${JSON.stringify(env.AWS_ENDPOINT_URL || '')}. Unset FEATHERSERVE_MOCK_AWS to deploy to AWS.`,
      'FEATHERSERVE_MOCK_ENDPOINT'
    );
  }
  return env.AWS_ENDPOINT_URL;
}

function withoutDependencies(resource, logicalIds) {
  if (!resource.DependsOn) return;
  const kept = [].concat(resource.DependsOn).filter((id) => !logicalIds.has(id));
  if (kept.length) resource.DependsOn = kept;
  else delete resource.DependsOn;
}

// Bends a compiled template for moto; returns what the Lambda API must do instead.
function adaptForMoto(template) {
  const { Resources: resources, Outputs: outputs = {} } = template;
  const aliases = [];
  const layers = [];
  const buckets = [];
  const queuePolicies = [];
  const removed = new Set();
  for (const [logicalId, resource] of Object.entries(resources)) {
    const { Type: type, Properties: properties } = resource;
    if (type === 'AWS::S3::Bucket' && properties) {
      const settings = {};
      for (const name of BUCKET_SETTINGS) {
        if (name in properties) settings[name] = properties[name];
        delete properties[name];
      }
      if (Object.keys(settings).length) buckets.push({ logicalId, settings });
      continue;
    }
    if (type === 'AWS::SQS::QueuePolicy') {
      queuePolicies.push(properties);
    } else if (type === 'AWS::Lambda::Alias') {
      aliases.push({
        functionLogicalId: properties.FunctionName.Ref,
        versionLogicalId: properties.FunctionVersion['Fn::GetAtt'][0],
        name: properties.Name,
      });
    } else if (type === 'AWS::Lambda::LayerVersion') {
      layers.push({ logicalId, properties });
    } else if (!NOT_IN_MOTO.has(type)) {
      continue;
    }
    removed.add(logicalId);
    delete resources[logicalId];
  }
  cdnPlaceholders(resources, removed);
  for (const [key, output] of Object.entries(outputs)) {
    if (output.Value && JSON.stringify(output.Value).includes('WebStatic')
        && [...removed].some((id) => JSON.stringify(output.Value).includes(`"${id}"`))) {
      delete outputs[key];
      continue;
    }
    if (output.Value && removed.has(output.Value.Ref)) delete outputs[key];
    // moto's DeleteStack fails looking up the exports of a stack it has updated.
    delete output.Export;
  }
  for (const resource of Object.values(resources)) {
    withoutDependencies(resource, removed);
    const properties = resource.Properties || {};
    if (resource.Type === 'AWS::Lambda::Function') delete properties.Layers;
    const integration = resource.Type === 'AWS::ApiGateway::Method' && properties.Integration;
    if (integration && integration.Type === 'MOCK') {
      integration.IntegrationHttpMethod = integration.IntegrationHttpMethod || 'POST';
      integration.Uri = integration.Uri || 'mock://cors-preflight';
    }
    const aliased = ['AWS::Lambda::Permission', 'AWS::Lambda::EventSourceMapping'];
    const joined = aliased.includes(resource.Type) && properties.FunctionName['Fn::Join'];
    if (joined && joined[0] === ':' && joined[1][1] === ALIAS_NAME) {
      properties.FunctionName = joined[1][0];
    }
  }
  return { aliases, layers, buckets, queuePolicies, removed };
}

// The intrinsics the bulk resources use, resolved as CloudFormation would.
function resolveIntrinsics(value, context) {
  if (Array.isArray(value)) return value.map((item) => resolveIntrinsics(item, context));
  if (!value || typeof value !== 'object') return value;
  if ('Ref' in value) {
    return context.pseudo[value.Ref] !== undefined ? context.pseudo[value.Ref]
      : context.physical[value.Ref];
  }
  if ('Fn::GetAtt' in value) {
    const [logicalId, attribute] = value['Fn::GetAtt'];
    if (attribute !== 'Arn') throw new Error(`mock AWS: Fn::GetAtt ${logicalId}.${attribute}`);
    return context.arns[logicalId];
  }
  if ('Fn::Sub' in value) {
    return value['Fn::Sub'].replace(/\$\{([^}]+)\}/g, (match, name) =>
      context.pseudo[name] !== undefined ? context.pseudo[name] : context.physical[name]);
  }
  if ('Fn::Join' in value) {
    const [separator, parts] = value['Fn::Join'];
    return resolveIntrinsics(parts, context).join(separator);
  }
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [key, resolveIntrinsics(item, context)])
  );
}

// CloudFormation's spelling of a bucket's settings → the S3 API's.
function notificationForApi(configuration) {
  return {
    QueueConfigurations: (configuration.QueueConfigurations || []).map((entry) => ({
      QueueArn: entry.Queue,
      Events: [entry.Event],
      Filter: entry.Filter && {
        Key: { FilterRules: entry.Filter.S3Key.Rules.map((r) => ({ Name: r.Name, Value: r.Value })) },
      },
    })),
  };
}

function lifecycleForApi(configuration) {
  return {
    Rules: configuration.Rules.map(({ Id, Status, AbortIncompleteMultipartUpload, Prefix }) => ({
      ID: Id,
      Status,
      Filter: { Prefix: Prefix || '' },
      AbortIncompleteMultipartUpload,
    })),
  };
}

class MockAwsPlugin {
  constructor(serverless, options, { log } = {}) {
    this.serverless = serverless;
    this.log = log || console;
    this.provider = serverless.getProvider('aws');
    this.endpoint = mockEndpoint(process.env, serverless.classes.Error);
    this.hooks = {};
    if (!this.endpoint) return;
    this.plan = { aliases: [], layers: [], buckets: [], queuePolicies: [] };
    this.deployed = { versions: {}, outputs: {} };
    this.hooks = {
      'after:aws:package:finalize:mergeCustomProviderResources': () => this.adaptTemplate(),
      'before:aws:deploy:deploy:updateStack': () => this.readDeployedStack(),
      'after:aws:deploy:deploy:updateStack': async () => {
        await this.publishLayers();
        await this.applyAliases();
        await this.applyBulkSettings();
      },
      'after:remove:remove': () => this.removeLayers(),
    };
  }

  adaptTemplate() {
    const template = this.serverless.service.provider.compiledCloudFormationTemplate;
    const { aliases, layers, buckets, queuePolicies, removed } = adaptForMoto(template);
    this.plan = { aliases, layers, buckets, queuePolicies };
    this.log.notice(
      `featherserve: mock AWS at ${this.endpoint}: ${removed.size} resources go through the ` +
        'Lambda API or are left out (see serverless_plugins/mock_aws.js)'
    );
  }

  async clients() {
    const { CloudFormationClient } = require('@aws-sdk/client-cloudformation');
    const { LambdaClient } = require('@aws-sdk/client-lambda');
    const config = await this.provider.getAwsSdkV3Config();
    return { cloudFormation: new CloudFormationClient(config), lambda: new LambdaClient(config) };
  }

  async stackOutputs(cloudFormation) {
    const { DescribeStacksCommand } = require('@aws-sdk/client-cloudformation');
    const stackName = this.provider.naming.getStackName();
    const { Stacks: stacks } = await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
    return Object.fromEntries((stacks[0].Outputs || []).map((o) => [o.OutputKey, o.OutputValue]));
  }

  // The deployed stack's version resource per function, and its outputs (layer hashes).
  async readDeployedStack() {
    const { GetTemplateCommand } = require('@aws-sdk/client-cloudformation');
    const { cloudFormation } = await this.clients();
    const stackName = this.provider.naming.getStackName();
    const deployed = await cloudFormation.send(new GetTemplateCommand({ StackName: stackName }));
    const resources = JSON.parse(deployed.TemplateBody || '{}').Resources || {};
    for (const [logicalId, resource] of Object.entries(resources)) {
      if (resource.Type === 'AWS::Lambda::Version') {
        this.deployed.versions[resource.Properties.FunctionName.Ref] = logicalId;
      }
    }
    this.deployed.outputs = await this.stackOutputs(cloudFormation);
  }

  async layerVersions(lambda, layerName) {
    const { ListLayerVersionsCommand } = require('@aws-sdk/client-lambda');
    const listed = await lambda.send(new ListLayerVersionsCommand({ LayerName: layerName }));
    return (listed.LayerVersions || []).map((version) => version.Version);
  }

  async publishLayers() {
    const { PublishLayerVersionCommand, DeleteLayerVersionCommand } = require('@aws-sdk/client-lambda');
    const { cloudFormation, lambda } = await this.clients();
    const outputs = await this.stackOutputs(cloudFormation);
    for (const { logicalId, properties } of this.plan.layers) {
      const hash = `${logicalId}Hash`;
      const existing = await this.layerVersions(lambda, properties.LayerName);
      if (existing.length && this.deployed.outputs[hash] === outputs[hash]) continue;
      const published = await lambda.send(
        new PublishLayerVersionCommand({
          LayerName: properties.LayerName,
          Description: properties.Description,
          Content: { S3Bucket: outputs[BUCKET_OUTPUT], S3Key: properties.Content.S3Key },
          CompatibleRuntimes: properties.CompatibleRuntimes,
          CompatibleArchitectures: properties.CompatibleArchitectures,
        })
      );
      // A replaced AWS::Lambda::LayerVersion is deleted once the update is done.
      for (const version of existing) {
        await lambda.send(
          new DeleteLayerVersionCommand({ LayerName: properties.LayerName, VersionNumber: version })
        );
      }
      this.log.notice(`featherserve (mock AWS): layer ${properties.LayerName} -> version ${published.Version}`);
    }
  }

  async applyAliases() {
    const {
      GetAliasCommand,
      CreateAliasCommand,
      UpdateAliasCommand,
      PublishVersionCommand,
    } = require('@aws-sdk/client-lambda');
    const { lambda } = await this.clients();
    const resources = this.serverless.service.provider.compiledCloudFormationTemplate.Resources;
    for (const { functionLogicalId, versionLogicalId, name } of this.plan.aliases) {
      const functionName = resources[functionLogicalId].Properties.FunctionName;
      let existing = null;
      try {
        existing = await lambda.send(new GetAliasCommand({ FunctionName: functionName, Name: name }));
      } catch (error) {
        if (error.name !== 'ResourceNotFoundException') throw error;
      }
      if (existing && this.deployed.versions[functionLogicalId] === versionLogicalId) continue;
      // moto answers with the version it already has when nothing changed since.
      const published = await lambda.send(new PublishVersionCommand({ FunctionName: functionName }));
      const input = { FunctionName: functionName, Name: name, FunctionVersion: published.Version };
      await lambda.send(existing ? new UpdateAliasCommand(input) : new CreateAliasCommand(input));
      this.log.notice(`featherserve (mock AWS): ${functionName}:${name} -> version ${published.Version}`);
    }
  }

  // What CloudFormation would have set on the bulk bucket and queues (see the header).
  async applyBulkSettings() {
    const { buckets, queuePolicies } = this.plan;
    if (!buckets.length && !queuePolicies.length) return;
    const { ListStackResourcesCommand } = require('@aws-sdk/client-cloudformation');
    const { GetCallerIdentityCommand, STSClient } = require('@aws-sdk/client-sts');
    const s3 = require('@aws-sdk/client-s3');
    const sqs = require('@aws-sdk/client-sqs');
    const config = await this.provider.getAwsSdkV3Config();
    const { cloudFormation } = await this.clients();
    const listed = await cloudFormation.send(
      new ListStackResourcesCommand({ StackName: this.provider.naming.getStackName() })
    );
    const { Account: account } = await new STSClient(config).send(new GetCallerIdentityCommand({}));
    const region = this.provider.getRegion();
    const context = {
      pseudo: { 'AWS::AccountId': account, 'AWS::Region': region, 'AWS::Partition': 'aws' },
      physical: {},
      arns: {},
    };
    // moto's queue URLs name AWS's host: the mock's endpoint, never the URL's, is called.
    const sqsClient = new sqs.SQSClient({ ...config, useQueueUrlAsEndpoint: false });
    for (const summary of listed.StackResourceSummaries || []) {
      const id = summary.LogicalResourceId;
      context.physical[id] = summary.PhysicalResourceId;
      if (summary.ResourceType === 'AWS::S3::Bucket') {
        context.arns[id] = `arn:aws:s3:::${summary.PhysicalResourceId}`;
      } else if (summary.ResourceType === 'AWS::SQS::Queue') {
        const { Attributes: attributes } = await sqsClient.send(
          new sqs.GetQueueAttributesCommand({
            QueueUrl: summary.PhysicalResourceId,
            AttributeNames: ['QueueArn'],
          })
        );
        context.arns[id] = attributes.QueueArn;
      }
    }
    for (const properties of queuePolicies) {
      const document = resolveIntrinsics(properties.PolicyDocument, context);
      for (const url of resolveIntrinsics(properties.Queues, context)) {
        await sqsClient.send(
          new sqs.SetQueueAttributesCommand({
            QueueUrl: url,
            Attributes: { Policy: JSON.stringify(document) },
          })
        );
      }
    }
    const s3Client = new s3.S3Client({ ...config, forcePathStyle: true });
    for (const { logicalId, settings } of buckets) {
      const Bucket = context.physical[logicalId];
      const resolved = resolveIntrinsics(settings, context);
      if (resolved.PublicAccessBlockConfiguration) {
        await s3Client.send(new s3.PutPublicAccessBlockCommand({
          Bucket, PublicAccessBlockConfiguration: resolved.PublicAccessBlockConfiguration }));
      }
      if (resolved.OwnershipControls) {
        await s3Client.send(new s3.PutBucketOwnershipControlsCommand({
          Bucket, OwnershipControls: resolved.OwnershipControls }));
      }
      if (resolved.LifecycleConfiguration) {
        await s3Client.send(new s3.PutBucketLifecycleConfigurationCommand({
          Bucket, LifecycleConfiguration: lifecycleForApi(resolved.LifecycleConfiguration) }));
      }
      if (resolved.NotificationConfiguration) {
        await s3Client.send(new s3.PutBucketNotificationConfigurationCommand({
          Bucket,
          NotificationConfiguration: notificationForApi(resolved.NotificationConfiguration),
        }));
      }
      this.log.notice(`featherserve (mock AWS): bucket ${Bucket} configured`);
    }
  }

  async removeLayers() {
    const { DeleteLayerVersionCommand } = require('@aws-sdk/client-lambda');
    const { lambda } = await this.clients();
    const { service } = this.serverless;
    for (const layer of service.getAllLayers()) {
      const layerName = service.getLayer(layer).name;
      for (const version of await this.layerVersions(lambda, layerName)) {
        await lambda.send(new DeleteLayerVersionCommand({ LayerName: layerName, VersionNumber: version }));
      }
    }
  }
}

// A function's environment that names the (dropped) CDN gets a placeholder origin instead.
function cdnPlaceholders(resources, removed) {
  for (const resource of Object.values(resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const variables = ((resource.Properties || {}).Environment || {}).Variables || {};
    for (const [name, value] of Object.entries(variables)) {
      const text = JSON.stringify(value);
      if ([...removed].some((id) => text.includes(`"${id}"`))) variables[name] = CDN_PLACEHOLDER;
    }
  }
}

module.exports = MockAwsPlugin;
module.exports.mockEndpoint = mockEndpoint;
module.exports.adaptForMoto = adaptForMoto;
