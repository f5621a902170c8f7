"""The web app's static files: a private bucket only CloudFront reads (origin access
control), HTTPS only, with CORS and the security headers on every answer."""

from __future__ import annotations

import pytest

from tests.support.template import functions

pytestmark = pytest.mark.e2e


def test_the_static_files_bucket_is_private_and_only_cloudfront_reads_it(template):
    resources = template["Resources"]
    bucket = resources["WebStaticBucket"]["Properties"]
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True}
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert "WebsiteConfiguration" not in bucket and "AccessControl" not in bucket
    policy = resources["WebStaticBucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "WebStaticBucket"}
    deny, allow = policy["PolicyDocument"]["Statement"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "s3:*")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert allow["Effect"] == "Allow" and allow["Action"] == "s3:GetObject"
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    source = allow["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Join"][1]
    assert {"Ref": "WebStaticDistribution"} in source
    # Origin access control: CloudFront signs every request to the bucket.
    control = resources["WebStaticOriginAccessControl"]["Properties"]["OriginAccessControlConfig"]
    assert (control["OriginAccessControlOriginType"], control["SigningBehavior"],
            control["SigningProtocol"]) == ("s3", "always", "sigv4")
    config = resources["WebStaticDistribution"]["Properties"]["DistributionConfig"]
    (origin,) = config["Origins"]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["WebStaticOriginAccessControl",
                                                              "Id"]}
    assert origin["DomainName"] == {"Fn::GetAtt": ["WebStaticBucket", "RegionalDomainName"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # OAC, not the old OAI
    behaviour = config["DefaultCacheBehavior"]
    assert behaviour["ViewerProtocolPolicy"] == "https-only"
    assert behaviour["AllowedMethods"] == ["GET", "HEAD"]
    # Every answer of the CDN: CORS for the pages' module scripts and wasm, and the
    # security headers.
    assert behaviour["ResponseHeadersPolicyId"] == {"Ref": "WebStaticResponseHeadersPolicy"}
    headers = resources["WebStaticResponseHeadersPolicy"]
    assert headers["Type"] == "AWS::CloudFront::ResponseHeadersPolicy"
    policy_config = headers["Properties"]["ResponseHeadersPolicyConfig"]
    security = policy_config["SecurityHeadersConfig"]
    hsts = security["StrictTransportSecurity"]
    assert hsts["AccessControlMaxAgeSec"] >= 31536000 and hsts["IncludeSubdomains"] is True
    assert security["ContentTypeOptions"] == {"Override": True}
    assert security["FrameOptions"] == {"FrameOption": "DENY", "Override": True}
    assert security["ReferrerPolicy"]["ReferrerPolicy"] in (
        "no-referrer", "strict-origin-when-cross-origin", "same-origin")
    assert all(h["Override"] is True for h in security.values())
    cors = policy_config["CorsConfig"]
    assert cors["AccessControlAllowCredentials"] is False
    assert cors["AccessControlAllowMethods"] == {"Items": ["GET", "HEAD"]}
    # The pages load their files from that CDN, and the CSP allows it (webapp/test_web_app.py).
    web = functions(template)["WebLambdaFunction"]["Environment"]["Variables"]
    assert web["FEATHERSERVE_STATIC_URL"] == {"Fn::Join": ["", [
        "https://", {"Fn::GetAtt": ["WebStaticDistribution", "DomainName"]}]]}
    assert {"WebStaticBucketName", "WebStaticUrl"} <= set(template["Outputs"])
