"""L042-L044: ``nn.TransformerEncoderLayer``, ``nn.TransformerDecoderLayer``, ``nn.TransformerEncoder``.

Each becomes a support module whose submodules carry PyTorch's names
(``self_attn``, ``linear1``, ``norm1``, ... ``layers_0``), so porting composes from
the rules of the parts: these rules have a ``child_path`` hook, and the port
walker asks the child layers' own rules (L040 attention, L001 Linear, L022
LayerNorm) for their tensors.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m
from hypothesis import strategies as st

from translator.rules._emit import call, code_of, literal_or_none
from translator.rules.attention._support import (
    TORCH_MULTIHEAD_ATTENTION,
    TORCH_TRANSFORMER_DECODER_LAYER,
    TORCH_TRANSFORMER_ENCODER,
    TORCH_TRANSFORMER_ENCODER_LAYER,
)
from translator.rules.base import CallSpec, Example, LayerBuild, NotLiteral, Rule, RuleCase, RuleDoc
from translator.rules.registry import register

ATTENTION = ("TorchMultiheadAttention", TORCH_MULTIHEAD_ATTENTION)
#: constructor arguments passed on when not at their default: (PyTorch name, Flax field, default)
LAYER_FIELDS = (
    ("dim_feedforward", "dim_feedforward", 2048),
    ("dropout", "dropout_rate", 0.1),
    ("layer_norm_eps", "layer_norm_eps", 1e-5),
    ("batch_first", "batch_first", False),
    ("norm_first", "norm_first", False),
    ("bias", "bias", True),
)
#: PyTorch's activation callables, by the last part of their dotted name
ACTIVATIONS = ("relu", "gelu")
ACTIVATION_MODULES = ("F", "functional", "torch", "torch.nn.functional", "nn.functional")


def activation_name(ctx) -> str | None:
    """``"relu"``/``"gelu"`` for the string or F.relu/F.gelu callable PyTorch accepts; None (reported) otherwise."""
    if ctx.is_default("activation"):
        return "relu"
    value = literal_or_none(ctx, "activation")
    if value is NotLiteral:
        dotted = code_of(ctx.expr("activation")).strip()
        module, _, value = dotted.rpartition(".")
        if module not in ACTIVATION_MODULES:
            value = None
    if value in ACTIVATIONS:
        return value
    ctx.unsupported("`activation=` must be 'relu', 'gelu', F.relu or F.gelu (a module or other callable is not translated)")
    return None


def layer_build(ctx, support_name: str, source: str, kind: str) -> LayerBuild:
    for argument in ("device", "dtype"):
        if not ctx.is_default(argument):
            ctx.unsupported(f"`{argument}=` is not translated yet")
    keywords: dict[str, cst.BaseExpression] = {"d_model": ctx.expr("d_model"), "nhead": ctx.expr("nhead")}
    for torch_name, flax_name, default in LAYER_FIELDS:
        value = literal_or_none(ctx, torch_name)
        if value is NotLiteral or value != default:
            keywords[flax_name] = ctx.expr(torch_name)
    activation = activation_name(ctx)
    if activation not in (None, "relu"):
        keywords["activation"] = cst.SimpleString(repr(activation))
    return LayerBuild(
        call(support_name, [], keywords),
        CallSpec(accepts="plain", produces="plain", train_kwarg=("deterministic", True)),
        notes=(
            f"Transformer{kind}Layer -> {support_name}: PyTorch's submodule names (self_attn, linear1, norm1, ...); "
            "masks keep PyTorch's meaning (bool True = blocked)",
        ),
        support=((support_name, source), ATTENTION),
    )


class ComposedRule(Rule):
    """A layer whose parameters all live in child layers that other rules port."""

    def child_path(self, flax_prefix: tuple[str, ...], child: str) -> tuple[str, ...]:
        """PyTorch's ``self_attn.in_proj_weight`` is Flax's ``self_attn/in_proj_weight``: names kept one to one."""
        return (*flax_prefix, child)


def layer_arguments(draw, *, max_heads: int = 2) -> tuple[str, bool, int, int]:
    """A random TransformerXLayer argument list; returns (arguments, batch_first, d_model, dropout>0)."""
    nhead = draw(st.integers(1, max_heads))
    # d_model >= 3: a LayerNorm over 1 or 2 features has an (almost) zero input gradient, pure rounding noise
    d_model = nhead * draw(st.integers(-(-3 // nhead), 4))
    args = [str(d_model), str(nhead), str(draw(st.integers(1, 8)))]
    dropout = draw(st.sampled_from([0.0, 0.0, 0.1]))
    args.append(f"dropout={dropout}")
    activation = draw(st.sampled_from([None, "'relu'", "'gelu'", "F.gelu", "F.relu"]))
    if activation:
        args.append(f"activation={activation}")
    if draw(st.booleans()):
        args.append(f"layer_norm_eps={draw(st.sampled_from([1e-5, 1e-3]))}")
    batch_first = draw(st.booleans())
    if batch_first:
        args.append("batch_first=True")
    if draw(st.booleans()):
        args.append("norm_first=True")
    if draw(st.integers(0, 3)) == 0:
        args.append("bias=False")
    return ", ".join(args), batch_first, d_model, dropout > 0


def mask_arguments(draw, batch_first: bool, names: tuple[str, str, str], length_axis_source: str = "x") -> list[str]:
    """Attention-mask keywords drawn for one attention block: (mask, key padding mask, causal hint) names."""
    mask_name, padding_name, causal_name = names
    seq = 1 if batch_first else 0
    extra = []
    mask = draw(st.sampled_from(["none", "bool", "float"]))
    if mask == "bool":
        extra.append(f"{mask_name}=torch.triu(torch.ones(x.size({seq}), x.size({seq}), dtype=torch.bool), 1)")
        if draw(st.booleans()):
            extra.append(f"{causal_name}=True")
    elif mask == "float":
        extra.append(f"{mask_name}=torch.triu(torch.ones(x.size({seq}), x.size({seq}), dtype=x.dtype), 1) * -1.5")
    if draw(st.booleans()):  # key 0 never padded: no fully masked row
        padding = "x[..., 0] > x[:, :1, 0]" if batch_first else "x[..., 0].transpose(0, 1) > x[:1, :, 0].transpose(0, 1)"
        extra.append(f"{padding_name}={padding}")
    return extra


def sequence_shape(draw, batch_first: bool, d_model: int) -> tuple[int, int, int]:
    batch, length = draw(st.integers(1, 2)), draw(st.integers(1, 5))
    return (batch, length, d_model) if batch_first else (length, batch, d_model)


@register
class TorchTransformerEncoderLayer(ComposedRule):
    code = "L042"
    name = "TorchTransformerEncoderLayer"
    summary = "nn.TransformerEncoderLayer -> TorchTransformerEncoderLayer (PyTorch's submodules, post/pre-norm, masks)"
    torch_classes = ("torch.nn.TransformerEncoderLayer",)
    doc = RuleDoc(
        what=(
            "`nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,\n"
            "batch_first, norm_first, bias)` ('relu'/'gelu' or F.relu/F.gelu) and its call\n"
            "`layer(src, src_mask, src_key_padding_mask, is_causal)`."
        ),
        why=(
            "Flax has no Transformer layer. The translation emits `TorchTransformerEncoderLayer`, the same\n"
            "blocks under PyTorch's names: `self_attn` (TorchMultiheadAttention, rule L040, PyTorch's\n"
            "packed in_proj layout and mask polarity), `linear1`/`linear2` (Dense), `norm1`/`norm2`\n"
            "(LayerNorm with PyTorch's eps and two-pass variance), `dropout`/`dropout1`/`dropout2`. Weights\n"
            "port part by part through those parts' rules. 'gelu' is the exact erf form (Flax's\n"
            "`nn.gelu` defaults to the tanh approximation). PyTorch's eval-mode fast path (nested tensors,\n"
            "fused kernels) is an optimisation of the same maths and is not reproduced. The constructor's\n"
            "`dropout` becomes the field `dropout_rate`, since `dropout` names the feed-forward dropout\n"
            "submodule, as in PyTorch."
        ),
        example=Example(
            torch="self.block = nn.TransformerEncoderLayer(64, 4, 256, batch_first=True)\ny = self.block(x, src_key_padding_mask=pad)",
            flax=(
                "self.block = TorchTransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=256, batch_first=True)\n"
                "y = self.block(x, src_key_padding_mask=pad, deterministic=not train)"
            ),
        ),
        fidelity=(
            "Equal within float32 tolerance in eval mode and in train mode without dropout (outputs and\n"
            "gradients, post- and pre-norm, masks). Train-mode dropout masks differ (RNG). An activation\n"
            "given as a module or another callable is not translated."
        ),
    )

    def build_layer(self, ctx):
        return layer_build(ctx, "TorchTransformerEncoderLayer", TORCH_TRANSFORMER_ENCODER_LAYER, "Encoder")

    def cases(self):
        @st.composite
        def encoder_layer_case(draw):
            args, batch_first, d_model, dropout = layer_arguments(draw)
            extra = mask_arguments(draw, batch_first, ("src_mask", "src_key_padding_mask", "is_causal"))
            train = not dropout and draw(st.booleans())
            shape = sequence_shape(draw, batch_first, d_model)
            return RuleCase(f"nn.TransformerEncoderLayer({args})", f"self.layer({', '.join(['x', *extra])})", shape, train=train)

        return encoder_layer_case()


@register
class TorchTransformerDecoderLayer(ComposedRule):
    code = "L043"
    name = "TorchTransformerDecoderLayer"
    summary = "nn.TransformerDecoderLayer -> TorchTransformerDecoderLayer (self- and cross-attention, PyTorch's names)"
    torch_classes = ("torch.nn.TransformerDecoderLayer",)
    doc = RuleDoc(
        what=(
            "`nn.TransformerDecoderLayer(...)` (the encoder layer's arguments) and its call `layer(tgt,\n"
            "memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask, tgt_is_causal,\n"
            "memory_is_causal)`."
        ),
        why=(
            "As for the encoder layer (L042), with a cross-attention block over `memory`: the emitted\n"
            "`TorchTransformerDecoderLayer` has PyTorch's submodules `self_attn`, `multihead_attn`,\n"
            "`linear1`, `linear2`, `norm1..3`, `dropout`, `dropout1..3`, each ported by its own rule,\n"
            "and masks with PyTorch's meaning (bool True = blocked, float added)."
        ),
        example=Example(
            torch="self.block = nn.TransformerDecoderLayer(64, 4)\ny = self.block(tgt, memory, tgt_mask=causal)",
            flax=(
                "self.block = TorchTransformerDecoderLayer(d_model=64, nhead=4)\n"
                "y = self.block(tgt, memory, tgt_mask=causal, deterministic=not train)"
            ),
        ),
        fidelity=(
            "Equal within float32 tolerance in eval mode and in train mode without dropout (outputs and\n"
            "gradients, post- and pre-norm, masks on both attention blocks). Train-mode dropout masks differ."
        ),
    )

    def build_layer(self, ctx):
        return layer_build(ctx, "TorchTransformerDecoderLayer", TORCH_TRANSFORMER_DECODER_LAYER, "Decoder")

    def cases(self):
        @st.composite
        def decoder_layer_case(draw):
            args, batch_first, d_model, dropout = layer_arguments(draw)
            extra = mask_arguments(draw, batch_first, ("tgt_mask", "tgt_key_padding_mask", "tgt_is_causal"))
            # memory: the same length as tgt here, so the square masks fit the cross-attention too
            extra += mask_arguments(draw, batch_first, ("memory_mask", "memory_key_padding_mask", "memory_is_causal"))
            memory = draw(st.sampled_from(["torch.tanh(x)", "x * 0.5 + 1"]))
            train = not dropout and draw(st.booleans())
            shape = sequence_shape(draw, batch_first, d_model)
            return RuleCase(
                f"nn.TransformerDecoderLayer({args})", f"self.layer({', '.join(['x', memory, *extra])})", shape, train=train
            )

        return decoder_layer_case()


@register
class TorchTransformerEncoder(ComposedRule):
    code = "L044"
    name = "TorchTransformerEncoder"
    summary = "nn.TransformerEncoder(layer, N, norm) -> TorchTransformerEncoder: N independent copies (layers_i) + norm"
    torch_classes = ("torch.nn.TransformerEncoder",)
    doc = RuleDoc(
        what=(
            "`nn.TransformerEncoder(encoder_layer, num_layers, norm=None)` with an `nn.TransformerEncoderLayer`\n"
            "and its call `encoder(src, mask, src_key_padding_mask, is_causal)`."
        ),
        why=(
            "PyTorch deep-copies the layer `num_layers` times into the ModuleList `layers`; each copy has\n"
            "its own weights (`layers.0.self_attn.in_proj_weight`, ...). The emitted\n"
            "`TorchTransformerEncoder` clones the translated layer in `setup`, so Flax names the copies\n"
            "`layers_0`, `layers_1`, ... (Flax's list naming, rule S005) and each one ports through rule\n"
            "L042. `enable_nested_tensor` and `mask_check` only select PyTorch's eval-mode fast path (same\n"
            "maths, padded positions aside) and are dropped."
        ),
        example=Example(
            torch=(
                "layer = nn.TransformerEncoderLayer(64, 4, 128, batch_first=True)\n"
                "self.encoder = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(64))"
            ),
            flax=(
                "layer = TorchTransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=128, batch_first=True)\n"
                "self.encoder = TorchTransformerEncoder(layer, 2, norm=nn.LayerNorm(epsilon=1e-05, use_fast_variance=False))"
            ),
        ),
        fidelity=(
            "Equal within float32 tolerance as its layers are (eval, and train without dropout). PyTorch's\n"
            "nested-tensor fast path (eval, no autograd, key padding mask) returns 0 at padded positions\n"
            "before the final norm; the translation returns what the layers compute there, as PyTorch does\n"
            "with autograd on."
        ),
    )

    def build_layer(self, ctx):
        layer = ctx.expr("encoder_layer")
        if not (m.matches(layer, m.Call(func=m.Name("TorchTransformerEncoderLayer"))) or isinstance(layer, cst.Name)):
            ctx.unsupported("`encoder_layer` must be an nn.TransformerEncoderLayer (rule L042)")
        positional = [layer, ctx.expr("num_layers")]
        keywords = {}
        if literal_or_none(ctx, "norm") is not None:
            keywords["norm"] = ctx.expr("norm")
        return LayerBuild(
            call("TorchTransformerEncoder", positional, keywords),
            CallSpec(accepts="plain", produces="plain", train_kwarg=("deterministic", True)),
            notes=("TransformerEncoder -> TorchTransformerEncoder: num_layers clones of the layer, named layers_0, layers_1, ...",),
            support=(("TorchTransformerEncoder", TORCH_TRANSFORMER_ENCODER),),
        )

    def cases(self):
        @st.composite
        def encoder_case(draw):
            args, batch_first, d_model, dropout = layer_arguments(draw)
            num_layers = draw(st.integers(1, 3))
            norm = f", norm=nn.LayerNorm({d_model})" if draw(st.booleans()) else ""
            extra = mask_arguments(draw, batch_first, ("mask", "src_key_padding_mask", "is_causal"))
            train = not dropout and draw(st.booleans())
            shape = sequence_shape(draw, batch_first, d_model)
            init = f"nn.TransformerEncoder(nn.TransformerEncoderLayer({args}), {num_layers}{norm})"
            return RuleCase(init, f"self.layer({', '.join(['x', *extra])})", shape, train=train)

        return encoder_case()
