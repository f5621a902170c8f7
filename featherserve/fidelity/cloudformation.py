"""Just enough of CloudFormation to read a function's configuration from a template.

Resolves ``Ref``, ``Fn::GetAtt``, ``Fn::Join``, ``Fn::Sub``, ``Fn::Select`` and
``Fn::Split`` to the names AWS would give (or, for a deployed stack, the physical ids it
did give); an attribute only a deploy knows becomes the visible stand-in
``<LogicalId>.<Attribute>``; any other construct is a ``TemplateError`` naming it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from featherserve.fidelity.exceptions import TemplateError

# moto's and the documentation's account; only ever part of a name nothing calls.
ACCOUNT_ID = "123456789012"
FUNCTION = "AWS::Lambda::Function"
# Resources that stand for a function elsewhere: the property that names it.
_FOLLOW = {"AWS::Lambda::Alias": "FunctionName", "AWS::Lambda::Version": "FunctionName",
           "AWS::ApiGatewayV2::Integration": "IntegrationUri"}
_SUB_NAME = re.compile(r"\$\{([^}!][^}]*)\}")


@dataclass(frozen=True)
class Template:
    resources: Mapping[str, Mapping[str, Any]]
    region: str
    stack_name: str
    # A deployed stack's logical id → physical id (what Ref returns there).
    physical_ids: Mapping[str, str] = field(default_factory=dict)
    # Attributes only a deploy knows, resolved to "<LogicalId>.<Attribute>" so far.
    stand_ins: set[str] = field(default_factory=set)

    @classmethod
    def from_json(cls, document: Mapping[str, Any], *, region: str, stack_name: str,
                  physical_ids: Mapping[str, str] | None = None) -> Template:
        return cls(document.get("Resources") or {}, region, stack_name, physical_ids or {})

    def of_type(self, kind: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
        for logical_id, resource in self.resources.items():
            if resource.get("Type") == kind:
                yield logical_id, resource.get("Properties") or {}

    def properties(self, logical_id: str) -> Mapping[str, Any]:
        return self.resources.get(logical_id, {}).get("Properties") or {}

    def kind(self, logical_id: str) -> str:
        return str(self.resources.get(logical_id, {}).get("Type", ""))

    # ----------------------------------------------------------------- resolution
    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {k: self.resolve(v) for k, v in value.items()}
        (key, arg), = value.items()
        if key == "Ref":
            return self.ref(str(arg))
        if key == "Fn::GetAtt":
            logical_id, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
            return self.get_att(logical_id, attribute)
        if key == "Fn::Join":
            delimiter, items = arg
            return str(delimiter).join(str(self.resolve(i)) for i in self.resolve(items))
        if key == "Fn::Select":
            index, items = arg
            return self.resolve(items)[int(self.resolve(index))]
        if key == "Fn::Split":
            delimiter, text = arg
            return str(self.resolve(text)).split(delimiter)
        if key == "Fn::Sub":
            return self._sub(arg)
        if key.startswith("Fn::") or key == "Condition":
            raise TemplateError(f"{key} is not resolved by the runner: {value!r}")
        return {key: self.resolve(arg)}

    def ref(self, name: str) -> str:
        pseudo = {"AWS::Region": self.region, "AWS::AccountId": ACCOUNT_ID,
                  "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com",
                  "AWS::StackName": self.stack_name}
        if name in pseudo:
            return pseudo[name]
        if name in self.physical_ids:
            return self.physical_ids[name]
        if name not in self.resources:
            raise TemplateError(f"Ref to {name}, which is not a resource of the template")
        props, kind = self.properties(name), self.kind(name)
        if kind == FUNCTION:
            return str(props.get("FunctionName") or name)
        if kind == "AWS::SQS::Queue":
            return (f"https://sqs.{self.region}.amazonaws.com/{ACCOUNT_ID}/"
                    f"{self.queue_name(name)}")
        if kind == "AWS::S3::Bucket":
            return str(self.resolve(props.get("BucketName")) or name.lower())
        return name

    def get_att(self, logical_id: str, attribute: str) -> str:
        kind = self.kind(logical_id)
        if attribute == "Arn":
            if kind == FUNCTION:
                return (f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:"
                        f"{self.ref(logical_id)}")
            if kind == "AWS::SQS::Queue":
                return f"arn:aws:sqs:{self.region}:{ACCOUNT_ID}:{self.queue_name(logical_id)}"
            if kind == "AWS::S3::Bucket":
                return f"arn:aws:s3:::{self.ref(logical_id)}"
            if kind == "AWS::IAM::Role":
                role = self.resolve(self.properties(logical_id).get("RoleName")) or logical_id
                return f"arn:aws:iam::{ACCOUNT_ID}:role/{role}"
        if attribute == "QueueName" and kind == "AWS::SQS::Queue":
            return self.queue_name(logical_id)
        if attribute == "QueueUrl" and kind == "AWS::SQS::Queue":
            return self.ref(logical_id)
        if not kind:
            raise TemplateError(f"Fn::GetAtt {logical_id}.{attribute}: no such resource")
        # Only a deploy knows it (a distribution's domain name, ...): a visible stand-in.
        stand_in = f"{logical_id}.{attribute}"
        self.stand_ins.add(stand_in)
        return stand_in

    def queue_name(self, logical_id: str) -> str:
        name = self.resolve(self.properties(logical_id).get("QueueName"))
        return str(name) if name else logical_id

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else arg

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self.resolve(variables[name]))
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return self.get_att(logical_id, attribute)
            return self.ref(name)

        return _SUB_NAME.sub(replace, str(text))

    # ---------------------------------------------------------------- references
    def functions_referenced(self, value: Any) -> set[str]:
        """Logical ids of the functions ``value`` points at (through aliases and versions)."""
        found: set[str] = set()
        for logical_id in _references(value):
            kind = self.kind(logical_id)
            if kind == FUNCTION:
                found.add(logical_id)
            elif kind in _FOLLOW:
                found |= self.functions_referenced(self.properties(logical_id).get(_FOLLOW[kind]))
        return found


def _references(value: Any) -> Iterator[str]:
    """Every logical id named by Ref, Fn::GetAtt or ${...} in Fn::Sub inside ``value``."""
    if isinstance(value, list):
        for item in value:
            yield from _references(item)
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                yield arg
            elif key == "Fn::GetAtt":
                yield (arg.split(".", 1)[0] if isinstance(arg, str) else str(arg[0]))
            elif key == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                yield from (m.group(1).split(".", 1)[0] for m in _SUB_NAME.finditer(str(text)))
                if not isinstance(arg, str):
                    yield from _references(arg[1])
            else:
                yield from _references(arg)
