"""Stack hardening, read from ``template.yaml`` itself (parsed as the local runner parses it).

- the reports bucket is private, encrypted at rest and refuses plain-HTTP access;
- presigned links live at most 15 minutes (the parameter's MaxValue, and the code's own cap);
- every function's IAM statements name only this stack's table, bucket prefixes and queue, with
  the actions its code uses, and never a wildcard;
- no managed policies but SAM's implicit ones (checked on SAM's own transform of the template);
- ``cfn-lint`` is clean.

The one implicit managed policy beyond logging and tracing is ``AWSLambdaSQSQueueExecutionRole``,
which SAM attaches to the three queue workers (``ReceiverWorkerFunction``, ``ReportWorkerFunction``
and ``ResponseWorkerFunction``) for their SQS event sources (receive, delete and read attributes of
queues). It is accepted: Lambda's event source mapping needs exactly those actions and only delivers
our queues' messages (the response worker sends the next step of a trigger itself, with its own
sqs:SendMessage grant).
Replacing it would mean giving the function a hand-written role instead of SAM's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from bars_support import ROOT

from tkw_local.template import load_template

TEMPLATE_PATH = ROOT / "template.yaml"
TEMPLATE = load_template(TEMPLATE_PATH)
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
FUNCTIONS = {k: v for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function"}

# What each function's code does with AWS (reviewed against tkw/adapters/*): any change to a
# function's permissions must change this table too, on purpose.
_BEARER = {"dynamodb:GetItem"}  # int mode: the bearer token and its application
# The report hand-off (one SendMessage), and strict mode's X-Request-Id claim on the request path.
_REPORTS = {"sqs:SendMessage", "dynamodb:PutItem"}
EXPECTED_ACTIONS: dict[str, set[str]] = {
    "PingFunction": set(),
    "FallbackFunction": set(),
    "PortalFunction": set(),
    "MetadataFunction": _BEARER | _REPORTS,
    "MessageDefinitionFunction": _BEARER | _REPORTS,
    "SlotFunction": _BEARER | _REPORTS,
    # + the stateful transition: one TransactWriteItems of Put and Update items
    # + queueing the responses a Response sentinel triggers
    "ProcessMessageFunction": _BEARER | _REPORTS | {"dynamodb:UpdateItem", "sqs:SendMessage"},
    "AppointmentFunction": _BEARER | _REPORTS,
    "ServiceRequestFunction": _BEARER | _REPORTS,
    "TokenFunction": {"dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem"},
    "AppsFunction": {"dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"},
    "StateFunction": {"dynamodb:GetItem", "dynamodb:DeleteItem"},
    "ReportsFunction": {"dynamodb:GetItem", "dynamodb:Query", "s3:GetObject", "s3:PutObject"},
    "ReceiverRunsFunction": {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",  # the organisation's hourly count of runs (tkw.outbound_limits)
        "sqs:SendMessage",
        "s3:GetObject",
    },
    # X-Request-Id claim (conditional put), index items, report objects.
    "ReportWorkerFunction": {"dynamodb:PutItem", "dynamodb:BatchWriteItem", "s3:PutObject"},
    "OrganisationsFunction": _BEARER,
    # A share's two items in one transaction (Put, Update), the list (Query), reports and zips.
    "SharesFunction": {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:Query",
        "s3:GetObject",
        "s3:PutObject",
    },
    "ReceiverWorkerFunction": {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "s3:PutObject",
    },
    "EndpointsFunction": {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:DeleteItem"},
    # UpdateItem: the organisation's hourly count of asynchronous responses (tkw.outbound_limits)
    "ResponsesFunction": {"dynamodb:GetItem", "dynamodb:UpdateItem", "s3:GetObject", "sqs:SendMessage"},
    # endpoints, the step's claim, the outbound report and the link from the triggering one; the next step;
    # the hourly count of asynchronous responses
    "ResponseWorkerFunction": {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:UpdateItem",
        "s3:GetObject",
        "s3:PutObject",
        "sqs:SendMessage",
    },
}
# Where objects may be touched: validation reports, their zips, receiver-run reports.
BUCKET_PREFIXES = {"reports/*", "zips/*", "receiver-runs/*"}
SAM_IMPLICIT_POLICIES = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
}
API_GATEWAY_LOGS_POLICY = "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
SQS_EVENT_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"


def statements(function: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for policy in function["Properties"].get("Policies") or []:
        assert isinstance(policy, dict) and set(policy) <= {"Version", "Statement"}, (
            f"only inline policy documents, no managed policy or SAM policy template: {policy!r}"
        )
        found += policy["Statement"]
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def resource_name(resource: Any) -> str:
    """``StateTable``, ``ReceiverRunsQueue`` or ``ReportsBucket:<prefix>`` for an ARN expression."""
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        logical, attribute = resource["Fn::GetAtt"]
        assert attribute == "Arn", resource
        return str(logical)
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        text = resource["Fn::Sub"]
        assert isinstance(text, str) and text.startswith("${ReportsBucket.Arn}/"), resource
        return "ReportsBucket:" + text.removeprefix("${ReportsBucket.Arn}/")
    raise AssertionError(f"a resource this stack does not own, or a literal ARN: {resource!r}")


# ---- the reports bucket ---------------------------------------------------------------------


def test_the_reports_bucket_is_private() -> None:
    props = RESOURCES["ReportsBucket"]["Properties"]
    block = props["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert "AccessControl" not in props, "no canned ACL (public-read would defeat the block)"
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}], "ACLs disabled"
    assert "WebsiteConfiguration" not in props


def test_the_reports_bucket_is_encrypted_at_rest() -> None:
    rules = RESOURCES["ReportsBucket"]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rules and all(
        r["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms", "aws:kms:dsse") for r in rules
    )


def test_the_reports_bucket_refuses_plain_http() -> None:
    policies = [r for r in RESOURCES.values() if r["Type"] == "AWS::S3::BucketPolicy"]
    assert len(policies) == 1 and policies[0]["Properties"]["Bucket"] == {"Ref": "ReportsBucket"}
    document = policies[0]["Properties"]["PolicyDocument"]
    tls_only = [
        s
        for s in document["Statement"]
        if s["Effect"] == "Deny"
        and s.get("Principal") == "*"
        and "s3:*" in as_list(s["Action"])
        and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") in ("false", False)
    ]
    assert tls_only, "a Deny of s3:* when aws:SecureTransport is false"
    covered = {resource_name(r) for s in tls_only for r in as_list(s["Resource"])}
    assert covered == {"ReportsBucket", "ReportsBucket:*"}, "the bucket and every object in it"
    assert not [s for s in document["Statement"] if s["Effect"] == "Allow"], "the bucket policy grants nothing"


def test_the_table_and_queues_are_encrypted() -> None:
    assert RESOURCES["StateTable"]["Properties"]["SSESpecification"]["SSEEnabled"] is True
    for name, resource in RESOURCES.items():
        if resource["Type"] == "AWS::SQS::Queue":
            props = resource["Properties"]
            assert props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props, name


# ---- presigned links ------------------------------------------------------------------------


def test_presigned_links_live_at_most_15_minutes_in_the_template() -> None:
    parameter = TEMPLATE["Parameters"]["ReportLinkExpirySeconds"]
    assert parameter["Type"] == "Number"
    assert int(parameter["MaxValue"]) <= 900
    assert 1 <= int(parameter["MinValue"]) <= int(parameter["Default"]) <= int(parameter["MaxValue"])
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["REPORT_LINK_EXPIRY_SECONDS"] == {"Ref": "ReportLinkExpirySeconds"}


def test_the_code_caps_presigned_links_at_15_minutes_whatever_it_is_configured_with() -> None:
    from tkw.adapters.report_store import MAX_LINK_EXPIRY_SECONDS, S3ReportStore
    from tkw.settings import Settings

    assert MAX_LINK_EXPIRY_SECONDS <= 900
    with pytest.raises(ValueError, match="report_link_expiry_seconds must be between 1 and 900"):
        Settings.from_env({"REPORT_LINK_EXPIRY_SECONDS": "3600"})
    assert Settings.from_env({"REPORT_LINK_EXPIRY_SECONDS": "900"}).report_link_expiry_seconds == 900
    store = S3ReportStore("table", "bucket", link_expiry_seconds=86_400)
    assert store.link_expiry_seconds <= 900


def test_a_presigned_report_link_says_it_expires_within_15_minutes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The link itself (SigV4 X-Amz-Expires), as a browser would receive it."""
    import boto3

    from tkw.adapters.report_store import S3ReportStore

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-2",
    }.items():
        monkeypatch.setenv(name, value)
    s3 = boto3.client("s3", region_name="eu-west-2")  # presigning is local: no request is sent
    store = S3ReportStore("table", "bucket", link_expiry_seconds=86_400, s3=s3)
    url = store._presign("reports/A1001/x.json", "application/json", "x.json")
    expires = int(parse_qs(urlsplit(url).query)["X-Amz-Expires"][0])
    assert 0 < expires <= 900


# ---- IAM: least privilege -------------------------------------------------------------------


def test_every_function_is_in_the_reviewed_permission_table() -> None:
    assert set(FUNCTIONS) == set(EXPECTED_ACTIONS), "a new function needs its permissions reviewed here"


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_a_function_gets_only_the_actions_its_code_uses(name: str) -> None:
    allowed = {a for s in statements(FUNCTIONS[name]) if s["Effect"] == "Allow" for a in as_list(s["Action"])}
    assert allowed == EXPECTED_ACTIONS[name]


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_a_function_has_no_wildcard_and_names_only_this_stacks_resources(name: str) -> None:
    props = FUNCTIONS[name]["Properties"]
    assert "Role" not in props and "ManagedPolicyArns" not in props and "PermissionsBoundary" not in props
    for statement in statements(FUNCTIONS[name]):
        assert statement["Effect"] == "Allow", "functions only get grants"
        assert "NotAction" not in statement and "NotResource" not in statement
        for action in as_list(statement["Action"]):
            service, _, verb = str(action).partition(":")
            assert service and verb and "*" not in action and "?" not in action, f"{name}: wildcard action {action}"
        for resource in as_list(statement["Resource"]):
            owned = resource_name(resource)  # raises on "*", literal ARNs and other stacks' resources
            service = {str(a).split(":")[0] for a in as_list(statement["Action"])}
            if owned == "StateTable":
                assert service == {"dynamodb"}, statement
            elif owned in {"ReceiverRunsQueue", "ReportJobsQueue", "ResponsesQueue"}:
                assert service == {"sqs"}, statement
            else:
                assert owned.startswith("ReportsBucket:") and service == {"s3"}, statement
                assert owned.removeprefix("ReportsBucket:") in BUCKET_PREFIXES, f"{name}: objects under {owned}"


def test_only_the_workers_consume_their_queues() -> None:
    consumers = {
        name: [event["Properties"]["Queue"] for event in (fn["Properties"].get("Events") or {}).values()]
        for name, fn in FUNCTIONS.items()
        if any(event["Type"] == "SQS" for event in (fn["Properties"].get("Events") or {}).values())
    }
    assert consumers == {
        "ReceiverWorkerFunction": [{"Fn::GetAtt": ["ReceiverRunsQueue", "Arn"]}],
        "ReportWorkerFunction": [{"Fn::GetAtt": ["ReportJobsQueue", "Arn"]}],
        "ResponseWorkerFunction": [{"Fn::GetAtt": ["ResponsesQueue", "Arn"]}],
    }
    for worker, queue in (
        ("ReceiverWorkerFunction", "ReceiverRunsQueue"),
        ("ReportWorkerFunction", "ReportJobsQueue"),
        ("ResponseWorkerFunction", "ResponsesQueue"),
    ):
        events = FUNCTIONS[worker]["Properties"]["Events"]
        # Retried item by item, then dead-lettered: never a whole batch lost to one bad message.
        assert all(e["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"] for e in events.values())
        redrive = RESOURCES[queue]["Properties"]["RedrivePolicy"]
        assert redrive["deadLetterTargetArn"]["Fn::GetAtt"][0] in RESOURCES


def sam_python() -> Path:
    sam_bin = Path(os.environ.get("SAM_BIN") or ROOT / ".venv-sam" / "bin" / "sam")
    python = sam_bin.parent / "python"
    assert python.exists(), f"aws-sam-cli's venv not found at {python.parent}: run `make install`"
    return python


@pytest.mark.sam
def test_after_the_sam_transform_roles_carry_only_sams_implicit_managed_policies() -> None:
    env = {**os.environ, "AWS_DEFAULT_REGION": "eu-west-2"}
    script = Path(__file__).with_name("sam_roles.py")
    result = subprocess.run(
        [str(sam_python()), str(script), str(TEMPLATE_PATH)], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr
    roles: dict[str, dict[str, Any]] = json.loads(result.stdout)
    # ApiGatewayLogRole: only with SetApiGatewayLogRole=true, API Gateway's own role for access logs.
    log_role = roles.pop("ApiGatewayLogRole")
    assert log_role == {"managed": [{"Fn::Sub": API_GATEWAY_LOGS_POLICY}], "statements": []}
    assert RESOURCES["ApiGatewayLogRole"]["Condition"] == "CreateApiGatewayLogRole"
    assert set(roles) == {f"{name}Role" for name in FUNCTIONS}, "every function gets its own role from SAM"
    for role_name, role in roles.items():
        expected = set(SAM_IMPLICIT_POLICIES)
        if role_name in {"ReceiverWorkerFunctionRole", "ReportWorkerFunctionRole", "ResponseWorkerFunctionRole"}:
            expected.add(SQS_EVENT_POLICY)  # SAM's, for the SQS event source (see the module docstring)
        assert set(role["managed"]) <= expected, f"{role_name}: {role['managed']}"
        for statement in role["statements"]:
            assert statement["Effect"] == "Allow" and "*" not in json.dumps(statement["Action"]), statement


# ---- cfn-lint -------------------------------------------------------------------------------


def test_cfn_lint_is_clean() -> None:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run(
        [str(cfn_lint), "--format", "parseable", str(TEMPLATE_PATH)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
