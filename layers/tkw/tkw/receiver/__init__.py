"""Receiver mode: TKW sends a BaRS test suite to a supplier's receiver and checks every answer.

``suite.yaml`` (the tests, as data) → :mod:`builder` (requests) → :mod:`transport` (HTTP, TLS-MA,
SSRF guard) → :mod:`checks` (verdicts) → :mod:`runner` (order, concurrency, progress) →
:mod:`reports` (HTML, JSON, JUnit, zip). :mod:`service` is what the API and worker functions call.
"""
