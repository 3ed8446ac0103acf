"""Counting XLA compilations: how often ``check`` pays JAX's compile cost.

JAX records every backend compilation as the duration event
``/jax/core/compile/backend_compile_duration`` (``jax._src.dispatch.BACKEND_COMPILE_EVENT``,
with the function's name), through ``jax.monitoring``.  Counting those events
counts real compiles only: a call that hits the jit cache records nothing.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter

import jax.monitoring

BACKEND_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


class CompileCounter:
    """``with CompileCounter() as compiles: ...``; then ``compiles.total``, ``compiles.seconds``, ``compiles.by_function``."""

    def __init__(self):
        self.by_function: Counter[str] = Counter()
        self.seconds = 0.0
        self._lock = threading.Lock()

    @property
    def total(self) -> int:
        return sum(self.by_function.values())

    def _listener(self, event: str, duration: float, **kwargs) -> None:
        if event == BACKEND_COMPILE_EVENT:
            with self._lock:
                self.by_function[str(kwargs.get("fun_name", "?"))] += 1
                self.seconds += duration

    def __enter__(self) -> CompileCounter:
        jax.monitoring.register_event_duration_secs_listener(self._listener)
        return self

    def __exit__(self, *exc) -> bool:
        with contextlib.suppress(Exception):
            from jax._src import monitoring

            monitoring.unregister_event_duration_listener(self._listener)
        return False
