'use strict';

// featherserve's small Serverless Framework plugin.
//
// Offline packaging: when packaging layers, the framework asks CloudFormation for the
// deployed stack's layer hashes (to skip re-uploading an unchanged layer). With no AWS
// credentials at all that call can only fail, and it would also make the SDK probe the
// EC2 metadata endpoint. The comparison is an upload optimisation, so without any
// credential source we skip it and package fresh layers; with credentials it runs as usual.

const fs = require('fs');
const os = require('os');
const path = require('path');

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
      'before:package:compileLayers': () => this.skipLayerComparisonWithoutCredentials(),
    };
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
