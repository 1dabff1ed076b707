"""permessage-deflate negotiation (RFC 7692 §5-7): offers, answers, and the client's checks.

One pure-Python implementation (like the handshake), so no ``impl`` fixture.
"""

from __future__ import annotations

import copy
import itertools
import pickle
import re
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wsfast import DeflateOptions, PerMessageDeflate, handshake
from wsfast._permessage_deflate import _read_params, parse_extensions
from wsfast.handshake import HandshakeError

PMD = PerMessageDeflate
# A server that takes every default of RFC 7692: windows of 15, context takeover.
PLAIN = DeflateOptions(window_bits=15, peer_max_window_bits=15)


def agreed(response: str) -> PerMessageDeflate:
    """The parameters a response names, read independently of accept()."""
    element = parse_extensions(response)
    assert len(element) == 1 and element[0] is not None and element[0][0] == "permessage-deflate"
    fields = dict(element[0][1])
    return PMD(
        server_no_context_takeover="server_no_context_takeover" in fields,
        client_no_context_takeover="client_no_context_takeover" in fields,
        server_max_window_bits=int(fields.get("server_max_window_bits") or 15),
        client_max_window_bits=int(fields.get("client_max_window_bits") or 15),
    )


# ------------------------------------------------------------ PerMessageDeflate


def test_per_message_deflate_defaults_and_fields() -> None:
    p = PMD()
    assert (p.server_no_context_takeover, p.client_no_context_takeover) == (False, False)
    assert (p.server_max_window_bits, p.client_max_window_bits) == (15, 15)
    q = PMD(server_no_context_takeover=1, client_no_context_takeover="yes", server_max_window_bits=8,
            client_max_window_bits=True + 9)
    assert q.server_no_context_takeover is True and q.client_no_context_takeover is True
    assert (q.server_max_window_bits, q.client_max_window_bits) == (8, 10)
    assert "server_max_window_bits=8" in repr(q)


def test_per_message_deflate_is_an_immutable_value() -> None:
    p = PMD(server_max_window_bits=9)
    with pytest.raises(AttributeError):
        p.server_max_window_bits = 10  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del p.client_no_context_takeover  # type: ignore[misc]
    assert p == PMD(server_max_window_bits=9) and hash(p) == hash(PMD(server_max_window_bits=9))
    assert p != PMD() and p != (False, False, 9, 15)
    assert copy.copy(p) is p and copy.deepcopy(p) is p
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        assert pickle.loads(pickle.dumps(p, protocol)) == p
    # Built by __new__: calling __init__ again changes nothing.
    p.__init__(server_max_window_bits=12)  # type: ignore[misc]
    assert p.server_max_window_bits == 9


@pytest.mark.parametrize("cls", [PerMessageDeflate, DeflateOptions])
def test_classes_are_final(cls: type) -> None:
    with pytest.raises(TypeError):
        type("Sub", (cls,), {})


@pytest.mark.parametrize("value, error", [
    (7, ValueError), (16, ValueError), (-1, ValueError), (2**64, ValueError), (-(2**63) - 1, ValueError),
    (15.0, TypeError), ("15", TypeError), (b"15", TypeError), (None, TypeError), ([15], TypeError),
])
def test_window_bits_arguments(value: object, error: type) -> None:
    with pytest.raises(error):
        PMD(client_max_window_bits=value)
    with pytest.raises(error):
        DeflateOptions(window_bits=value)
    if value is not None:  # None: the role's default (test_default_peer_window_depends_on_the_role)
        with pytest.raises(error):
            DeflateOptions(peer_max_window_bits=value)


def test_arguments_are_checked_in_signature_order() -> None:
    with pytest.raises(TypeError):  # the first bad argument decides
        PMD(server_max_window_bits="x", client_max_window_bits=99)
    with pytest.raises(ValueError):
        PMD(server_max_window_bits=99, client_max_window_bits="x")
    with pytest.raises(ValueError, match="window_bits"):
        DeflateOptions(window_bits=3, level="x")
    with pytest.raises(TypeError):
        PMD(False)  # type: ignore[misc]  # keyword-only
    with pytest.raises(TypeError):
        DeflateOptions(bogus=1)  # type: ignore[call-arg]


def test_flag_errors_propagate() -> None:
    class Bad:
        def __bool__(self) -> bool:
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        PMD(server_no_context_takeover=Bad())
    with pytest.raises(ZeroDivisionError):
        DeflateOptions(peer_no_context_takeover=Bad())


@pytest.mark.parametrize("kwargs, error", [
    ({"level": 0}, ValueError), ({"level": 10}, ValueError), ({"level": -2}, ValueError),
    ({"level": 1.0}, TypeError), ({"mem_level": 0}, ValueError), ({"mem_level": 10}, ValueError),
    ({"mem_level": None}, TypeError),
])
def test_level_and_mem_level_arguments(kwargs: dict, error: type) -> None:
    with pytest.raises(error):
        DeflateOptions(**kwargs)


def test_deflate_options_value_semantics() -> None:
    o = DeflateOptions(level=6, mem_level=8, window_bits=10, peer_no_context_takeover=True)
    assert (o.level, o.mem_level, o.window_bits, o.peer_no_context_takeover) == (6, 8, 10, True)
    assert o == DeflateOptions(level=6, mem_level=8, window_bits=10, peer_no_context_takeover=True)
    assert o != DeflateOptions() and hash(o) != hash(DeflateOptions())
    with pytest.raises(AttributeError):
        o.level = 1  # type: ignore[misc]
    assert copy.deepcopy(o) is o
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        assert pickle.loads(pickle.dumps(o, protocol)) == o
    assert "level=6" in repr(o)


# ------------------------------------------------------------------ offer()


@pytest.mark.parametrize("options, offer", [
    (DeflateOptions(window_bits=15), "permessage-deflate; client_max_window_bits"),
    (DeflateOptions(window_bits=12), "permessage-deflate; client_max_window_bits=12"),
    (DeflateOptions(window_bits=8, no_context_takeover=True),
     "permessage-deflate; client_no_context_takeover; client_max_window_bits=8"),
    (DeflateOptions(window_bits=15, peer_max_window_bits=10, peer_no_context_takeover=True),
     "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits"),
])
def test_offer(options: DeflateOptions, offer: str) -> None:
    assert options.offer() == offer
    # Every offer we make is one a strict server accepts.
    assert PLAIN.accept(offer) is not None


# ----------------------------------------------------------------- accept()


@pytest.mark.parametrize("offer, response", [
    # §7.1: no parameter; nothing to answer but the name.
    ("permessage-deflate", "permessage-deflate"),
    # §7.1.1.1: server_no_context_takeover is echoed.
    ("permessage-deflate; server_no_context_takeover", "permessage-deflate; server_no_context_takeover"),
    # §7.1.1.2: the client's hint is echoed, so that the server's inflater may drop its window.
    ("permessage-deflate; client_no_context_takeover", "permessage-deflate; client_no_context_takeover"),
    # §7.1.2.1: the same or a smaller value.
    ("permessage-deflate; server_max_window_bits=10", "permessage-deflate; server_max_window_bits=10"),
    ("permessage-deflate; server_max_window_bits=15", "permessage-deflate; server_max_window_bits=15"),
    ("permessage-deflate; server_max_window_bits=8", "permessage-deflate; server_max_window_bits=8"),
    # §7.1.2.2: without a value, nothing to limit for a server that takes 15;
    # with one, the hint is made binding.
    ("permessage-deflate; client_max_window_bits", "permessage-deflate"),
    ("permessage-deflate; client_max_window_bits=9", "permessage-deflate; client_max_window_bits=9"),
    ("permessage-deflate; client_max_window_bits=15", "permessage-deflate"),
    # RFC 6455 §9.1: a quoted value means its unquoted token.
    ('permessage-deflate; client_max_window_bits="10"', "permessage-deflate; client_max_window_bits=10"),
    ('permessage-deflate; server_max_window_bits="1\\1"', "permessage-deflate; server_max_window_bits=11"),
    # Optional whitespace around the separators, empty list elements.
    ("  permessage-deflate ;server_no_context_takeover ;  server_max_window_bits = 9 ",
     "permessage-deflate; server_no_context_takeover; server_max_window_bits=9"),
    (", ,permessage-deflate,", "permessage-deflate"),
])
def test_accept_single_offer(offer: str, response: str) -> None:
    value, params = PLAIN.accept(offer)  # type: ignore[misc]
    assert value == response
    assert params == agreed(response)


@pytest.mark.parametrize("offer", [
    "permessage-deflate; unknown",                                   # §7: unknown parameter
    "permessage-deflate; x-webkit=1",
    "permessage-deflate; server_no_context_takeover; server_no_context_takeover",  # duplicates
    "permessage-deflate; client_max_window_bits=10; client_max_window_bits=10",
    "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
    "permessage-deflate; server_no_context_takeover=1",              # takes no value
    'permessage-deflate; client_no_context_takeover=""',
    "permessage-deflate; server_max_window_bits",                    # needs a value
    "permessage-deflate; server_max_window_bits=7",                  # 8 to 15 only
    "permessage-deflate; server_max_window_bits=16",
    "permessage-deflate; server_max_window_bits=08",                 # no leading zero
    "permessage-deflate; client_max_window_bits=010",
    "permessage-deflate; server_max_window_bits=+9",
    "permessage-deflate; server_max_window_bits=9.0",
    "permessage-deflate; server_max_window_bits=",
    'permessage-deflate; server_max_window_bits=" 9"',               # unquoted, not a token
    'permessage-deflate; server_max_window_bits="9',                 # unterminated quote
    "permessage-deflate; server_max_window_bits=nine",
    "permessage-deflate; Server_No_Context_Takeover",                # names are exact
    "permessage-deflate;; server_no_context_takeover",               # empty parameter
    "permessage-deflate server_no_context_takeover",                 # missing separator
    "Permessage-Deflate",                                            # another extension name
    "x-webkit-deflate-frame",
    "",
    "   ,  ,",
    '"permessage-deflate"',
])
def test_accept_declines_what_it_cannot_honour(offer: str) -> None:
    assert PLAIN.accept(offer) is None
    assert PLAIN.accept([offer]) is None
    assert DeflateOptions().accept(offer) is None


def test_accept_picks_the_first_offer_it_can_honour() -> None:
    offers = ("permessage-deflate; server_max_window_bits=08, "
              "x-custom; a=1, "
              "permessage-deflate; client_max_window_bits; server_no_context_takeover, "
              "permessage-deflate")
    value, params = PLAIN.accept(offers)  # type: ignore[misc]
    assert value == "permessage-deflate; server_no_context_takeover"
    assert params == PMD(server_no_context_takeover=True)


def test_accept_reads_every_header_value_in_order() -> None:
    values = ["x-webkit-deflate-frame", "permessage-deflate; foo",
              "permessage-deflate; client_max_window_bits=11", "permessage-deflate"]
    value, params = PLAIN.accept(values)  # type: ignore[misc]
    assert value == "permessage-deflate; client_max_window_bits=11"
    assert params.client_max_window_bits == 11
    assert PLAIN.accept([]) is None and PLAIN.accept(None) is None


def test_a_comma_inside_a_quoted_value_does_not_split_offers() -> None:
    # The first element is one (malformed) offer, not two: the quoted string
    # hides the comma.  It is declined; the next one is taken.
    offers = 'permessage-deflate; client_max_window_bits="9, permessage-deflate", permessage-deflate'
    assert PLAIN.accept(offers) == ("permessage-deflate", PMD())


def test_the_agreement_is_the_answer_sent_not_the_offer_read() -> None:
    # wsproto answers one offer and then inflates with another's window.
    server = DeflateOptions(window_bits=11, peer_max_window_bits=10)
    value, params = server.accept("permessage-deflate; client_max_window_bits=12; server_max_window_bits=13,"
                                  " permessage-deflate; client_max_window_bits=9")  # type: ignore[misc]
    assert value == "permessage-deflate; server_max_window_bits=11; client_max_window_bits=10"
    assert params == agreed(value) == PMD(server_max_window_bits=11, client_max_window_bits=10)


def test_server_options_shape_the_answer() -> None:
    server = DeflateOptions(window_bits=10, no_context_takeover=True, peer_max_window_bits=9,
                            peer_no_context_takeover=True)
    # The client let the server limit its window (client_max_window_bits).
    value, params = server.accept("permessage-deflate; client_max_window_bits")  # type: ignore[misc]
    assert value == ("permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
                     "server_max_window_bits=10; client_max_window_bits=9")
    assert params == agreed(value)
    # ... or did not: the client's window stays 15 (§7.1.2.2 forbids naming it).
    value, params = server.accept("permessage-deflate")  # type: ignore[misc]
    assert "client_max_window_bits" not in value and params.client_max_window_bits == 15
    # The client asks for less than the server's own window: the smaller wins.
    value, params = server.accept("permessage-deflate; server_max_window_bits=8")  # type: ignore[misc]
    assert params.server_max_window_bits == 8 and "server_max_window_bits=8" in value


def test_default_peer_window_depends_on_the_role() -> None:
    options = DeflateOptions()
    assert options.peer_max_window_bits is None
    # A client asks nothing of the server's window ...
    assert "server_max_window_bits" not in options.offer()
    # ... a server limits the client's to 12 when the offer lets it (browsers do).
    value, params = options.accept("permessage-deflate; client_max_window_bits")  # type: ignore[misc]
    assert params.client_max_window_bits == 12 and "client_max_window_bits=12" in value
    _, params = options.accept("permessage-deflate")  # type: ignore[misc]
    assert params.client_max_window_bits == 15


def test_window_bits_8_is_agreed_both_ways() -> None:
    # zlib's deflate refuses an 8-bit raw window; wsfast honours 8 anyway
    # (it compresses with 9 bits, whose matches never reach 256 bytes back).
    server = DeflateOptions(window_bits=8, peer_max_window_bits=8)
    value, params = server.accept("permessage-deflate; client_max_window_bits")  # type: ignore[misc]
    assert params == PMD(server_max_window_bits=8, client_max_window_bits=8)
    client = DeflateOptions(window_bits=8, peer_max_window_bits=8)
    assert client.finalize(value) == params
    assert client.offer() == "permessage-deflate; server_max_window_bits=8; client_max_window_bits=8"


@given(st.text(alphabet=' \t,;="\\abcdeimnoprstvwx-_0123456789', max_size=120))
def test_accept_never_raises_and_answers_only_with_valid_responses(text: str) -> None:
    for values in (text, [text, "permessage-deflate"]):
        answer = DeflateOptions(window_bits=11, peer_max_window_bits=12).accept(values)
        if answer is not None:
            value, params = answer
            assert params == agreed(value)
            assert not isinstance(_read_params(parse_extensions(value)[0][1], response=True), str)  # type: ignore[index]


@given(
    st.booleans(), st.booleans(), st.sampled_from([None, *range(8, 16)]),
    st.sampled_from(["absent", "bare", *range(8, 16)]),
    st.integers(8, 15), st.booleans(), st.integers(8, 15), st.booleans(),
)
def test_accept_follows_rfc_7692_section_7_for_every_valid_offer(
    snct: bool, cnct: bool, sbits: object, cbits: object,
    own_bits: int, own_nct: bool, peer_bits: int, peer_nct: bool,
) -> None:
    parts = ["permessage-deflate"]
    if snct:
        parts.append("server_no_context_takeover")
    if cnct:
        parts.append("client_no_context_takeover")
    if sbits is not None:
        parts.append(f"server_max_window_bits={sbits}")
    if cbits == "bare":
        parts.append("client_max_window_bits")
    elif cbits != "absent":
        parts.append(f"client_max_window_bits={cbits}")
    offer = "; ".join(parts)
    server = DeflateOptions(window_bits=own_bits, no_context_takeover=own_nct,
                            peer_max_window_bits=peer_bits, peer_no_context_takeover=peer_nct)
    value, params = server.accept(offer)  # type: ignore[misc]  # every valid offer is honoured
    assert params == agreed(value)
    named = dict(parse_extensions(value)[0][1])  # type: ignore[index]
    # §7.1.1.1: echoed when offered.
    assert params.server_no_context_takeover == (snct or own_nct)
    assert params.client_no_context_takeover == (cnct or peer_nct)
    # §7.1.2.1: answered with the same or a smaller value when offered.
    if sbits is not None:
        assert "server_max_window_bits" in named and params.server_max_window_bits <= sbits  # type: ignore[operator]
    assert params.server_max_window_bits <= own_bits
    # §7.1.2.2: only when offered, and never above the offered value.
    if cbits == "absent":
        assert "client_max_window_bits" not in named and params.client_max_window_bits == 15
    else:
        assert params.client_max_window_bits <= peer_bits
        if cbits != "bare":
            assert params.client_max_window_bits <= cbits  # type: ignore[operator]


# --------------------------------------------------------------- finalize()


CLIENT = DeflateOptions(window_bits=12, peer_max_window_bits=11, peer_no_context_takeover=True)
# offer: permessage-deflate; server_no_context_takeover; server_max_window_bits=11; client_max_window_bits=12


@pytest.mark.parametrize("response, expected", [
    ("permessage-deflate; server_no_context_takeover; server_max_window_bits=11",
     PMD(server_no_context_takeover=True, server_max_window_bits=11)),
    ("permessage-deflate; server_no_context_takeover; server_max_window_bits=8; client_max_window_bits=12",
     PMD(server_no_context_takeover=True, server_max_window_bits=8, client_max_window_bits=12)),
    # §7.1.1.2: the server may impose client_no_context_takeover unasked.
    (('permessage-deflate;server_no_context_takeover;client_no_context_takeover;server_max_window_bits="10";'
      "client_max_window_bits=9"),
     PMD(server_no_context_takeover=True, client_no_context_takeover=True, server_max_window_bits=10,
         client_max_window_bits=9)),
])
def test_finalize_accepts_what_the_rfc_allows(response: str, expected: PerMessageDeflate) -> None:
    assert CLIENT.finalize(response) == expected
    assert CLIENT.finalize([response]) == expected


def test_finalize_without_an_answer_means_declined() -> None:
    assert CLIENT.finalize(None) is None
    assert CLIENT.finalize([]) is None
    assert CLIENT.finalize(["", " , "]) is None


def test_finalize_allows_unasked_server_parameters() -> None:
    # §7.1.1.1 and §7.1.2.1: a server may announce its own no-takeover and window.
    client = DeflateOptions(window_bits=15)
    assert client.finalize("permessage-deflate; server_no_context_takeover; server_max_window_bits=9") == PMD(
        server_no_context_takeover=True, server_max_window_bits=9)


@pytest.mark.parametrize("response, words", [
    ("permessage-deflate; server_no_context_takeover; server_max_window_bits=11, permessage-deflate", "2 extensions"),
    ("x-webkit-deflate-frame", "not offered"),
    ("permessage-deflate; server_no_context_takeover; server_max_window_bits=11; foo", "unknown parameter"),
    ("permessage-deflate; server_no_context_takeover; server_no_context_takeover; server_max_window_bits=11",
     "twice"),
    ("permessage-deflate; server_no_context_takeover; server_max_window_bits=11; server_max_window_bits=11",
     "twice"),
    ("permessage-deflate; server_no_context_takeover=yes; server_max_window_bits=11", "no value"),
    ("permessage-deflate; server_no_context_takeover; server_max_window_bits=011", "invalid value"),
    ("permessage-deflate; server_no_context_takeover; server_max_window_bits=7", "invalid value"),
    # §7.1.2.2: a response's client_max_window_bits must carry a value ...
    ("permessage-deflate; server_no_context_takeover; server_max_window_bits=11; client_max_window_bits",
     "needs a value"),
    # §7.1.2.1: asked for, so it must be answered, with the same or a smaller value.
    ("permessage-deflate; server_no_context_takeover", "asked"),
    ("permessage-deflate; server_no_context_takeover; server_max_window_bits=12", "larger than"),
    # §7.1.1.1: asked for, so it must be answered.
    ("permessage-deflate; server_max_window_bits=11", "server_no_context_takeover"),
    ("permessage-deflate; server_no_context_takeover; server_max_window_bits=11;", "malformed"),
    ('permessage-deflate; server_no_context_takeover; server_max_window_bits="11', "malformed"),
])
def test_finalize_fails_every_answer_the_rfc_forbids(response: str, words: str) -> None:
    with pytest.raises(HandshakeError, match=re.escape(words)) as info:
        CLIENT.finalize(response)
    assert info.value.status is None


def test_finalize_takes_any_client_max_window_bits() -> None:
    # wsfast always offers client_max_window_bits; §7.1.2.2 lets the server
    # ignore the value offered (what this side uses at most) and name any
    # window, as the Autobahn|Testsuite's cases 13.4 and 13.6 do with 15.
    bare = DeflateOptions(window_bits=15)
    assert bare.finalize("permessage-deflate; client_max_window_bits=8") == PMD(client_max_window_bits=8)
    options = DeflateOptions(window_bits=9)
    agreed = options.finalize("permessage-deflate; client_max_window_bits=15")
    assert agreed == PMD(client_max_window_bits=15)
    # ... and this side still compresses within the 9 bits it offered.
    deflater = options.deflater(agreed, client=True)
    data = bytes(range(256)) * 4 + bytes(range(255, -1, -1)) * 4
    assert zlib.decompressobj(-9).decompress(deflater.compress(data) + b"\x00\x00\xff\xff") == data
    assert "window_bits=9" in repr(deflater)


def test_values_must_be_text() -> None:
    with pytest.raises(TypeError):
        PLAIN.accept(b"permessage-deflate")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        PLAIN.finalize([b"permessage-deflate"])  # type: ignore[list-item]


# ---------------------------------------------------------- both together


OPTION_GRID = [
    DeflateOptions(window_bits=w, no_context_takeover=n, peer_max_window_bits=p, peer_no_context_takeover=q)
    for w, n, p, q in itertools.product((8, 12, 15), (False, True), (9, 15), (False, True))
]


@pytest.mark.parametrize("client", OPTION_GRID, ids=repr)
def test_every_client_and_server_agree(client: DeflateOptions) -> None:
    for server in OPTION_GRID:
        answer = server.accept(client.offer())
        assert answer is not None, (client, server)
        value, on_server = answer
        on_client = client.finalize(value)
        assert on_client == on_server
        # What each side asked for is what it got.
        assert on_server.client_max_window_bits <= min(client.window_bits, server.peer_max_window_bits)
        assert on_server.server_max_window_bits <= min(server.window_bits, client.peer_max_window_bits)
        if client.peer_no_context_takeover or server.no_context_takeover:
            assert on_server.server_no_context_takeover
        if client.no_context_takeover or server.peer_no_context_takeover:
            assert on_server.client_no_context_takeover


def test_deflater_helper_uses_the_side_s_own_settings() -> None:
    client = DeflateOptions(window_bits=10, no_context_takeover=True, level=6, mem_level=3)
    deflater = client.deflater(PMD(client_max_window_bits=12), client=True)
    assert "level=6" in repr(deflater) and "mem_level=3" in repr(deflater)
    assert "window_bits=10" in repr(deflater) and "no_context_takeover=True" in repr(deflater)


# ---------------------------------------------------------------- handshake


def request(*extensions: str) -> handshake.Request:
    fields = [("Sec-WebSocket-Extensions", value) for value in extensions]
    head, _ = handshake.client_request("ws://example.com/", headers=fields)
    return handshake.parse_request(head)


def test_server_handshake_without_deflate_is_unchanged() -> None:
    req = request("permessage-deflate")
    response, chosen = handshake.server_handshake(req)
    assert chosen is None and b"Sec-WebSocket-Extensions" not in response


def test_server_handshake_with_deflate() -> None:
    req = request("x-foo", "permessage-deflate; client_max_window_bits")
    response, chosen, params = handshake.server_handshake(req, deflate=DeflateOptions(window_bits=12))
    assert chosen is None and params == PMD(server_max_window_bits=12, client_max_window_bits=12)
    assert (b"\r\nSec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12; "
            b"client_max_window_bits=12\r\n") in response
    # Declined: no header, None.
    response, _, params = handshake.server_handshake(request("permessage-deflate; bogus"), deflate=PLAIN)
    assert params is None and b"Sec-WebSocket-Extensions" not in response
    response, _, params = handshake.server_handshake(request(), deflate=PLAIN)
    assert params is None
    with pytest.raises(ValueError):
        handshake.server_handshake(req, deflate=PLAIN, headers=[("Sec-WebSocket-Extensions", "x")])


def test_client_and_server_handshakes_agree() -> None:
    client, server = DeflateOptions(peer_no_context_takeover=True), DeflateOptions(window_bits=11)
    head, key = handshake.client_request("ws://example.com/", subprotocols=["chat"],
                                         headers=[("Sec-WebSocket-Extensions", client.offer())])
    response, chosen, on_server = handshake.server_handshake(
        handshake.parse_request(head), subprotocols=["chat"], deflate=server)
    assert handshake.check_response(response, key, ["chat"], deflate=client) == (chosen, on_server)
    assert on_server == PMD(server_no_context_takeover=True, server_max_window_bits=11,
                            client_max_window_bits=12)


def test_check_response_with_and_without_deflate() -> None:
    _, key = handshake.client_request("ws://example.com/")
    plain = handshake.build_response(key)
    assert handshake.check_response(plain, key) is None
    assert handshake.check_response(plain, key, deflate=PLAIN) == (None, None)
    named = handshake.build_response(key, headers=[("Sec-WebSocket-Extensions", "permessage-deflate")])
    with pytest.raises(HandshakeError, match="not offered"):
        handshake.check_response(named, key)
    assert handshake.check_response(named, key, deflate=PLAIN) == (None, PMD())
    bad = handshake.build_response(key, headers=[("Sec-WebSocket-Extensions", "permessage-deflate; x=1")])
    with pytest.raises(HandshakeError) as info:
        handshake.check_response(bad, key, deflate=PLAIN)
    assert info.value.status is None


def test_a_huge_offer_is_declined_without_backtracking() -> None:
    # A 16 KiB head of separators and spaces: the grammar is matched in
    # linear time (each whitespace run has one place to go).
    for offer in ("permessage-deflate" + " " * 16000 + "x",
                  "permessage-deflate; a" + " " * 16000 + ";",
                  "permessage-deflate" + "; a" * 5000 + " =",
                  '"' * 16000):
        assert PLAIN.accept(offer) is None


# ------------------------------------------------------------------ interop


def test_interop_with_websockets_negotiation() -> None:
    pmd = pytest.importorskip("websockets.extensions.permessage_deflate")
    headers = pytest.importorskip("websockets.headers")
    # websockets' client offers; wsfast's server answers; websockets checks the answer.
    for client in (pmd.ClientPerMessageDeflateFactory(),
                   pmd.ClientPerMessageDeflateFactory(server_max_window_bits=10, client_max_window_bits=True,
                                                      server_no_context_takeover=True)):
        offer = headers.build_extension([(client.name, client.get_request_params())])
        value, params = DeflateOptions().accept(offer)  # type: ignore[misc]
        (name, response), = headers.parse_extension(value)
        ext = client.process_response_params(response, [])
        assert (ext.remote_max_window_bits, ext.local_max_window_bits) == (
            params.server_max_window_bits, params.client_max_window_bits)
        assert ext.remote_no_context_takeover == params.server_no_context_takeover
    # wsfast's client offers; websockets' server answers; wsfast checks the answer.
    for options in (DeflateOptions(), DeflateOptions(window_bits=9, peer_max_window_bits=11,
                                                     peer_no_context_takeover=True)):
        server = pmd.ServerPerMessageDeflateFactory(server_max_window_bits=12, client_max_window_bits=10)
        (name, offered), = headers.parse_extension(options.offer())
        response, ext = server.process_request_params(offered, [])
        params = options.finalize(headers.build_extension([(name, response)]))
        assert params is not None
        assert (params.server_max_window_bits, params.client_max_window_bits) == (
            ext.local_max_window_bits, ext.remote_max_window_bits)


@pytest.mark.parametrize("offer", [
    "permessage-deflate; client_max_window_bits",                     # Chrome, Firefox, Safari
    "permessage-deflate; client_max_window_bits=15; server_max_window_bits=15",
    "permessage-deflate; client_max_window_bits; server_no_context_takeover",
    "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",  # uvicorn + websockets
])
def test_common_offers_are_accepted(offer: str) -> None:
    value, params = DeflateOptions().accept(offer)  # type: ignore[misc]
    assert params == agreed(value)
