"""T024 TorchNorm: ``x.norm(p, dim, keepdim)`` / ``torch.norm`` -> sums of squares or |x| with PyTorch's gradient at 0."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import code_of, literal_or_none
from translator.rules.base import Example, NotLiteral, Rule, RuleCase, RuleDoc, signature_of
from translator.rules.registry import register
from translator.rules.tensor_ops._common import axes_for, bind, emit, shapes, unsupported


def _norm(input, p="fro", dim=None, keepdim=False, dtype=None, *, out=None): ...


ABS = "jnp.where({x} == 0, 0, jnp.abs({x}))"
#: the norm of a zero slice has gradient 0 in PyTorch; sqrt's at 0 is inf (nan after the chain rule)
SAFE_SQRT = "(lambda _s: jnp.where(_s == 0, 0.0, jnp.sqrt(jnp.where(_s == 0, 1.0, _s))))({s})"
#: spellings of an infinite ``p`` that are expressions, not literals
INFINITY = {"float('inf')", "math.inf", "torch.inf"}


@register
class TorchNorm(Rule):
    code = "T024"
    name = "TorchNorm"
    summary = "x.norm() / torch.norm(x, p, dim, keepdim) for p = 2, 'fro', 1, inf -> jnp sums with PyTorch's zero gradient at 0"
    torch_functions = ("torch.norm",)
    tensor_methods = ("norm",)
    call_signature = signature_of(_norm)
    doc = RuleDoc(
        what="`x.norm()`, `x.norm(dim=1)`, `torch.norm(x, p=1, dim=-1, keepdim=True)`, with p in 2, 'fro', 1, inf.",
        why=(
            "`jnp.linalg.norm` matches the values but not the gradient of a zero vector: PyTorch\n"
            "defines it as 0, JAX's is nan (sqrt at 0), and one nan poisons every parameter gradient.\n"
            "Zero rows are common (masked or padded positions, dead ReLU features). The 2-norm\n"
            "becomes a square root of the sum of squares with a `jnp.where` guard, the 1- and inf-norms\n"
            "use |x| with PyTorch's sgn(0) = 0. Other p are reported."
        ),
        example=Example(
            torch="n = x.norm(dim=-1)",
            flax="n = (lambda _s: jnp.where(_s == 0, 0.0, jnp.sqrt(jnp.where(_s == 0, 1.0, _s))))(jnp.sum(jnp.square(x), axis=-1))",
        ),
        fidelity="Outputs within float32 rounding; gradients identical, including zero vectors.",
    )

    def emit_call(self, ctx):
        return norm_call(ctx, "p")

    def cases(self):
        @st.composite
        def norm_case(draw):
            shape = shapes(draw)
            rank = len(shape)
            args = []
            p = draw(st.sampled_from(["", "p=2", "p=1", "p='fro'", "p=float('inf')"]))
            if p:
                args.append(p)
            if draw(st.booleans()):
                args.append(f"dim={draw(st.integers(-rank, rank - 1))}")
                if draw(st.booleans()):
                    args.append("keepdim=True")
            x = draw(st.sampled_from(["x", "x.round()"]))  # rounded inputs give all-zero slices
            if draw(st.booleans()):
                return RuleCase("nn.Conv2d(2, 3, 1)", f"self.layer(x).norm({', '.join([*(a for a in args if a.startswith('p')), 'dim=1'])})", (1, 2, 3, 3))
            if draw(st.booleans()):
                return RuleCase(None, f"torch.norm({', '.join([x, *args])})", shape, input_range=(-1.0, 1.0))
            return RuleCase(None, f"{x}.norm({', '.join(args)})", shape, input_range=(-1.0, 1.0))

        return norm_case()


def norm_call(ctx, order: str):
    """A p-norm call whose order argument is called ``order`` (``p`` for ``torch.norm``, ``ord`` for
    ``torch.linalg.vector_norm``): constant order, ``dim`` and ``keepdim`` read, then :func:`emit_norm`."""
    if not ctx.is_default("out") or not ctx.is_default("dtype"):
        return unsupported(ctx, "`out=`/`dtype=` of a norm are not translated")
    p = literal_or_none(ctx, order)
    if p is NotLiteral and code_of(ctx.expr(order)).replace(" ", "").replace('"', "'") in INFINITY:
        p = float("inf")
    dims = literal_or_none(ctx, "dim")
    dims = tuple(dims) if isinstance(dims, list) else dims
    keepdim = literal_or_none(ctx, "keepdim")
    if NotLiteral in (p, keepdim, dims):
        return unsupported(ctx, f"`{order}`, `dim` and `keepdim` must be constants")
    if order == "ord" and p == "fro":
        return unsupported(ctx, "`ord='fro'` is a matrix norm: use torch.linalg.matrix_norm")
    return emit_norm(ctx, p, dims, keepdim)


def emit_norm(ctx, p, dims, keepdim):
    """The p-norm of ``ctx``'s input over ``dims`` (all axes for None), with PyTorch's zero gradient at 0."""
    x, axis, fact = axes_for(ctx, dims, keepdim)
    args = ([f"axis={axis}"] if axis is not None else []) + (["keepdims=True"] if keepdim else [])
    tail = "".join(", " + a for a in args)
    if p in (2, 2.0, "fro", None):
        return emit(SAFE_SQRT.format(s=f"jnp.sum(jnp.square({x}){tail})"), fact)
    if p in (1, 1.0):
        return emit(f"jnp.sum({bind(x, lambda v: ABS.format(x=v))}{tail})", fact)
    if p == float("inf"):
        return emit(f"jnp.amax({bind(x, lambda v: ABS.format(x=v))}{tail})", fact)
    return unsupported(ctx, f"`p={p!r}` is not translated (only 2, 'fro', 1, inf)")
