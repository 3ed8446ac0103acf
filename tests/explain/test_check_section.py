"""Check results on the explain page, and the plots (matplotlib, inline SVG without URLs)."""

from __future__ import annotations

import re

import pytest

from tests.explain.browser_support import NETWORK_URL
from tests.explain.shared import ROOT, SEED_CNN, mapped
from translator.equivalence.specs import parse_spec
from translator.explain.check_section import check_section
from translator.explain.mapping import explained
from translator.explain.page import explain_page
from translator.explain.plots import layer_profile_svg, training_plot_svg


@pytest.fixture(scope="module")
def seed_section():
    """The seed CNN checked on a small input (one JAX compile for the module)."""
    return check_section(str(ROOT / SEED_CNN), "SimpleCNN", [parse_spec("float32[2,1,8,8]")], {"num_classes": 10},
                         examples=1, seed=0)


def test_the_section_reports_errors_profile_and_port_map(seed_section):
    assert 'id="check-verdict">pass<' in seed_section
    for quantity in ("output", "grad_input", "grad_params"):
        assert re.search(rf"<tr><td>{quantity}</td><td class=\"num\">[0-9.e+-]+</td>", seed_section), quantity
    # every layer of the model in the profile, and a plot of it
    for layer in ("conv1", "conv2", "fc1", "fc2"):
        assert f"<code>{layer}</code>" in seed_section
    assert '<figure class="plot" id="layer-profile"><svg' in seed_section
    # the port map: PyTorch key -> Flax path, shapes and the transform
    port_map = seed_section[seed_section.index('id="port-map"'):]
    assert port_map.count("<tr>") == 1 + 8  # header + 4 layers x (weight, bias)
    assert "<code>conv1.weight</code></td><td class=\"num\">[32, 1, 3, 3]</td><td><code>params/conv1/kernel</code>" in port_map
    assert "[3, 3, 1, 32]" in port_map and "[out, in/groups, kh, kw] -&gt; [kh, kw, in/groups, out]" in port_map


def test_the_page_with_check_results_holds_no_url(seed_section):
    page = explain_page(explained((ROOT / SEED_CNN).read_text(), SEED_CNN, mapped(SEED_CNN)), (seed_section,))
    assert not NETWORK_URL.search(page)
    assert page.count('<section class="check"') == 1


def test_training_plot_draws_both_losses_and_the_parameter_error():
    steps = [{"torch_loss": 2.3 - 0.1 * i, "flax_loss": 2.3 - 0.1 * i + 1e-7, "param_error": 1e-7 * (i + 1)} for i in range(5)]
    svg = training_plot_svg(steps)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert not NETWORK_URL.search(svg) and "<?xml" not in svg
    assert svg.count('id="axes_') == 2  # loss panel and parameter-error panel
    assert svg.count('id="line2d_') >= 3
    assert training_plot_svg([{"torch_loss": 1.0, "flax_loss": 1.0}]).count('id="axes_') == 1


def test_training_plot_rejects_steps_without_losses():
    with pytest.raises(ValueError, match="at least one step"):
        training_plot_svg([])
    with pytest.raises(ValueError, match=r"steps \[1\]"):
        training_plot_svg([{"torch_loss": 1.0, "flax_loss": 1.0}, {"torch_loss": 1.0}])


def test_layer_profile_marks_layers_past_the_tolerance():
    svg = layer_profile_svg(["a", "b"], [1e-7, 3e-2], 1e-4)
    assert svg.count("fill: #cf222e") == 1 and svg.count("fill: #0969da") == 1
