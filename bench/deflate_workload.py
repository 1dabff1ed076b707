"""JSON-like messages for the permessage-deflate benchmarks.

Each message is valid JSON of exactly the size asked for (an array of small
records like a chat or telemetry feed: ids, user names, scores, flags, tags,
timestamps; padded with spaces), and every seed gives a different message of
the same shape.  A stream of distinct messages is what context takeover
meets in practice: compressing one message over and over would make every
message after the first a single back-reference, which flatters everyone.
"""

from __future__ import annotations

import json
import random
from typing import List

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
         "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa"]

SIZES = [100, 1 << 10, 64 << 10, 1 << 20]


def message(size: int, seed: int = 0) -> bytes:
    """One JSON message of exactly ``size`` bytes (80 and up)."""
    rnd = random.Random(seed * 7919 + size)

    def record() -> dict:
        return {"id": rnd.randrange(10 ** 6), "user": rnd.choice(WORDS) + str(rnd.randrange(1000)),
                "score": round(rnd.random() * 100, 2), "active": rnd.random() < 0.5,
                "tags": rnd.sample(WORDS, 2), "ts": 1_700_000_000 + rnd.randrange(10 ** 6)}

    first = record()
    text = json.dumps(first, separators=(",", ":"))
    if len(text) > size:
        # A message smaller than one record: the record without its lists.
        text = json.dumps({k: v for k, v in first.items() if k != "tags"}, separators=(",", ":"))
    # Append records while the array still fits, in one pass (not quadratic).
    body = text
    while True:
        extra = "," + json.dumps(record(), separators=(",", ":"))
        if len("[" + body + extra + "]") > size:
            break
        body += extra
        text = "[" + body + "]"
    return (text + " " * max(0, size - len(text))).encode()


def stream(size: int, count: int = 0) -> List[bytes]:
    """Distinct messages of ``size`` bytes, enough that a 32 KiB window never
    sees an exact earlier copy (and at least two)."""
    count = count or max(2, min(512, (96 << 10) // size + 1))
    return [message(size, seed) for seed in range(count)]
