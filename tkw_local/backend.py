"""moto as the embedded AWS, with template.yaml's resources in it: one state, two doors.

It runs in the local runner's second process (:mod:`tkw_local.report_worker`):

* In-process (``mock_aws``): the report worker function there stores reports without a network
  round trip (a boto3 call costs moto ~3 ms of CPU, an HTTP round trip to it as much again).
* A moto server on a loopback port, over the same state: the API process's functions call it, and
  presigned report links download from it.

``--aws-endpoint`` (e.g. a standalone moto server for ``sam local``) replaces both: every client then
finds it through ``AWS_ENDPOINT_URL`` (boto3 honours it natively).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from tkw_local.template import Template, constant_case

REGION = "eu-west-2"
ACCOUNT = "123456789012"


@dataclass
class Resolver:
    """Resolves the intrinsic functions our templates use (Ref, GetAtt, Sub) to local values."""

    parameters: dict[str, str]
    physical: dict[str, str] = field(default_factory=dict)  # logical id -> name / queue url
    arns: dict[str, str] = field(default_factory=dict)
    stack_name: str = "tkw-local"

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            ((fn, arg),) = value.items()
            if fn == "Ref":
                return self._ref(str(arg))
            if fn == "Fn::GetAtt":
                logical, attr = arg if isinstance(arg, list) else str(arg).split(".", 1)
                if attr == "Arn":
                    return self.arns.get(logical, f"arn:aws:local:{REGION}:{ACCOUNT}:{logical}")
                return self.physical.get(logical, logical)
            if fn == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                import re

                return re.sub(r"\$\{([^}]+)\}", lambda m: str(self._sub(m.group(1))), text)
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def _sub(self, name: str) -> Any:
        if "." in name:
            logical, attr = name.split(".", 1)
            return self.resolve({"Fn::GetAtt": [logical, attr]})
        return self._ref(name)

    def _ref(self, name: str) -> str:
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": self.stack_name,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        return self.physical.get(name, name)


def parameters_from_env(template: Template, env: dict[str, str] | None = None) -> dict[str, str]:
    """Template parameter defaults, each overridable by its CONSTANT_CASE environment variable."""
    e = os.environ if env is None else env
    return {name: e.get(constant_case(name), default) for name, default in template.parameter_defaults().items()}


def use_endpoint(endpoint_url: str) -> None:
    """Point every boto3 client made from now on at ``endpoint_url``, with dummy credentials."""
    os.environ["AWS_ENDPOINT_URL"] = endpoint_url
    use_dummy_credentials()


def use_dummy_credentials() -> None:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    os.environ.setdefault("AWS_REGION", os.environ["AWS_DEFAULT_REGION"])


def create_resources(template: Template, resolver: Resolver, prefix: str = "tkw-local") -> Resolver:
    """Create the template's tables, buckets and queues in whatever AWS boto3 points at."""
    import boto3

    region = os.environ.get("AWS_DEFAULT_REGION", REGION)
    for logical, res in template.resources_of_type("AWS::DynamoDB::Table").items():
        props = resolver.resolve(res.get("Properties") or {})
        name = props.get("TableName") or f"{prefix}-{logical.lower()}"
        ddb = boto3.client("dynamodb", region_name=region)
        ddb.create_table(
            TableName=name,
            AttributeDefinitions=props["AttributeDefinitions"],
            KeySchema=props["KeySchema"],
            BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"),
        )
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            ddb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        resolver.physical[logical] = name
        resolver.arns[logical] = f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{name}"

    for logical, res in template.resources_of_type("AWS::S3::Bucket").items():
        props = resolver.resolve(res.get("Properties") or {})
        name = props.get("BucketName") or f"{prefix}-{logical.lower()}"
        s3 = boto3.client("s3", region_name=region)
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})  # type: ignore[typeddict-item]
        if "PublicAccessBlockConfiguration" in props:
            s3.put_public_access_block(
                Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
            )
        if "BucketEncryption" in props:
            s3.put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration={
                    # CloudFormation's ServerSideEncryptionByDefault is the API's ApplyServerSide...
                    "Rules": [
                        {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
                        for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
                    ]
                },
            )
        resolver.physical[logical] = name
        resolver.arns[logical] = f"arn:aws:s3:::{name}"

    for logical, res in template.resources_of_type("AWS::SQS::Queue").items():
        props = resolver.resolve(res.get("Properties") or {})
        name = props.get("QueueName") or f"{prefix}-{logical.lower()}"
        sqs = boto3.client("sqs", region_name=region)
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        resolver.physical[logical] = url
        resolver.arns[logical] = f"arn:aws:sqs:{region}:{ACCOUNT}:{name}"
    return resolver


# The DynamoDB operations whose condition checks and writes must not interleave.
_DYNAMODB_SERIALISED = (
    "get_item",
    "put_item",
    "update_item",
    "delete_item",
    "transact_write_items",
    "transact_get_items",
    "batch_write_item",
    "batch_get_item",
    "query",
    "scan",
)
_serialised = False


def serialise_dynamodb() -> None:
    """Make moto's DynamoDB apply one operation at a time, as DynamoDB does per item.

    moto's server runs each request on its own thread and its DynamoDB backend takes no lock: two
    concurrent conditional writes can both succeed. Without this, the local runner could book the
    same stateful slot twice under concurrency, which real DynamoDB never allows.
    """
    global _serialised
    if _serialised:
        return
    import functools
    import threading

    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in _DYNAMODB_SERIALISED:
        original = getattr(DynamoDBBackend, name)

        def serialised(*args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return __original(*args, **kwargs)

        setattr(DynamoDBBackend, name, functools.wraps(original)(serialised))
    _serialised = True


class EmbeddedAws:
    """moto in this process and as a server on a free loopback port, one state behind both."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._mock: Any = None
        self.endpoint_url = ""

    def start(self) -> str:
        """Start both doors; boto3 clients made from now on in this process use the in-process one."""
        from moto import mock_aws

        serialise_dynamodb()
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        use_dummy_credentials()
        os.environ.pop("AWS_ENDPOINT_URL", None)
        # S3 clients address the server, so the links they presign download from it; moto's mock
        # still serves their own calls in-process (it treats that endpoint as S3's).
        os.environ["AWS_ENDPOINT_URL_S3"] = self.endpoint_url
        os.environ["MOTO_S3_CUSTOM_ENDPOINTS"] = self.endpoint_url
        self._mock = mock_aws()
        self._mock.start()
        return self.endpoint_url

    def stop(self) -> None:
        if self._mock is not None:
            self._mock.stop()
        self._server.stop()
