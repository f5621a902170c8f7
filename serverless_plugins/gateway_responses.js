'use strict';

// API Gateway's own errors in the contract's shape.
//
// Some requests are answered by API Gateway before any function runs: no or a wrong API key,
// an unknown route, throttling, an exhausted quota, a body over its 10 MB limit, a timeout.
// Left alone they come back as {"message": "..."}; here each becomes
// {"error": {"code", "message", "request_id"}} like every other error, with the status the
// contract uses (an unknown route is a 404 here, not API Gateway's 403 "Missing
// Authentication Token"), and with the demo origin's CORS header so a browser page can
// read it. API Gateway serves gateway responses from a deployment, so the stack's
// deployment is made to depend on them: changed responses go live in the same deploy.

// [response type, status, code, message]; `null` message: API Gateway's own text.
const RESPONSES = [
  ['INVALID_API_KEY', 403, 'forbidden',
    'Missing or invalid API key: send your key in the x-api-key header.'],
  ['ACCESS_DENIED', 403, 'forbidden', 'Access denied.'],
  ['MISSING_AUTHENTICATION_TOKEN', 404, 'not_found',
    'No such route: models answer GET /models/{name} and POST /models/{name}/predict.'],
  ['THROTTLED', 429, 'throttled',
    'Too many requests for this API key: retry after a short, growing pause.'],
  ['QUOTA_EXCEEDED', 429, 'quota_exceeded',
    "This API key's daily request quota is used up; it renews at 00:00 UTC."],
  ['REQUEST_TOO_LARGE', 413, 'payload_too_large',
    'The request is over API Gateway\'s 10 MB limit; send one image or fewer instances.'],
  ['UNSUPPORTED_MEDIA_TYPE', 415, 'unsupported_media_type',
    'Send application/json, or one image as image/* or application/octet-stream.'],
  ['INTEGRATION_TIMEOUT', 504, 'timeout', 'The model did not answer in time; retry.'],
  ['DEFAULT_4XX', null, 'request_rejected', null],
  ['DEFAULT_5XX', null, 'internal_error',
    'Internal error; retry later, and quote the request_id if it persists.'],
];

function pascalCase(responseType) {
  return responseType
    .toLowerCase()
    .split('_')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

function bodyTemplate(code, message) {
  const text = message === null ? '$context.error.messageString' : JSON.stringify(message);
  return `{"error": {"code": "${code}", "message": ${text}, "request_id": "$context.requestId"}}`;
}

function gatewayResponse(restApiId, [type, status, code, message], corsOrigin) {
  const properties = {
    RestApiId: restApiId,
    ResponseType: type,
    ResponseTemplates: { 'application/json': bodyTemplate(code, message) },
    ResponseParameters: {
      'gatewayresponse.header.Content-Type': "'application/json'",
    },
  };
  if (corsOrigin) {
    properties.ResponseParameters['gatewayresponse.header.Access-Control-Allow-Origin'] =
      `'${corsOrigin}'`;
    properties.ResponseParameters['gatewayresponse.header.Vary'] = "'Origin'";
  }
  // DEFAULT_*: keep the status of whatever went wrong.
  if (status !== null) properties.StatusCode = String(status);
  return { Type: 'AWS::ApiGateway::GatewayResponse', Properties: properties };
}

class GatewayResponsesPlugin {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      // After the framework compiled the REST API, its methods and deployment.
      'after:package:compileEvents': () => this.addGatewayResponses(),
    };
  }

  addGatewayResponses() {
    const { service } = this.serverless;
    const provider = this.serverless.getProvider('aws');
    const resources = service.provider.compiledCloudFormationTemplate.Resources;
    const restApiLogicalId = provider.naming.getRestApiLogicalId();
    if (!resources[restApiLogicalId]) return; // no http events, no REST API
    const corsOrigin = ((service.custom && service.custom.featherserve) || {}).corsOrigin;
    const added = RESPONSES.map((response) => {
      const logicalId = `GatewayResponse${pascalCase(response[0])}`;
      resources[logicalId] = gatewayResponse({ Ref: restApiLogicalId }, response, corsOrigin);
      return logicalId;
    });
    for (const [logicalId, resource] of Object.entries(resources)) {
      if (resource.Type !== 'AWS::ApiGateway::Deployment') continue;
      const dependsOn = [].concat(resource.DependsOn || []);
      resource.DependsOn = [...new Set([...dependsOn, ...added])];
      this.deploymentLogicalId = logicalId;
    }
  }
}

module.exports = GatewayResponsesPlugin;
module.exports.RESPONSES = RESPONSES;
