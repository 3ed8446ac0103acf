"""L001 TorchLinear: ``nn.Linear`` -> ``nn.Dense``."""

from __future__ import annotations

from hypothesis import strategies as st

from translator.rules._emit import call, literal_or_none
from translator.rules.base import (
    CallSpec,
    Example,
    LayerBuild,
    Rule,
    RuleCase,
    RuleDoc,
    TensorMapping,
)
from translator.rules.registry import register
from translator.weights.layouts import IDENTITY, LINEAR_WEIGHT_TO_KERNEL


@register
class TorchLinear(Rule):
    code = "L001"
    name = "TorchLinear"
    summary = "nn.Linear(in, out) -> nn.Dense(out); kernel = weight.T"
    torch_classes = ("torch.nn.Linear",)
    doc = RuleDoc(
        what="`nn.Linear(in_features, out_features, bias=True)`, applied to the last axis of its input.",
        why=(
            "Flax layers infer their input size from the first call, so `nn.Dense` takes only the output\n"
            "size. PyTorch stores the weight as [out, in] and computes x @ W.T; Flax stores the kernel as\n"
            "[in, out] and computes x @ kernel. Porting transposes the weight; for a square layer a\n"
            "forgotten transpose raises no shape error and gives errors of the order of the outputs\n"
            "(measured: 2.39 max abs, 146% relative)."
        ),
        example=Example(
            torch="self.fc1 = nn.Linear(784, 128)\ny = self.fc1(x)",
            flax="self.fc1 = nn.Dense(128)  # kernel [in, out] = weight.T\ny = self.fc1(x)",
        ),
        fidelity="Equal within float32 tolerance (measured: output 0, dW 0, db 1.4e-6 abs).",
    )

    def build_layer(self, ctx):
        keywords = {}
        bias = literal_or_none(ctx, "bias")
        if bias is not True:
            keywords["use_bias"] = ctx.expr("bias")
        for unsupported in ("dtype",):
            if not ctx.is_default(unsupported):
                ctx.unsupported(f"`{unsupported}=` is not translated yet (Flax uses `param_dtype`)")
        return LayerBuild(
            call("nn.Dense", [ctx.expr("out_features")], keywords),
            CallSpec(accepts="plain", produces="plain", keeps_rank=True),
            notes=("Linear(in, out) -> Dense(out): Flax infers `in` from the input; kernel = weight.T",),
        )

    def weight_layout(self, module):
        mappings = [TensorMapping("weight", ("params", "kernel"), LINEAR_WEIGHT_TO_KERNEL)]
        if module.bias is not None:
            mappings.append(TensorMapping("bias", ("params", "bias"), IDENTITY))
        return mappings

    def cases(self):
        @st.composite
        def linear_case(draw):
            features_in = draw(st.integers(1, 24))
            features_out = draw(st.integers(1, 24))
            bias = draw(st.booleans())
            leading = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
            return RuleCase(
                init=f"nn.Linear({features_in}, {features_out}, bias={bias})",
                forward="self.layer(x)",
                input_shape=(*leading, features_in),
            )

        return linear_case()


