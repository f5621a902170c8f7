'use strict';

// CloudFormation's limits, checked when the template is final and before it is written.
//
// A stack over 500 resources or 200 outputs (or a template over 1 MB, the limit for a body
// read from S3, where the framework uploads it) is refused by CloudFormation only once
// `sls deploy` has uploaded everything and asked for the change. `sls package` (which
// `sls deploy` runs first) stops here instead, with each number against its limit and the
// way out. The hook runs before `aws:package:finalize:saveServiceState`: after every plugin's
// additions (bulk.js and web_app.js add theirs after mergeCustomProviderResources).
//
// featherserve/stack_limits.py holds the same limits and counts the same way (the template
// body is the JSON the framework saves: two-space indented unless --minify-template);
// `featherserve add` refuses from an estimate before anything is written, tests check both.

const LIMITS = {
  // https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
  resources: 500,
  outputs: 200,
  parameters: 200,
  mappings: 200,
  templateBytes: 1048576, // "Template body size in an Amazon S3 object: 1 MB"
};

const WAY_OUT = 'Way out: serve some models pooled (`featherserve add NAME --pooled`: one ' +
  'function for them all, docs/pool.md), stop serving some (`featherserve remove NAME`), or ' +
  'split the models across stages.';

function templateCounts(template, minify) {
  const size = (part) => Object.keys(template[part] || {}).length;
  return {
    resources: size('Resources'),
    outputs: size('Outputs'),
    parameters: size('Parameters'),
    mappings: size('Mappings'),
    templateBytes: Buffer.byteLength(JSON.stringify(template, null, minify ? 0 : 2), 'utf8'),
  };
}

const LABELS = { templateBytes: 'template body bytes (read from S3)' };

function limitProblems(counts) {
  return Object.keys(LIMITS).filter((key) => counts[key] > LIMITS[key])
    .map((key) => `${LABELS[key] || key} ${counts[key]} > limit ${LIMITS[key]}`);
}

class StackLimitsPlugin {
  constructor(serverless, options) {
    this.serverless = serverless;
    this.options = options || {};
    this.hooks = {
      'before:aws:package:finalize:saveServiceState': () => this.check(),
    };
  }

  check() {
    const template = this.serverless.service.provider.compiledCloudFormationTemplate;
    const counts = templateCounts(template, Boolean(this.options['minify-template']));
    const problems = limitProblems(counts);
    if (!problems.length) return;
    throw new this.serverless.classes.Error(
      `This stage's CloudFormation template is over CloudFormation's limits: ` +
      `${problems.join('; ')}. CloudFormation would refuse it part-way through a deploy. ` +
      WAY_OUT, 'FEATHERSERVE_STACK_LIMITS');
  }
}

module.exports = StackLimitsPlugin;
module.exports.LIMITS = LIMITS;
module.exports.templateCounts = templateCounts;
