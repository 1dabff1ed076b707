"""Selects the connection implementation (see _impl)."""

from ._impl import IMPLEMENTATION

if IMPLEMENTATION == "cython":
    from ._connection_c import ClientConnection, ServerConnection
else:
    from ._connection_py import ClientConnection, ServerConnection

__all__ = ["ServerConnection", "ClientConnection"]
