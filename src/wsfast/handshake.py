"""Placeholder until the handshake lands (issue 3)."""
