# Python 2.7 (runs inside compliance/.venv27): wstest, with its WebSocket
# listener bound to 127.0.0.1 instead of every interface.
#
# wstest's fuzzing server calls autobahn's listenWS without an interface, which
# binds all of them; the harness must only ever listen on loopback.
import sys

from autobahntestsuite import fuzzing, wstest

_listen_all = fuzzing.listenWS


def _listen_loopback(factory, contextFactory=None, backlog=50, interface="127.0.0.1"):
    return _listen_all(factory, contextFactory, backlog, interface)


fuzzing.listenWS = _listen_loopback

if __name__ == "__main__":
    sys.argv[0] = "wstest"
    sys.exit(wstest.run())
