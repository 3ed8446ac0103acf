"""What the tensor-op rules emit for constructs whose trap is in the code shape, not only in values."""

import pytest

from translator.rewrite.pipeline import translate_source

HEADER = (
    "import torch\nimport torch.nn as nn\n\n\nclass M(nn.Module):\n    def __init__(self):\n"
    "        super().__init__()\n        self.conv = nn.Conv2d(2, 3, 1)\n\n    def forward(self, x, y):\n"
)


def translate(body: str):
    return translate_source(HEADER + "".join(f"        {line}\n" for line in body.splitlines()), "m.py")


def codes(translation):
    return {d.code for d in translation.diagnostics}


def test_abs_keeps_pytorch_gradient_at_zero():
    assert "jnp.where(x == 0, 0, jnp.abs(x))" in translate("return x.abs()").code


def test_clamp_selects_instead_of_clip_alone():
    code = translate("return torch.clamp(x, 0.0, 6.0)").code
    assert "jnp.where((x >= 0.0) & (x <= 6.0), x" in code


def test_var_writes_pytorch_ddof():
    assert "ddof=1" in translate("return x.var(1)").code
    assert "ddof=0" in translate("return x.var(1, unbiased=False)").code


def test_mean_over_pixels_of_conv_output_needs_no_transpose_back():
    code = translate("return self.conv(x).mean(dim=(2, 3))").code
    assert "axis=(1, 2)" in code
    assert "(0, 3, 1, 2)" not in code


def test_permute_to_nhwc_after_conv_is_free():
    code = translate("return self.conv(x).permute(0, 2, 3, 1)").code
    assert "(0, 3, 1, 2)" not in code


def test_cat_after_conv_goes_back_to_nchw():
    code = translate("return torch.cat([self.conv(x), x], dim=1)").code
    assert "(0, 3, 1, 2)" in code and "axis=1" in code


def test_device_moves_disappear():
    t = translate("return x.to('cuda').cpu() + x.to(x.device)")
    assert t.ok and "cuda" not in t.code.split("def __call__")[1]


@pytest.mark.parametrize("body", ["return torch.max(x, self.d)", "return x.to(y)", "return torch.where(x > 0)"])
def test_ambiguous_or_untraceable_calls_are_reported(body):
    assert not translate(body).ok


def test_random_and_host_sync_are_reported():
    assert "T023" not in codes(translate("return x + torch.randn(3)"))  # translated: the 'noise' stream
    assert "T023" not in codes(translate("return x + torch.randint(0, 4, (3,))"))  # translated since drop path needed it
    assert "T023" in codes(translate("return torch.multinomial(x.softmax(-1), 1)"))
    assert "T022" in codes(translate("return x.item()"))
    assert "T022" in codes(translate("return x * int(x.argmax())"))


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_cross_entropy_with_every_target_ignored_is_nan_with_zero_gradient_as_in_pytorch(label_smoothing):
    """A batch of padding only (CI draw T2F_SEED=1333434039): PyTorch's mean is 0/0 = nan, its gradient zero."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    import torch
    import torch.nn.functional as F

    from translator.rules.tensor_ops.cross_entropy import SUPPORT

    namespace = {"jax": jax, "jnp": jnp}
    exec(SUPPORT, namespace)
    logits = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    target = np.array([1, 1])
    loss, grad = jax.value_and_grad(lambda x: namespace["torch_cross_entropy"](
        x, jnp.asarray(target), ignore_index=1, label_smoothing=label_smoothing))(jnp.asarray(logits))
    x = torch.tensor(logits, requires_grad=True)
    expected = F.cross_entropy(x, torch.tensor(target), ignore_index=1, label_smoothing=label_smoothing)
    expected.backward()
    assert np.isnan(float(loss)) and torch.isnan(expected)
    np.testing.assert_array_equal(np.asarray(grad), x.grad.numpy())


@pytest.mark.parametrize("form", ["torch.linspace(-1.0, 1.0, steps=x.shape[-1])",
                                  "torch.linspace(start=0, end=2, steps=x.shape[-1])"])
def test_linspace_by_keyword_takes_jnp_names(form):
    """rvt's `torch.linspace(-1., 1., steps=n)` became `jnp.linspace(..., steps=n)`, which jnp does not take."""
    from translator.equivalence.rule_cases import compare_case
    from translator.rules.base import RuleCase

    compare_case(RuleCase(None, f"x + {form}", (2, 5)), 0)


@pytest.mark.parametrize(("body", "folded"), [
    ("return x.view(-1, 1).squeeze(1)", "x.reshape(-1)"),
    ("return y.reshape(2, 1, -1).squeeze(-2)", "y.reshape(2, -1)"),
    ("return x.view(1, -1, 1).squeeze((0, 2))", "x.reshape(-1)"),
    ("return torch.squeeze(x.view(1, 1), 0)", "x.reshape(1)"),
])
def test_a_squeeze_of_an_axis_a_reshape_made_1_is_folded_into_the_reshape(body, folded):
    from translator.equivalence.rule_cases import compare_case
    from translator.rules.base import RuleCase

    code = translate(body).code
    assert f"return {folded}\n" in code and "jnp.squeeze" not in code
    expression = body.removeprefix("return ").replace("y.", "x.")
    compare_case(RuleCase(None, expression, (1, 1) if "view(1, 1)" in body else (2, 3)))


@pytest.mark.parametrize("body", ["return x.view(-1, 2).squeeze(1)", "return x.view(-1, 1).squeeze(0)",
                                  "return x.reshape(*x.shape, 1).squeeze(0)"])
def test_a_squeeze_the_reshape_does_not_prove_keeps_pytorchs_no_op_test(body):
    assert ".shape[a] == 1" in translate(body).code


def test_a_squeeze_of_a_method_of_the_module_called_reshape_is_not_folded():
    source = (
        "import torch.nn as nn\n\n\nclass M(nn.Module):\n    def reshape(self, x, size):\n        return x.reshape(size, -1)\n\n"
        "    def forward(self, x):\n        return self.reshape(x, 1).squeeze(1)\n"
    )
    code = translate_source(source, "m.py").code
    assert "jnp.squeeze(" in code and "self.reshape(x)" not in code
