"""Loading the template's handlers in-process and invoking them with Lambda-shaped events."""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from tkw_local.template import FunctionSpec

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LocalContext:
    """The parts of LambdaContext that Powertools reads."""

    function_name: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = ""
    invoked_function_arn: str = ""
    log_group_name: str = ""
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


@dataclass
class LoadedFunction:
    """A function's handler module, instantiated once per concurrent invocation (queue consumers).

    Lambda runs one invocation per execution environment at a time, and handler modules rely on
    that (Powertools' resolver keeps the current event on the module's ``app``). So, like Lambda
    scaling out, a busy function gets another environment: another instance of its module.
    """

    root: Path
    spec: FunctionSpec
    _idle: list[Handler] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _created: int = 0

    def invoke(self, event: dict[str, Any]) -> Any:
        handler = self._acquire()
        try:
            context = LocalContext(
                function_name=self.spec.logical_id,
                aws_request_id=str(uuid.uuid4()),
                invoked_function_arn=f"arn:aws:lambda:eu-west-2:123456789012:function:{self.spec.logical_id}",
            )
            return handler(event, context)
        finally:
            with self._lock:
                self._idle.append(handler)

    def _acquire(self) -> Handler:
        with self._lock:
            if self._idle:
                return self._idle.pop()
            self._created += 1
            instance = self._created
        return _import_handler(self.root, self.spec, instance)


def add_layers(root: Path, spec: FunctionSpec) -> None:
    """Put the function's layers on sys.path (first), as Lambda's /opt/python."""
    for layer in spec.layers:
        layer_path = str((root / layer).resolve())
        if layer and layer_path not in sys.path:
            sys.path.insert(0, layer_path)


def _import_handler(root: Path, spec: FunctionSpec, instance: int) -> Handler:
    """Import ``CodeUri/<module>.py`` under a unique module name, with its layers on sys.path."""
    add_layers(root, spec)
    module_name, _, attr = spec.handler.rpartition(".")
    file = (root / spec.code_uri / (module_name.replace(".", "/") + ".py")).resolve()
    unique = f"tkw_fn_{spec.logical_id}_{instance}"
    loader_spec = importlib.util.spec_from_file_location(unique, file)
    if loader_spec is None or loader_spec.loader is None:
        raise ImportError(f"cannot load {file}")
    module: ModuleType = importlib.util.module_from_spec(loader_spec)
    sys.modules[unique] = module
    loader_spec.loader.exec_module(module)
    handler: Handler = getattr(module, attr)
    return handler


def load_function(root: Path, spec: FunctionSpec) -> LoadedFunction:
    """Load a function with one warm environment (import errors surface at start, not mid-request)."""
    loaded = LoadedFunction(root=root, spec=spec)
    with loaded._lock:
        loaded._created = 1
        loaded._idle.append(_import_handler(root, spec, 1))
    return loaded


def rest_proxy_event(
    *,
    method: str,
    path: str,
    resource: str,
    path_parameters: dict[str, str],
    headers: list[tuple[str, str]],
    query: list[tuple[str, str]],
    body: bytes,
    stage: str,
    source_ip: str,
) -> dict[str, Any]:
    """An API Gateway REST (v1) proxy event, multi-value fields included."""
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        multi_headers.setdefault(name, []).append(value)
    multi_query: dict[str, list[str]] = {}
    for name, value in query:
        multi_query.setdefault(name, []).append(value)
    is_base64 = False
    body_text: str | None = None
    if body:
        try:
            body_text = body.decode("utf-8")
        except UnicodeDecodeError:
            import base64

            body_text, is_base64 = base64.b64encode(body).decode(), True
    now_ms = int(time.time() * 1000)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        # Like API Gateway: the single-value maps keep the last value sent.
        "headers": {k: v[-1] for k, v in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": next((v for k, v in headers if k.lower() == "host"), "127.0.0.1"),
            "httpMethod": method,
            "identity": {"sourceIp": source_ip},
            "path": f"/{stage}{path}",
            "protocol": "HTTP/1.1",
            "requestId": str(uuid.uuid4()),
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now_ms / 1000)),
            "requestTimeEpoch": now_ms,
            "resourceId": "local",
            "resourcePath": resource,
            "stage": stage,
        },
        "body": body_text,
        "isBase64Encoded": is_base64,
    }


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "eu-west-2",
            }
            for m in messages
        ]
    }
