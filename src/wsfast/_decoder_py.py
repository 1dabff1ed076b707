# Placeholder until the frame layer lands (issue 3).
__all__ = ["Decoder"]


class Decoder:
    def __init__(self, *a, **k):
        raise NotImplementedError
