"""``check --device``: where both frameworks run, and strict float32 there.

On GPUs both frameworks may compute float32 matmuls and convolutions in TF32
(10-bit mantissa, ~1e-3 relative error, PITFALLS.md section 3): PyTorch's cuDNN
does by default, and JAX's default matmul precision may.  A port check must not
measure that, so ``--device gpu`` turns TF32 off on both sides for the duration
of the check: ``torch.backends.cuda.matmul.allow_tf32 = False``,
``torch.backends.cudnn.allow_tf32 = False`` and JAX's
``jax_default_matmul_precision = "highest"``; the previous settings are restored
afterwards.  (On CPU JAX ignores the precision setting: it is always true float32.)
"""

from __future__ import annotations

import contextlib

import jax
import torch

from translator.diagnostics import UsageError

DEVICES = ("cpu", "gpu")


def gpu_problem() -> str | None:
    """Why ``--device gpu`` cannot run here, or None if both frameworks see a CUDA GPU."""
    if not torch.cuda.is_available():
        return "PyTorch sees no CUDA GPU (torch.cuda.is_available() is False)"
    try:
        jax.devices("gpu")
    except RuntimeError:
        return "JAX has no GPU backend (install jax[cuda12] and check jax.devices())"
    return None


def torch_device(device: str) -> str:
    return "cuda" if device == "gpu" else "cpu"


@contextlib.contextmanager
def on_device(device: str):
    """Run JAX on ``device`` (its first chip) with strict float32; PyTorch's flags too on a GPU."""
    if device not in DEVICES:
        raise UsageError(f"--device {device!r}: one of {', '.join(DEVICES)}")
    if device == "gpu":
        problem = gpu_problem()
        if problem:
            raise UsageError(f"--device gpu: no GPU available: {problem}")
    saved_precision = jax.config.jax_default_matmul_precision
    jax.config.update("jax_default_matmul_precision", "highest")
    restore_torch = strict_torch_gpu() if device == "gpu" else (lambda: None)
    try:
        with jax.default_device(jax.devices(device)[0]):
            yield
    finally:
        jax.config.update("jax_default_matmul_precision", saved_precision)
        restore_torch()


def strict_torch_gpu():
    """TF32 off for cuBLAS and cuDNN (convolutions and RNNs); returns a function restoring the old flags."""
    backends = torch.backends
    try:  # the legacy flags; reading them raises once the fp32_precision API has been used (PITFALLS.md 3)
        saved = (backends.cuda.matmul.allow_tf32, backends.cudnn.allow_tf32, backends.cudnn.deterministic)
        backends.cuda.matmul.allow_tf32 = False
        backends.cudnn.allow_tf32 = False
        backends.cudnn.deterministic = True  # repeatable algorithm choice

        def restore():
            backends.cuda.matmul.allow_tf32, backends.cudnn.allow_tf32, backends.cudnn.deterministic = saved
    except RuntimeError:
        saved_precision = backends.fp32_precision
        backends.fp32_precision = "ieee"

        def restore():
            backends.fp32_precision = saved_precision
    return restore
