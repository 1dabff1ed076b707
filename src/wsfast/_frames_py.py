# Placeholder until the frame layer lands (issue 3).
__all__ = ["parse_header", "encode_frame", "encode_close", "parse_close"]


def _todo(*a, **k):
    raise NotImplementedError


parse_header = encode_frame = encode_close = parse_close = _todo
