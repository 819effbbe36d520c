"""Run by aws-sam-cli's own venv (tests/infra/test_stack_hardening.py): the IAM roles SAM makes.

Prints ``{role: {"managed": [ARNs], "statements": [inline statements]}}`` for every
``AWS::IAM::Role`` of SAM's transform of the template given as the only argument. Offline: code
locations are replaced by S3 URIs (as ``sam package`` would), and no managed policy is looked up.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoPolicyLookups:
    """SAM resolves named managed policies through IAM; the template names none (the test checks)."""

    def load(self) -> dict[str, str]:
        return {}


def main(path: str) -> None:
    with open(path, encoding="utf-8") as fh:
        template: dict[str, Any] = yaml_parse(fh.read())
    for resource in template["Resources"].values():
        props = resource.get("Properties") or {}
        if resource["Type"] == "AWS::Serverless::Function":
            props["CodeUri"] = "s3://bucket/function.zip"
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            props["ContentUri"] = "s3://bucket/layer.zip"
    resources = transform(template, {}, NoPolicyLookups())["Resources"]
    roles = {
        name: {
            "managed": resource["Properties"].get("ManagedPolicyArns") or [],
            "statements": [
                statement
                for policy in resource["Properties"].get("Policies") or []
                for statement in policy["PolicyDocument"]["Statement"]
            ],
        }
        for name, resource in resources.items()
        if resource["Type"] == "AWS::IAM::Role"
    }
    print(json.dumps(roles, default=str))


if __name__ == "__main__":
    main(sys.argv[1])
