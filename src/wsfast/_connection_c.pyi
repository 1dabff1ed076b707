"""Types of the compiled connections: the same API as _connection_py, typed there."""

from ._connection_py import ClientConnection as ClientConnection
from ._connection_py import ServerConnection as ServerConnection

__all__ = ["ServerConnection", "ClientConnection"]
