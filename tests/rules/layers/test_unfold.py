"""Unfold, Fold and Tensor.unfold (rules L056, L057, T060): the models that use them, and the support functions' edges.

The catalogue test draws small random geometries; these pin the configurations of the models that
motivated the rules (PiT, T2T-ViT, ViViT-MOSS), a Linear reading the unfolded rows (their order
matters), and what the support functions do where a convolution-based patch extraction would not.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from translator.equivalence.rule_cases import compare_case
from translator.rules.base import RuleCase
from translator.rules.layers.fold import SUPPORT as FOLD_SUPPORT
from translator.rules.layers.unfold import SUPPORT as UNFOLD_SUPPORT
from translator.rules.tensor_ops.tensor_unfold import SUPPORT as TENSOR_UNFOLD_SUPPORT

MODELS = [
    # PiT: overlapping patches (stride = patch // 2), rows read by a Linear after `b c n -> b n c`;
    # in a Sequential, a Linear over the L blocks
    RuleCase("nn.Sequential(nn.Unfold(kernel_size=4, stride=2), nn.Linear(9, 5))", "self.layer(x)", (2, 3, 8, 8)),
    RuleCase("nn.Linear(48, 5)", "self.layer(F.unfold(x, kernel_size=4, stride=2).transpose(1, 2))", (2, 3, 8, 8)),
    # T2T-ViT: kernel 7, stride 4, padding stride // 2
    RuleCase("nn.Unfold(kernel_size=7, stride=4, padding=2)", "self.layer(x)", (1, 3, 16, 16)),
    # ViViT-MOSS: three window axes appended in turn
    RuleCase(None, "x.unfold(2, 2, 1).unfold(3, 3, 1).unfold(4, 2, 1)", (1, 2, 4, 5, 5)),
    # overlap-add: fold sums the blocks unfold copied
    RuleCase("nn.Fold(output_size=(6, 7), kernel_size=3, padding=1)", "self.layer(x)", (2, 2 * 9, 42)),
]


@pytest.mark.parametrize("case", MODELS, ids=lambda c: c.forward if c.init is None else c.init)
def test_models_match_pytorch(case):
    compare_case(case, seed=3)


def support(*sources: str) -> dict:
    namespace = {"jax": jax, "jnp": jnp}
    for source in sources:
        exec(source, namespace)
    return namespace


def test_an_inf_stays_in_its_own_patches():
    """A convolution with a one-hot kernel (lax.conv_general_dilated_patches) makes inf * 0 = nan next to it."""
    x = np.arange(2 * 5 * 6, dtype=np.float32).reshape(1, 2, 5, 6)
    x[0, 1, 2, 3] = np.inf
    expected = F.unfold(torch.tensor(x), (2, 3), padding=1, stride=(1, 2)).numpy()
    got = np.asarray(support(UNFOLD_SUPPORT)["torch_unfold"](jnp.asarray(x), (2, 3), padding=1, stride=(1, 2)))
    np.testing.assert_array_equal(got, expected)  # no nan anywhere
    assert not np.isnan(got).any()


def test_integer_and_unbatched_unfold():
    x = np.arange(3 * 4 * 5, dtype=np.int32).reshape(3, 4, 5)
    expected = F.unfold(torch.tensor(x, dtype=torch.float32), 2, dilation=(1, 2)).numpy()
    got = np.asarray(support(UNFOLD_SUPPORT)["torch_unfold"](jnp.asarray(x), 2, dilation=(1, 2)))
    assert got.dtype == x.dtype
    np.testing.assert_array_equal(got, expected.astype(x.dtype))


def test_a_kernel_larger_than_the_padded_input_is_an_error():
    with pytest.raises(ValueError, match="does not fit"):
        support(UNFOLD_SUPPORT)["torch_unfold"](jnp.zeros((1, 1, 2, 2)), 3)
    with pytest.raises(ValueError, match="does not fit"):
        support(TENSOR_UNFOLD_SUPPORT)["torch_tensor_unfold"](jnp.zeros((2, 3)), 1, 4, 1)


def test_fold_of_unbatched_columns_and_its_error():
    fold = support(UNFOLD_SUPPORT, FOLD_SUPPORT)["torch_fold"]
    columns = np.random.default_rng(0).standard_normal((2 * 4, 8)).astype(np.float32)
    expected = F.fold(torch.tensor(columns), (4, 5), 2, stride=(1, 1), padding=(0, 0), dilation=(2, 1)).numpy()
    np.testing.assert_allclose(np.asarray(fold(jnp.asarray(columns), (4, 5), 2, dilation=(2, 1))), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="not a multiple"):
        fold(jnp.zeros((1, 7, 8)), (4, 5), 2)


def test_tensor_unfold_of_a_scalar_and_empty_windows():
    unfold = support(TENSOR_UNFOLD_SUPPORT)["torch_tensor_unfold"]
    assert unfold(jnp.float32(3.0), 0, 1, 1).tolist() == torch.tensor(3.0).unfold(0, 1, 1).tolist()
    x = torch.arange(12.0).reshape(3, 4)
    assert unfold(jnp.asarray(x.numpy()), -1, 0, 2).shape == tuple(x.unfold(-1, 0, 2).shape)
