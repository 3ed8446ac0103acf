"""Plots for the explain pages, drawn with matplotlib and written as inline SVG.

The SVG has no external reference (glyphs as paths, no XML prolog, DOCTYPE, metadata or
namespace URLs), so a page that embeds it still makes no network request and holds no URL.
"""

from __future__ import annotations

import io
import math
import re

import matplotlib

matplotlib.use("Agg")  # no display: drawing to a file only
import matplotlib.pyplot as plt  # noqa: E402

#: the parts of matplotlib's SVG that carry URLs and are not needed inline in HTML
PROLOG = re.compile(r"<\?xml[^>]*\?>\s*|<!DOCTYPE[^>]*>\s*|<metadata>.*?</metadata>\s*", re.DOTALL)
NAMESPACE = re.compile(r'\s+xmlns(?::\w+)?="[^"]*"')


def svg_of(figure) -> str:
    """``figure`` as an ``<svg>`` element to place in HTML (the figure is closed)."""
    buffer = io.StringIO()
    with plt.rc_context({"svg.fonttype": "path", "svg.hashsalt": "torch2flax"}):
        figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    return NAMESPACE.sub("", PROLOG.sub("", buffer.getvalue())).strip()


def layer_profile_svg(names: list[str], relative_errors: list[float], tolerance: float) -> str:
    """Each layer's output error relative to PyTorch (execution order), log scale, with the tolerance."""
    floor = 1e-12  # an exact layer (error 0) is drawn at the floor of the log axis
    values = [max(v, floor) if math.isfinite(v) else float("nan") for v in relative_errors]
    figure, axes = plt.subplots(figsize=(max(5.0, 0.32 * len(names) + 2), 3.2))
    colours = ["#cf222e" if v > tolerance else "#0969da" for v in values]
    axes.bar(range(len(values)), values, color=colours)
    axes.axhline(tolerance, color="#9a6700", linestyle="--", linewidth=1, label=f"tolerance {tolerance:g}")
    axes.set_yscale("log")
    axes.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
    axes.set_ylabel("max rel error")
    axes.set_title("per-layer output error (PyTorch vs Flax, one input)", fontsize=9)
    axes.legend(fontsize=7, loc="upper left")
    axes.grid(axis="y", alpha=0.3)
    return svg_of(figure)


def training_plot_svg(steps: list[dict]) -> str:
    """Loss per step for both frameworks, and the parameter error per step, as one inline SVG.

    ``steps`` holds one dict per optimisation step: ``torch_loss`` and ``flax_loss`` (floats), and
    optionally ``param_error`` (the max relative error of the parameters after that step) and
    ``step`` (its number; the position in the list otherwise). Raises ``ValueError`` on an empty list
    or a step without both losses.
    """
    if not steps:
        raise ValueError("training_plot_svg needs at least one step")
    missing = [i for i, s in enumerate(steps) if "torch_loss" not in s or "flax_loss" not in s]
    if missing:
        raise ValueError(f"steps {missing} lack torch_loss or flax_loss")
    numbers = [s.get("step", i) for i, s in enumerate(steps)]
    errors = [s.get("param_error") for s in steps]
    has_errors = any(e is not None for e in errors)
    figure, panels = plt.subplots(1, 2 if has_errors else 1, figsize=(9 if has_errors else 5, 3.2), squeeze=False)
    loss = panels[0][0]
    loss.plot(numbers, [s["torch_loss"] for s in steps], marker="o", label="PyTorch", color="#bc4c00")
    loss.plot(numbers, [s["flax_loss"] for s in steps], marker="x", linestyle="--", label="Flax", color="#0969da")
    loss.set_xlabel("step")
    loss.set_ylabel("loss")
    loss.set_title("training loss", fontsize=9)
    loss.legend(fontsize=7)
    loss.grid(alpha=0.3)
    if has_errors:
        error = panels[0][1]
        pairs = [(n, max(e, 1e-12)) for n, e in zip(numbers, errors, strict=True) if e is not None]
        error.plot([n for n, _ in pairs], [e for _, e in pairs], marker="o", color="#8250df")
        error.set_yscale("log")
        error.set_xlabel("step")
        error.set_ylabel("max rel error")
        error.set_title("parameters: Flax vs PyTorch after each step", fontsize=9)
        error.grid(alpha=0.3)
    return svg_of(figure)
