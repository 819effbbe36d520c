"""FHIR response builders: OperationOutcomes, canned resources, bundles."""
