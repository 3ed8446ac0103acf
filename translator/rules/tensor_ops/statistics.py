"""T008 TorchVarStd: ``x.var(dim)``, ``torch.std(x, unbiased=..., correction=...)`` -> ``jnp.var``/``std`` with ``ddof``."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import code_of, literal_or_none
from translator.rules.base import Example, NotLiteral, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import axes_for, emit, op_name, shapes, unsupported


def _var(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None): ...


#: PyTorch's std gradient is masked to 0 where std == 0 (a constant slice); sqrt's would be inf * 0 = nan
TORCH_VAR = "torch_var"
TORCH_VAR_SOURCE = '''
def torch_var(x, axis=None, correction=1, keepdims=False):
    """x.var(dim, correction=c) (T008): PyTorch divides by max(N - c, 0), so N <= c gives inf (nan where
    the slice is constant) where jnp.var(ddof=c) gives nan; otherwise the same two-pass formula."""
    axes = range(x.ndim) if axis is None else (axis if isinstance(axis, tuple) else (axis,))
    n = 1
    for a in axes:
        n *= x.shape[a]
    if n - correction > 0:
        squares = jnp.sum(jnp.square(x - jnp.mean(x, axis=axis, keepdims=True)), axis=axis, keepdims=keepdims)
        return squares / (n - correction)
    return var_without_dof(x, axis, n - correction, keepdims)


@partial(jax.custom_jvp, nondiff_argnums=(1, 2, 3))
def var_without_dof(x, axis, dof, keepdims):
    """The variance with no degrees of freedom left (dof = N - c <= 0): inf, nan for a constant slice."""
    return jnp.sum(jnp.square(x - jnp.mean(x, axis=axis, keepdims=True)), axis=axis, keepdims=keepdims) / 0.0


@var_without_dof.defjvp
def var_without_dof_jvp(axis, dof, keepdims, primals, tangents):
    """PyTorch's backward formula, which is not the output's derivative here: over every element, the
    cotangent times inf (nan where x equals the mean); over ``dim``, 2 (x - mean) / (N - c) times it
    (+-inf for N = c, finite and of the other sign for N < c)."""
    (x,), (dx,) = primals, tangents
    mean = jnp.mean(x, axis=axis, keepdims=True)
    if axis is None:
        factor = jnp.where(x == mean, jnp.nan, jnp.inf)
    else:
        factor = 2.0 * (x - mean) / dof
    return var_without_dof(x, axis, dof, keepdims), jnp.sum(factor * dx, axis=axis, keepdims=keepdims)
'''

SAFE_SQRT = "(lambda _var: jnp.where(_var == 0, 0.0, jnp.sqrt(jnp.where(_var == 0, 1.0, _var))))({var})"


@register
class TorchVarStd(Rule):
    code = "T008"
    name = "TorchVarStd"
    summary = "x.var / x.std / torch.var / torch.std -> jnp.var / sqrt(var) with ddof=1 (PyTorch's unbiased default)"
    torch_functions = ("torch.var", "torch.std")
    tensor_methods = ("var", "std")
    call_signature = signature_of(_var)
    doc = RuleDoc(
        what="Variance and standard deviation over all axes or `dim`, with `unbiased=`, `correction=`, `keepdim`.",
        why=(
            "PyTorch divides by N - 1 by default (`correction=1`, Bessel); NumPy/JAX by N (`ddof=0`).\n"
            "Translated literally, `x.var()` is off by a factor N/(N-1): 33% for N = 4. The translation\n"
            "always writes `ddof` (`unbiased=False` -> 0, `correction=c` -> c). `std` becomes the square\n"
            "root of `jnp.var` with PyTorch's zero gradient where the std is exactly 0 (a constant\n"
            "slice): `jnp.std`'s gradient there is nan."
        ),
        example=Example(torch="v = x.var(dim=1)", flax="v = jnp.var(x, axis=1, ddof=1)"),
        fidelity=(
            "Same two-pass formula: outputs and gradients within float32 rounding. With `correction` of 2 or\n"
            "more (or not a constant) the support function `torch_var` divides by max(N - c, 0) as PyTorch\n"
            "does: inf where N <= c, where jnp.var returns nan; there its gradient is PyTorch's backward\n"
            "formula (a `jax.custom_jvp`), 2 (x - mean) g / (N - c) over `dim` and g * inf over every element."
        ),
    )

    def emit_call(self, ctx):
        op = op_name(ctx)
        if not ctx.is_default("out"):
            return unsupported(ctx, "`out=` writes into an existing tensor; JAX arrays are immutable: assign the result")
        dims = literal_or_none(ctx, "dim")
        unbiased = literal_or_none(ctx, "unbiased")
        if isinstance(dims, bool):  # the legacy overload x.var(unbiased)
            dims, unbiased = None, dims
        dims = tuple(dims) if isinstance(dims, list) else dims
        correction = literal_or_none(ctx, "correction")
        keepdim = literal_or_none(ctx, "keepdim")
        if NotLiteral in (keepdim, unbiased):
            return unsupported(ctx, "`keepdim`/`unbiased` must be constants")
        if unbiased is not None and correction is not None:
            return unsupported(ctx, "both `unbiased` and `correction` given")
        if correction is NotLiteral:
            ddof = code_of(ctx.expr("correction"))
        elif correction is not None:
            ddof = repr(correction)
        else:
            ddof = "0" if unbiased is False else "1"
        x, axis, fact = axes_for(ctx, dims, keepdim)
        if dims is NotLiteral:
            x, axis = code_of(ctx.plain("input")), code_of(ctx.expr("dim"))
        if correction is NotLiteral or (correction is not None and correction >= 2):
            # N <= correction is possible: PyTorch's inf there, not jnp.var's nan (with ddof 0 or 1 they agree)
            ctx.support(TORCH_VAR, TORCH_VAR_SOURCE)
            args = [x] + ([f"axis={axis}"] if axis is not None else []) + [f"correction={ddof}"] + (["keepdims=True"] if keepdim else [])
            var = f"{TORCH_VAR}({', '.join(args)})"
        else:
            args = [x] + ([f"axis={axis}"] if axis is not None else []) + [f"ddof={ddof}"] + (["keepdims=True"] if keepdim else [])
            var = f"jnp.var({', '.join(args)})"
        return emit(var if op == "var" else SAFE_SQRT.format(var=var), fact)

    def cases(self):
        @st.composite
        def var_case(draw):
            op = draw(st.sampled_from(["var", "std"]))
            shape = shapes(draw, min_size=2)  # N = 1 with ddof = 1 is nan in both
            rank = len(shape)
            args = []
            has_dim = draw(st.booleans())
            if has_dim:
                dim = draw(st.integers(-rank, rank - 1)) if draw(st.booleans()) else tuple(
                    draw(st.lists(st.integers(0, rank - 1), min_size=1, max_size=rank, unique=True))
                )
                args.append(f"dim={dim!r}" if draw(st.booleans()) else repr(dim))
            bias = draw(st.sampled_from(["", "unbiased=False", "unbiased=True", "correction=0", "correction=2", "correction=1"]))
            if bias == "correction=2" and not args:
                bias = "correction=0"
            if bias:
                args.append(bias)
            # keepdim needs a dim, except with correction= (PyTorch has no std(x, unbiased, keepdim))
            if args and (has_dim or not bias.startswith("unbiased")) and draw(st.booleans()):
                args.append("keepdim=True")
            if draw(st.booleans()):
                x = "x.round()" if op == "std" else "x"  # integer inputs: constant slices, std == 0
                return RuleCase(None, f"torch.{op}({', '.join([x, *args])})", shape, input_range=(-1.0, 1.0) if x != "x" else None)
            if draw(st.booleans()):  # layout: statistics of a conv output over its channels or pixels
                dims = draw(st.sampled_from(["1", "(2, 3)", "-1", "(1, 2, 3)"]))
                keep = draw(st.sampled_from(["", ", keepdim=True"]))
                return RuleCase("nn.Conv2d(2, 3, 1)", f"self.layer(x).{op}({dims}{keep})", (2, 2, 3, 3))
            return RuleCase(None, f"x.{op}({', '.join(args)})", shape)

        return var_case()
