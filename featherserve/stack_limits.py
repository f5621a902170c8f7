"""CloudFormation's limits for one stack, and the check a stage's template must pass.

Plain data, no AWS. ``sls package`` checks the final template with the same limits and the
same counts (serverless_plugins/stack_limits.js); ``featherserve add``/``import``/``train``/
``layers`` check an estimate of the stage's template after the change (featherserve/
stack_costs.py, from per-model costs measured on a real packaged template) before writing
anything. Either refuses with each number against its limit and the way out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from model_store.exceptions import ModelStoreError

# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
LIMITS_SOURCE = ("AWS CloudFormation User Guide, 'Understand CloudFormation quotas' "
                 "(cloudformation-limits.html)")
MAX_RESOURCES = 500
MAX_OUTPUTS = 200
MAX_PARAMETERS = 200
MAX_MAPPINGS = 200
# "Template body size in an Amazon S3 object": the framework uploads the template to the
# deployment bucket and passes its URL, so this is the limit a deploy meets.
MAX_TEMPLATE_BYTES = 1_048_576
# "Template body size in a request" (an inline TemplateBody): not the framework's path,
# listed for reference only.
MAX_INLINE_TEMPLATE_BYTES = 51_200

# Name (the same keys as serverless_plugins/stack_limits.js) -> (limit, what is counted).
LIMITS: dict[str, tuple[int, str]] = {
    "resources": (MAX_RESOURCES, "resources"),
    "outputs": (MAX_OUTPUTS, "outputs"),
    "parameters": (MAX_PARAMETERS, "parameters"),
    "mappings": (MAX_MAPPINGS, "mappings"),
    "templateBytes": (MAX_TEMPLATE_BYTES, "bytes of template body (via S3)"),
}

WAY_OUT = ("Way out: serve some models pooled (`featherserve remove NAME`, then `featherserve "
           "add NAME --pooled`: one pool function serves every pooled model, docs/pool.md), "
           "stop serving some (`featherserve remove NAME`), or split the models across stages.")


@dataclass(frozen=True)
class LimitProblem:
    """One count over its CloudFormation limit."""

    key: str
    count: int
    limit: int

    def __str__(self) -> str:
        return f"{LIMITS[self.key][1]}: {self.count:,} > limit {self.limit:,}"


def template_body_bytes(template: dict[str, Any], *, minify: bool = False) -> int:
    """The bytes the framework saves and uploads (JSON.stringify(t, null, 2) unless
    ``--minify-template``)."""
    if minify:
        text = json.dumps(template, separators=(",", ":"), ensure_ascii=False)
    else:
        text = json.dumps(template, indent=2, ensure_ascii=False)
    return len(text.encode("utf-8"))


def template_counts(template: dict[str, Any], body_bytes: int) -> dict[str, int]:
    return {"resources": len(template.get("Resources") or {}),
            "outputs": len(template.get("Outputs") or {}),
            "parameters": len(template.get("Parameters") or {}),
            "mappings": len(template.get("Mappings") or {}),
            "templateBytes": body_bytes}


def check_counts(counts: dict[str, int]) -> list[LimitProblem]:
    return [LimitProblem(key, counts[key], limit) for key, (limit, _) in LIMITS.items()
            if counts.get(key, 0) > limit]


def check_template(template: dict[str, Any], body_bytes: int) -> list[LimitProblem]:
    """Every CloudFormation limit ``template`` (saved as ``body_bytes`` bytes) breaks."""
    return check_counts(template_counts(template, body_bytes))


def limits_message(problems: list[LimitProblem], subject: str) -> str:
    """``subject`` ("this stage's template", "with 25 dedicated models, the stage") is over
    the limits: each number against its limit, then the way out."""
    return (f"{subject} would be over CloudFormation's limits: "
            + "; ".join(str(p) for p in problems)
            + ". CloudFormation would refuse the stack part-way through a deploy. " + WAY_OUT)


class StackLimitError(ModelStoreError):
    """A change that would leave the stage over CloudFormation's limits (nothing written)."""
