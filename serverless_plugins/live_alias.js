'use strict';

// Every function is called through its `live` alias, and rolling back is moving that alias.
//
// Each deploy that changes a function (its code, configuration or any of its layers: the
// framework hashes the layer zips into the version's id) publishes a new Lambda version,
// and CloudFormation points the function's `live` alias at it. API Gateway invokes the
// alias, never $LATEST. A published version is immutable and pins everything that serves a
// request, including the exact layer versions (so the model), hence:
//
//   sls rollback-model --function breast_cancer --stage prod    (make rollback MODEL=...)
//
// points `live` back at the version before, in one API call, without a rebuild or a deploy;
// `--to-version N` picks one (rolling forward again, say). The alias stays there until a
// deploy publishes a new version of that function. Functions deployed without versioning
// (versionFunction: false) are left alone and keep being invoked as $LATEST.
//
// SnapStart (per stage: `params.<stage>.snapStart: true`; or `snapStart: true` on one
// function) is emitted here as `SnapStart: {ApplyOn: PublishedVersions}` on the function,
// not by the framework: its own `snapStart` replaces `live` with a `snapstart` alias, and
// `make rollback` would lose its target. The switch is also written into the function's
// environment (FEATHERSERVE_SNAPSTART), so turning it on or off publishes a new version:
// SnapStart applies to versions published after the change.

const ALIAS_NAME = 'live';
const SNAP_START = { ApplyOn: 'PublishedVersions' };
const SNAP_START_VARIABLE = 'FEATHERSERVE_SNAPSTART';

function isOn(value) {
  return value === true || String(value).toLowerCase() === 'true';
}

function aliasLogicalId(naming, functionName) {
  return `${naming.getNormalizedFunctionName(functionName)}LiveLambdaAlias`;
}

class LiveAliasPlugin {
  constructor(serverless, options, { log } = {}) {
    this.serverless = serverless;
    this.options = options;
    this.log = log || console;
    this.provider = serverless.getProvider('aws');
    this.commands = {
      'rollback-model': {
        usage: `Point a model function's "${ALIAS_NAME}" alias back at its previous version`,
        lifecycleEvents: ['rollback'],
        options: {
          function: {
            usage: 'The model function, e.g. breast_cancer',
            shortcut: 'f',
            required: true,
            type: 'string',
          },
          'to-version': {
            usage: 'The version to point the alias at (default: the one before the current)',
            type: 'string',
          },
        },
      },
    };
    this.hooks = {
      // Before the framework compiles functions and API methods: both read `targetAlias`,
      // so the API integration and its invoke permission name the alias.
      'before:package:compileFunctions': () => this.targetLiveAliases(),
      'after:package:compileFunctions': () => this.addLiveAliases(),
      'rollback-model:rollback': () => this.rollback(),
    };
  }

  versionedFunctions() {
    const { service } = this.serverless;
    return service.getAllFunctions().filter((name) => {
      const fn = service.getFunction(name);
      const versioned =
        fn.versionFunction != null ? fn.versionFunction : service.provider.versionFunctions;
      // A function that already has a target alias (provisioned concurrency, SnapStart)
      // keeps the framework's.
      return versioned !== false && !fn.targetAlias;
    });
  }

  stageSnapStart() {
    const custom = this.serverless.service.custom || {};
    return isOn((custom.featherserve || {}).snapStart);
  }

  targetLiveAliases() {
    const stageWide = this.stageSnapStart();
    this.snapStartFunctions = new Set();
    for (const name of this.versionedFunctions()) {
      const fn = this.serverless.service.getFunction(name);
      fn.targetAlias = {
        name: ALIAS_NAME,
        logicalId: aliasLogicalId(this.provider.naming, name),
        featherserve: true,
      };
      if (stageWide || isOn(fn.snapStart)) {
        delete fn.snapStart; // the framework would replace `live` with its own alias
        fn.environment = { ...(fn.environment || {}), [SNAP_START_VARIABLE]: SNAP_START.ApplyOn };
        this.snapStartFunctions.add(name);
      }
    }
  }

  addLiveAliases() {
    const { service } = this.serverless;
    const resources = service.provider.compiledCloudFormationTemplate.Resources;
    for (const name of service.getAllFunctions()) {
      const fn = service.getFunction(name);
      if (!fn.targetAlias || !fn.targetAlias.featherserve || !fn.versionLogicalId) continue;
      const functionLogicalId = this.provider.naming.getLambdaLogicalId(name);
      if (this.snapStartFunctions && this.snapStartFunctions.has(name)) {
        resources[functionLogicalId].Properties.SnapStart = { ...SNAP_START };
      }
      resources[fn.targetAlias.logicalId] = {
        Type: 'AWS::Lambda::Alias',
        Properties: {
          FunctionName: { Ref: functionLogicalId },
          FunctionVersion: { 'Fn::GetAtt': [fn.versionLogicalId, 'Version'] },
          Name: ALIAS_NAME,
          Description: 'What API Gateway invokes; `sls rollback-model` moves it',
        },
      };
    }
  }

  async lambdaClient() {
    // The framework's own AWS SDK v3 client package and configuration (credentials,
    // region, AWS_ENDPOINT_URL).
    const { LambdaClient } = require('@aws-sdk/client-lambda');
    return new LambdaClient(await this.provider.getAwsSdkV3Config());
  }

  async rollback() {
    const {
      GetAliasCommand,
      UpdateAliasCommand,
      ListVersionsByFunctionCommand,
    } = require('@aws-sdk/client-lambda');
    const ServerlessError = this.serverless.classes.Error;
    const key = this.options.function;
    const fn = this.serverless.service.getFunction(key); // a clear error for unknown names
    const lambda = await this.lambdaClient();
    const alias = await lambda.send(
      new GetAliasCommand({ FunctionName: fn.name, Name: ALIAS_NAME })
    );
    const versions = [];
    let marker;
    do {
      const page = await lambda.send(
        new ListVersionsByFunctionCommand({ FunctionName: fn.name, Marker: marker })
      );
      for (const version of page.Versions || []) {
        if (/^\d+$/.test(version.Version)) versions.push(Number(version.Version));
      }
      marker = page.NextMarker;
    } while (marker);
    const current = Number(alias.FunctionVersion);
    let target;
    if (this.options['to-version'] != null) {
      target = Number(this.options['to-version']);
      if (!versions.includes(target)) {
        throw new ServerlessError(
          `${fn.name} has no version ${this.options['to-version']} ` +
            `(versions: ${versions.sort((a, b) => a - b).join(', ')})`,
          'FEATHERSERVE_ROLLBACK_VERSION'
        );
      }
    } else {
      const older = versions.filter((version) => version < current);
      if (!older.length) {
        throw new ServerlessError(
          `${fn.name}: "${ALIAS_NAME}" is at version ${current}, the oldest there is; ` +
            'nothing to roll back to',
          'FEATHERSERVE_ROLLBACK_NONE'
        );
      }
      target = Math.max(...older);
    }
    await lambda.send(
      new UpdateAliasCommand({
        FunctionName: fn.name,
        Name: ALIAS_NAME,
        FunctionVersion: String(target),
      })
    );
    const [before, after] = await Promise.all(
      [current, target].map((version) => this.modelOf(lambda, fn.name, version))
    );
    const note = target === current ? ' (unchanged)' : '';
    this.log.notice(
      `${fn.name}: ${ALIAS_NAME} version ${current} -> ${target}${note}\n` +
        `  was serving: ${before}\n  now serving: ${after}`
    );
  }

  async modelOf(lambda, functionName, version) {
    const { GetFunctionConfigurationCommand } = require('@aws-sdk/client-lambda');
    const configuration = await lambda.send(
      new GetFunctionConfigurationCommand({ FunctionName: functionName, Qualifier: String(version) })
    );
    const variables = (configuration.Environment && configuration.Environment.Variables) || {};
    return variables.FEATHERSERVE_MODEL_LAYER || '(no FEATHERSERVE_MODEL_LAYER in its configuration)';
  }
}

module.exports = LiveAliasPlugin;
module.exports.ALIAS_NAME = ALIAS_NAME;
module.exports.aliasLogicalId = aliasLogicalId;
module.exports.SNAP_START_VARIABLE = SNAP_START_VARIABLE;
