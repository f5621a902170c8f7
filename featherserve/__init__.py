"""featherserve's tooling: the CLI, layer building, code generation, the Lambda-fidelity
runner, pricing and the helpers tests and benchmarks share. No Lambda function imports it."""
