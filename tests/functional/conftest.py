"""Functional tests: the real handlers, invoked with Lambda events, AWS on moto (in-process)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from bars_support import ROOT
from moto import mock_aws

from tkw_local.backend import Resolver, create_resources, parameters_from_env
from tkw_local.functions import LoadedFunction, load_function
from tkw_local.template import Template

TEMPLATE = Template.read(ROOT / "template.yaml")


def _reset_caches() -> None:
    from tkw.adapters.aws import reset_clients
    from tkw.services import get_services
    from tkw.settings import get_settings

    reset_clients()
    get_settings.cache_clear()
    get_services.cache_clear()  # the receiver and outbound collaborators with it


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Resolver]:
    """moto in-process, with the template's own table and bucket; env as a deployed function sees it."""
    for name in ("AWS_ENDPOINT_URL", "TKW_AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-2")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    with mock_aws():
        _reset_caches()
        resolver = create_resources(TEMPLATE, Resolver(parameters=parameters_from_env(TEMPLATE, {})))
        env = {}
        for spec in TEMPLATE.functions():
            env.update({k: str(resolver.resolve(v)) for k, v in spec.environment.items()})
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        # Reports through the in-process worker, as under the local runner (the queue path and the
        # report worker function have their own test).
        monkeypatch.setenv("TKW_REPORT_HANDOFF", "in-process")
        yield resolver
        _reset_caches()
    assert "AWS_ENDPOINT_URL" not in os.environ


@pytest.fixture(scope="session")
def functions() -> dict[str, LoadedFunction]:
    return {spec.logical_id: load_function(TEMPLATE.root, spec) for spec in TEMPLATE.functions()}
