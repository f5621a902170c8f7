"""The web app's generated parts: the ``web`` function (in ``generated/functions.yml``), its
two layers (in ``generated/layers.yml``) and ``generated/web.yml``: the static-assets bucket
behind CloudFront that serves the pages' JavaScript, onnxruntime-web and model files.

The web function has no API key (its routes are the public pages); it reads manifests only
(the ``webCatalog`` layer puts them under /opt/models, with the latest benchmark and the
example rows), never a model's bytes, and its demo route invokes the models' ``live``
aliases (serverless_plugins/function_roles.js gives its role exactly that). Its own
throttle (``params.demoRateLimit`` / ``demoBurstLimit``) and reserved concurrency keep a
public page from running up the bill. The static files are larger than Lambda's 6 MB
response limit (onnxruntime's wasm is 14 MB), so they never go through a function:
``featherserve web-static`` uploads them to the bucket after a deploy (``make deploy``).
"""

from __future__ import annotations

WEB_FILE = "web.yml"
WEB_FUNCTION = "web"
# Local: serverless-offline routes /static/* to the app, which serves the files itself.
WEB_ROUTES = ("/", "/docs", "/openapi.json", "/demo/{name}", "/demo/{name}/predict",
              "/static/{proxy+}")


def web_function_lines() -> list[str]:
    lines = [
        f"{WEB_FUNCTION}:",
        "  handler: handlers/web.handler",
        '  description: "The web app: catalog, demo pages, OpenAPI (serverless-wsgi, no model '
        'inside)"',
        "  # Pages from manifests and a proxied demo call: no model runs here.",
        "  memorySize: 512",
        "  # Demo traffic never takes more than this many concurrent executions.",
        "  reservedConcurrency: ${param:webReservedConcurrency}",
        "  environment:",
        "    # Demo predictions invoke <prefix><model> at its live alias (the API's version).",
        "    FEATHERSERVE_DEMO_FUNCTION_PREFIX: ${self:service}-${sls:stage}-",
        "    FEATHERSERVE_DEMO_QUALIFIER: live",
        '    FEATHERSERVE_DEMO_MAX_BODY_BYTES: "${param:demoMaxBodyBytes}"',
        "    # FEATHERSERVE_STATIC_URL (the CDN's origin) is set in the compiled template by",
        "    # serverless_plugins/web_app.js: `sls invoke local` cannot resolve it here.",
        "  layers:",
        "    - { Ref: WebLambdaLayer }",
        "    - { Ref: WebCatalogLambdaLayer }",
        "  # Public pages: no API key. ANY: the app answers HEAD, OPTIONS and wrong methods.",
        "  events:",
    ]
    lines += [f'    - http: {{ path: "{route}", method: any }}' for route in WEB_ROUTES]
    return [*lines, ""]


def web_layer_lines() -> list[str]:
    return [
        "web:",
        "  name: ${self:service}-${sls:stage}-web",
        "  description: werkzeug, serverless-wsgi (pyproject's web extra) for python3.12",
        "  compatibleRuntimes: [python3.12]",
        "  package:",
        "    artifact: ${self:custom.layersDir}/web.zip",
        "",
        "webCatalog:",
        "  name: ${self:service}-${sls:stage}-web-catalog",
        "  description: the served models' manifests (/opt/models), latest benchmark, examples",
        "  compatibleRuntimes: [python3.12]",
        "  package:",
        "    artifact: ${self:custom.layersDir}/web-catalog.zip",
        "",
    ]


def render_web(header: str) -> str:
    """The static-assets bucket (private, encrypted, versioned, TLS only) and its CDN (OAC)."""
    return header + """
# The web pages' static files (JavaScript, CSS, onnxruntime-web's 14 MB wasm, model files):
# a private bucket that only this CloudFront distribution may read (origin access control),
# HTTPS only, content-addressed paths cached for a year. `featherserve web-static --stage
# <stage>` uploads them after `sls deploy` (`make deploy` runs it). The mocked deploy drops
# the distribution and its access control (moto's CloudFormation cannot create them); the
# template test checks them.
Resources:
  WebStaticBucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketEncryption:
        ServerSideEncryptionConfiguration:
          - ServerSideEncryptionByDefault: { SSEAlgorithm: AES256 }
      PublicAccessBlockConfiguration:
        BlockPublicAcls: true
        BlockPublicPolicy: true
        IgnorePublicAcls: true
        RestrictPublicBuckets: true
      OwnershipControls:
        Rules: [{ ObjectOwnership: BucketOwnerEnforced }]
      VersioningConfiguration: { Status: Enabled }
  WebStaticBucketPolicy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: { Ref: WebStaticBucket }
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Sid: TlsOnly
            Effect: Deny
            Principal: "*"
            Action: "s3:*"
            Resource:
              - { "Fn::GetAtt": [WebStaticBucket, Arn] }
              - { "Fn::Join": ["", [{ "Fn::GetAtt": [WebStaticBucket, Arn] }, "/*"]] }
            Condition: { Bool: { "aws:SecureTransport": "false" } }
          - Sid: CloudFrontReadsOnly
            Effect: Allow
            Principal: { Service: cloudfront.amazonaws.com }
            Action: "s3:GetObject"
            Resource: { "Fn::Join": ["", [{ "Fn::GetAtt": [WebStaticBucket, Arn] }, "/*"]] }
            Condition:
              StringEquals:
                "AWS:SourceArn":
                  "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":cloudfront::",
                                    { Ref: "AWS::AccountId" }, ":distribution/",
                                    { Ref: WebStaticDistribution }]]
  WebStaticOriginAccessControl:
    Type: AWS::CloudFront::OriginAccessControl
    Properties:
      OriginAccessControlConfig:
        Name: ${self:service}-${sls:stage}-web-static
        OriginAccessControlOriginType: s3
        SigningBehavior: always
        SigningProtocol: sigv4
  # What every answer from the CDN carries: CORS for the pages' cross-origin module scripts
  # and wasm (public files, no credentials, as the managed SimpleCORS policy did), and the
  # security headers the web function sets on its own answers.
  WebStaticResponseHeadersPolicy:
    Type: AWS::CloudFront::ResponseHeadersPolicy
    Properties:
      ResponseHeadersPolicyConfig:
        Name: ${self:service}-${sls:stage}-web-static
        Comment: CORS and security headers for the web pages' static files
        CorsConfig:
          AccessControlAllowCredentials: false
          AccessControlAllowHeaders: { Items: ["*"] }
          AccessControlAllowMethods: { Items: [GET, HEAD] }
          AccessControlAllowOrigins: { Items: ["*"] }
          OriginOverride: true
        SecurityHeadersConfig:
          StrictTransportSecurity:
            AccessControlMaxAgeSec: 63072000
            IncludeSubdomains: true
            Override: true
          ContentTypeOptions: { Override: true }
          FrameOptions: { FrameOption: DENY, Override: true }
          ReferrerPolicy: { ReferrerPolicy: strict-origin-when-cross-origin, Override: true }
  WebStaticDistribution:
    Type: AWS::CloudFront::Distribution
    Properties:
      DistributionConfig:
        Enabled: true
        Comment: ${self:service} ${sls:stage} web static files
        HttpVersion: http2and3
        PriceClass: PriceClass_100
        Origins:
          - Id: static
            DomainName: { "Fn::GetAtt": [WebStaticBucket, RegionalDomainName] }
            S3OriginConfig: { OriginAccessIdentity: "" }
            OriginAccessControlId: { "Fn::GetAtt": [WebStaticOriginAccessControl, Id] }
        DefaultCacheBehavior:
          TargetOriginId: static
          ViewerProtocolPolicy: https-only
          AllowedMethods: [GET, HEAD]
          Compress: true
          # The managed CachingOptimized policy; the response headers above.
          CachePolicyId: 658327ea-f89d-4fab-a63d-7e88639e58f6
          ResponseHeadersPolicyId: { Ref: WebStaticResponseHeadersPolicy }
        ViewerCertificate: { CloudFrontDefaultCertificate: true }
Outputs:
  WebStaticBucketName:
    Value: { Ref: WebStaticBucket }
  WebStaticUrl:
    Value: { "Fn::Join": ["", ["https://", { "Fn::GetAtt": [WebStaticDistribution, DomainName] }]] }
"""
