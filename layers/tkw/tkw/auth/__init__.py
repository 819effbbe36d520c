"""API-M security emulation: the signed-JWT token endpoint, registered apps, bearer-token checks.

- :mod:`tkw.auth.assertion`: the pure checker of a token request (every check recorded, API-M's errors).
- :mod:`tkw.auth.token_endpoint`: ``POST /oauth2/token`` (``issue_token`` / ``handle_token_request``).
- :mod:`tkw.auth.bearer`: ``require_bearer``, the BaRS proxy's token check in ``int`` mode.
- :mod:`tkw.auth.apps`: ``/tkw/apps`` registration and the ``TKW_APPS_FILE`` seed file.
- :mod:`tkw.auth.client`: minting assertions and fetching tokens (for senders and the CLI).
- :mod:`tkw.auth.ports`: the storage protocol; ``tkw.adapters.auth_store`` implements it on DynamoDB.

No module here imports boto3.
"""
