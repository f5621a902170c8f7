"""The secure defaults, read from the CloudFormation template `sls package` writes, one file
per concern (API keys, gateway responses, CORS, IAM, throttling, logs, alarms, queues, the
CDN, the deployment); the mocked deploy in test_deploy_mock.py.

No AWS and no credentials: these are the checks for what the mocked deploy cannot show
(moto has no API keys, usage plans, gateway responses or aliases in CloudFormation, and
does not evaluate IAM policies). The templates are packaged once per session
(tests/support/template.py).
"""

from tests.support.template import no_bulk_template, service, stage_template, template

__all__ = ["no_bulk_template", "service", "stage_template", "template"]
