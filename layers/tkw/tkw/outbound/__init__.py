"""Async responses: the emulator answers back to a sender's own endpoint (its registered endpoints, the
response messages built from the IG examples, the queue worker and the on-demand API)."""
