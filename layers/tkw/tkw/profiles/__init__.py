"""Profile validation: messages checked against the BaRS, UK Core and FHIR R4 profiles.

Entry point: :func:`validate_body`. The conformance resources are package data
(``data/conformance.json.gz``, built by ``make profiles`` from a folder of FHIR packages);
:data:`PACKAGES` names their versions.
"""

from tkw.profiles.messages import ProfileReport, validate_body
from tkw.profiles.validator import ProfileIssue

__all__ = ["ProfileIssue", "ProfileReport", "validate_body"]
