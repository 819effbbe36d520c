"""Reading a SAM template: its parameters, functions, API routes, SQS consumers and resources.

Nothing here is specific to our template's contents: adding a route or a function to
``template.yaml`` needs no change to the runner.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that keeps CloudFormation short tags (!Ref, !Sub, !GetAtt, ...) as dicts."""


def _cfn_tag(loader: _CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


def load_template(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a CloudFormation template")
    return data


def constant_case(name: str) -> str:
    """AuthMode -> AUTH_MODE: the environment variable that overrides a template parameter."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).upper()


@dataclass(frozen=True)
class ApiRoute:  # frozen without slots: cached_property keeps the parsed path on the instance
    function: str  # logical id
    path: str  # API Gateway resource path, e.g. /booking-and-referral/FHIR/R4/Appointment/{id}
    method: str  # upper case, or ANY

    @cached_property
    def segments(self) -> tuple[str, ...]:
        return tuple(s for s in self.path.split("/") if s)

    def match(self, path: str) -> dict[str, str] | None:
        """Path parameters when ``path`` matches this resource, else None."""
        parts = [p for p in path.split("/") if p]
        params: dict[str, str] = {}
        segments = self.segments
        for i, seg in enumerate(segments):
            if seg.startswith("{") and seg.endswith("+}"):
                if i >= len(parts):
                    return None
                params[seg[1:-2]] = "/".join(parts[i:])
                return params
            if i >= len(parts):
                return None
            if seg.startswith("{") and seg.endswith("}"):
                params[seg[1:-1]] = parts[i]
            elif seg != parts[i]:
                return None
        return params if len(parts) == len(segments) else None

    @cached_property
    def specificity(self) -> tuple[int, ...]:
        """API Gateway prefers literal segments over {param} over {greedy+}, left to right."""
        return tuple(0 if s.endswith("+}") else 1 if s.startswith("{") else 2 for s in self.segments)


@dataclass
class FunctionSpec:
    logical_id: str
    code_uri: str
    handler: str
    environment: dict[str, Any] = field(default_factory=dict)
    routes: list[ApiRoute] = field(default_factory=list)
    sqs_queues: list[str] = field(default_factory=list)  # logical ids of queues it consumes
    layers: list[str] = field(default_factory=list)  # ContentUri of each layer


@dataclass
class Template:
    root: Path
    raw: dict[str, Any]

    @classmethod
    def read(cls, path: Path) -> Template:
        return cls(root=path.parent, raw=load_template(path))

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return dict(self.raw.get("Resources") or {})

    def resources_of_type(self, type_name: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v.get("Type") == type_name}

    def parameter_defaults(self) -> dict[str, str]:
        return {k: str(v.get("Default", "")) for k, v in (self.raw.get("Parameters") or {}).items()}

    def functions(self) -> list[FunctionSpec]:
        globals_fn = ((self.raw.get("Globals") or {}).get("Function")) or {}
        specs = []
        for logical_id, res in self.resources_of_type("AWS::Serverless::Function").items():
            props = {**globals_fn, **(res.get("Properties") or {})}
            env = {
                **((globals_fn.get("Environment") or {}).get("Variables") or {}),
                **(((res.get("Properties") or {}).get("Environment") or {}).get("Variables") or {}),
            }
            spec = FunctionSpec(
                logical_id=logical_id,
                code_uri=str(props.get("CodeUri", ".")),
                handler=str(props.get("Handler", "app.handler")),
                environment=env,
                layers=[self._layer_uri(layer) for layer in props.get("Layers") or []],
            )
            for event in (props.get("Events") or {}).values():
                eprops = event.get("Properties") or {}
                if event.get("Type") == "Api":
                    spec.routes.append(
                        ApiRoute(logical_id, str(eprops["Path"]), str(eprops.get("Method", "ANY")).upper())
                    )
                elif event.get("Type") == "SQS":
                    queue = eprops.get("Queue")
                    if isinstance(queue, dict) and "Fn::GetAtt" in queue:
                        spec.sqs_queues.append(queue["Fn::GetAtt"][0])
            specs.append(spec)
        return specs

    def _layer_uri(self, layer: Any) -> str:
        if isinstance(layer, dict) and "Ref" in layer:
            res = self.resources.get(layer["Ref"]) or {}
            return str((res.get("Properties") or {}).get("ContentUri", ""))
        return ""
