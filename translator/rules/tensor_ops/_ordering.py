"""Helpers shared by the ordering rules (topk, sort): tie-free case inputs.

Not a rule (no ``@register``). PyTorch promises no order among tied values for
``topk`` and unstable ``sort``, and the case inputs mix in exact zeros; a case
adds a distinct tiny ramp so every drawn input has a single correct order.
"""

from __future__ import annotations

import math


def untied(x: str, shape: tuple[int, ...]) -> str:
    """``x`` plus a distinct multiple of 1e-3 per element: no two entries tie (ties need review)."""
    return f"({x} + torch.arange({math.prod(shape)}, dtype=torch.float32).reshape({shape!r}) * 1e-3)"
