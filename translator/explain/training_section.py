"""check-train on the explain page: loss and parameter error per step for both frameworks (issue 18).

``torch2flax check-train SCRIPT.py --html PAGE`` writes the explain page of the script (PyTorch beside
its JAX translation, line by line) with this section under it: the verdict, the plot drawn by
:func:`translator.explain.plots.training_plot_svg`, and the per-step numbers.
"""

from __future__ import annotations

import html
from pathlib import Path

from translator.explain.mapping import explain_source
from translator.explain.page import explain_page, write_page
from translator.explain.plots import training_plot_svg


def training_section(report) -> str:
    """The HTML section for a :class:`~translator.training.check_train.TrainCheckReport`."""
    verdict = "pass" if report.ok else "fail"
    divergence = report.first_divergence
    detail = (f"first divergence at step {divergence['step']}: {html.escape(divergence['quantity'])}" if divergence
              else html.escape(report.failure or f"{len(report.per_step)} steps agree"))
    figure = ""
    if report.per_step:
        steps = [{"step": s.step, "torch_loss": s.loss_torch, "flax_loss": s.loss_jax, "param_error": s.errors.get("params", 0.0)}
                 for s in report.per_step]
        figure = f'<figure class="plot" id="training-plot">{training_plot_svg(steps)}<figcaption>loss per step (PyTorch, ' \
                 "JAX) and the largest relative parameter error after each step (float32)</figcaption></figure>"
    rows = "".join(
        f"<tr><td>{s.step}</td><td>{s.loss_torch:.6g}</td><td>{s.loss_jax:.6g}</td><td>{s.lr_torch:.3g}</td>"
        f"<td>{s.errors.get('loss', 0):.1e} / {s.errors64.get('loss', 0):.1e}</td>"
        f"<td>{s.errors.get('params', 0):.1e} / {s.errors64.get('params', 0):.1e}</td>"
        f"<td>{state_cell(s)}</td>"
        f"<td class=\"{'pass' if not s.failing else 'fail'}\">{'yes' if not s.failing else html.escape(', '.join(s.failing))}</td></tr>"
        for s in report.per_step)
    table = ("<table id=\"training-steps\"><caption>per step: relative errors float32 / float64</caption><thead><tr><th>step</th>"
             "<th>loss (PyTorch)</th><th>loss (JAX)</th><th>lr</th><th>loss</th><th>params</th><th>state</th><th>pass</th>"
             f"</tr></thead><tbody>{rows}</tbody></table>")
    notes = "".join(f"<li>{html.escape(d)}</li>" for d in report.diagnostics)
    untranslated = f"<h3>Not translated (outside the compared step)</h3><ul>{notes}</ul>" if notes else ""
    return (f'<section class="check" id="check-train"><h2>check-train: {html.escape(Path(report.script).name)}</h2>'
            f'<p>Verdict: <span class="verdict {verdict}" id="check-train-verdict">{verdict}</span> — {detail} '
            f"({html.escape(report.data)} data)</p>{figure}{table}{untranslated}</section>")


def state_cell(step) -> str:
    if "state" not in step.errors:
        return "-"
    return f"{step.errors['state']:.1e} / {step.errors64.get('state', 0):.1e}"


def write_training_page(report, output: str | Path) -> Path:
    """The explain page of the script with the check-train section, written to ``output``."""
    source = Path(report.script).read_text()
    return write_page(explain_page(explain_source(source, report.script), (training_section(report),)), output)
