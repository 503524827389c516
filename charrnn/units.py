"""Nats and bits: the library computes in nats (what cross-entropy gives), and every loss a
person reads is shown in bits per character, so one figure means one thing everywhere."""

from __future__ import annotations

import math


def bits(nats: float) -> float:
    """Nats per character -> bits per character."""
    return nats / math.log(2)
