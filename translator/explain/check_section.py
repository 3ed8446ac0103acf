"""Check results on the explain page (``explain FILE --class NAME --input SPEC ...``).

Three parts, each from the tool's own machinery: the equivalence report of
:func:`translator.equivalence.check.check` (outputs and gradients against the tolerance), the
per-layer error profile (every submodule's output on one input, paired as localisation pairs
them, drawn with matplotlib), and the weight-port map of the port plan (PyTorch key -> Flax path,
shapes, the layout transform, the rule that owns it).
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np

from translator.explain.highlight import rule_button
from translator.explain.plots import layer_profile_svg


@dataclass(frozen=True)
class LayerError:
    """One submodule's output on the same input in both frameworks."""

    torch_name: str
    flax_path: str
    rule: str | None
    max_abs: float
    max_rel: float


def example_inputs(specs, seed: int) -> tuple[np.ndarray, ...]:
    """One input per spec (batch size 2 for ``B``): standard normal floats, integers in their range."""
    from translator.equivalence.specs import resolve_all

    rng = np.random.default_rng(seed)
    arrays = []
    for spec in resolve_all(specs):
        if spec.is_float:
            arrays.append(rng.standard_normal(spec.shape).astype(spec.dtype))
        elif spec.dtype == "bool":
            arrays.append(rng.integers(0, 2, spec.shape).astype(bool))
        else:
            arrays.append(rng.integers(spec.low, spec.high, spec.shape).astype(spec.dtype))
    return tuple(arrays)


def layer_errors(pair, inputs, tolerance) -> list[LayerError]:
    """Every submodule output PyTorch and Flax both produce, in PyTorch's execution order, with its error
    (PyTorch's random draws replayed to the translation, as in the numeric stage)."""
    import torch

    from translator.equivalence.draws import (
        DrawTape,
        native_dropout_disabled,
        recording,
        replaying_jax,
    )
    from translator.equivalence.localise import (
        as_torch_layout,
        flax_names,
        flax_outputs,
        torch_outputs,
    )
    from translator.equivalence.pair import restore_buffers, saved_buffers
    from translator.equivalence.tolerance import error_of
    from translator.rules.registry import rule_for_object

    names = flax_names(pair.torch_model)
    saved = saved_buffers(pair.torch_model)
    tape = DrawTape()
    try:
        with native_dropout_disabled(pair.torch_model), recording(tape):
            torch_side = list(torch_outputs(pair.torch_model, inputs, pair.torch_device))
        with replaying_jax(tape.arrays(), tape.kinds), native_dropout_disabled(torch.nn.Identity(), pair.native_random):
            flax_side = flax_outputs(pair, inputs)
    finally:
        restore_buffers(pair.torch_model, saved)
    out, calls = [], {}
    for torch_name, module, torch_value in torch_side:
        call = calls[torch_name] = calls.get(torch_name, -1) + 1
        path = names.get(torch_name)
        if path is None or call >= len(flax_side.get(path, ())) or flax_side[path][call] is None:
            continue
        error = error_of(as_torch_layout(flax_side[path][call], torch_value), torch_value, tolerance=tolerance)
        rule = rule_for_object(type(module))
        label = torch_name if call == 0 else f"{torch_name} (call {call + 1})"
        out.append(LayerError(label, "/".join(path), rule.code if rule else None, error.max_abs, error.max_rel))
    return out


def check_section(source: str, class_name: str, specs, kwargs: dict | None = None, examples: int = 5,
                  seed: int = 0, build: str | None = None) -> str:
    """The ``<section>`` of check results for ``class_name`` of ``source`` (runs the check)."""
    from translator.equivalence.check import build_pair, check

    report = check(source, class_name, specs, kwargs=kwargs, examples=examples, seed=seed, build=build)
    parts = [report_html(report)]
    try:
        pair, _ = build_pair(source, class_name, specs, kwargs, seed=seed, build=build)
    except Exception as error:  # the report above already says why the models could not be built
        parts.append(f"<p>No layer profile or port map: the models could not be built ({html.escape(type(error).__name__)}: "
                     f"{html.escape(str(error).splitlines()[0] if str(error) else '')}).</p>")
    else:
        pair.use_trained_like_state(seed)
        try:
            parts.append(profile_html(layer_errors(pair, example_inputs(specs, seed), report.tolerance), report.tolerance.rtol))
        except Exception as error:  # a model that fails on this input: the report above says so
            parts.append(f"<p>No layer profile: running the models failed ({html.escape(type(error).__name__)}: "
                         f"{html.escape(' '.join(str(error).split())[:200])}).</p>")
        parts.append(port_map_html(pair.plan))
    inputs = " ".join(f"--input '{s}'" for s in specs)
    return (f'<section class="check" id="check"><h2>Check: <code>{html.escape(class_name)}</code> '
            f"<small>(torch2flax check --class {html.escape(class_name)} {html.escape(inputs)})</small></h2>{''.join(parts)}</section>")


def report_html(report) -> str:
    verdict = report.verdict
    rows = []
    numeric = report.stages["numeric"].status in ("passed", "failed", "inconclusive")
    for quantity in report.quantities if numeric else ():
        error = report.errors[quantity]
        passed = error.within(report.tolerance)
        word, css = ("yes", "pass") if passed else (("undecided", "undecided") if error.inconclusive(report.tolerance) else ("NO", "fail"))
        rows.append(f"<tr><td>{html.escape(quantity)}</td><td class=\"num\">{error.max_abs:.3e}</td>"
                    f"<td class=\"num\">{error.max_rel:.3e}</td><td class=\"num\">{report.tolerance.rtol:.0e} rel</td>"
                    f'<td class="{css}">{word}</td></tr>')
    stages = "".join(f"<tr><td>{name}</td><td>{html.escape(stage.status)}</td><td>{html.escape((stage.failure or '').splitlines()[0] if stage.failure else '')}</td></tr>"
                     for name, stage in report.stages.items())
    table = ("<table><caption>outputs and gradients, worst over the examples</caption><thead><tr><th>quantity</th><th>max abs error</th>"
             f"<th>max rel error</th><th>tolerance</th><th>pass</th></tr></thead><tbody>{''.join(rows)}</tbody></table>") if rows else ""
    failure = f"<pre>{html.escape(report.failure)}</pre>" if report.failure else ""
    divergence = f"<p>{html.escape(report.divergence.describe())}</p>" if report.divergence is not None else ""
    return (f'<p>Verdict: <span class="verdict {verdict}" id="check-verdict">{verdict}</span> — {report.examples} examples '
            f"(seed {report.seed}, {'train' if report.train else 'eval'} mode, {html.escape(str(report.state))} state)</p>"
            f"{table}<table><caption>stages</caption><thead><tr><th>stage</th><th>result</th><th>detail</th></tr></thead>"
            f"<tbody>{stages}</tbody></table>{failure}{divergence}")


def profile_html(errors: list[LayerError], tolerance: float) -> str:
    if not errors:
        return "<p>No submodule output could be paired between the two models (no layer profile).</p>"
    plot = layer_profile_svg([e.torch_name for e in errors], [e.max_rel for e in errors], tolerance)
    rows = "".join(f"<tr><td><code>{html.escape(e.torch_name)}</code></td><td><code>{html.escape(e.flax_path)}</code></td>"
                   f"<td>{rule_button(e.rule) if e.rule else 'user module'}</td><td class=\"num\">{e.max_abs:.3e}</td>"
                   f"<td class=\"num\">{e.max_rel:.3e}</td></tr>" for e in errors)
    return ('<h3>Per-layer error profile</h3><figure class="plot" id="layer-profile">'
            f"{plot}<figcaption>Each submodule's output, PyTorch vs Flax on one input (trained-like weights).</figcaption></figure>"
            "<details><summary>the numbers</summary><table><thead><tr><th>PyTorch module</th><th>Flax module</th><th>rule</th>"
            f"<th>max abs</th><th>max rel</th></tr></thead><tbody>{rows}</tbody></table></details>")


def port_map_html(plan) -> str:
    rows = "".join(
        f"<tr><td><code>{html.escape(t.torch_key)}</code></td><td class=\"num\">{list(t.torch_shape)}</td>"
        f"<td><code>{html.escape(t.flax_key)}</code></td><td class=\"num\">{list(t.flax_shape)}</td>"
        f"<td>{html.escape(t.transform.describe())}</td><td>{rule_button(t.rule)}</td></tr>"
        for t in plan.tensors
    )
    dropped = "".join(f"<li><code>{html.escape(key)}</code>: {html.escape(why)}</li>" for key, why in plan.dropped)
    return ('<h3>Weight-port map</h3><table id="port-map"><thead><tr><th>PyTorch key</th><th>shape</th><th>Flax path</th>'
            f"<th>shape</th><th>transform</th><th>rule</th></tr></thead><tbody>{rows}</tbody></table>"
            + (f"<p>Not ported:</p><ul>{dropped}</ul>" if dropped else ""))
