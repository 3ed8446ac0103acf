"""X001-X009: constructs the translator reports instead of guessing."""

from __future__ import annotations

from translator.rules.base import DiagnosticRule, Example, RuleDoc
from translator.rules.registry import register

HEADER = "import torch\nimport torch.nn as nn\n\nclass M(nn.Module):\n    def forward(self, x):\n"


@register
class TorchUnsupported(DiagnosticRule):
    code = "X001"
    name = "TorchUnsupported"
    summary = "a PyTorch construct no rule translates: reported at its line, marked TODO, exit code 1"
    doc = RuleDoc(
        what="Any `torch` function, layer, tensor method or statement form without a rule.",
        why=(
            "A translation that is silently wrong is worse than none. The output keeps the original\n"
            "code at that spot under a `# TODO(torch2flax)` comment, so the file shows what is left."
        ),
        example=Example(torch="y = torch.special.i0(x)", flax="# TODO(torch2flax): X001 no rule translates `torch.special.i0`"),
        fidelity="Not translated.",
    )
    flagged_examples = (HEADER + "        return torch.special.i0(x)\n", HEADER + "        return x.frobnicate()\n")


@register
class UnknownLibraryCall(DiagnosticRule):
    code = "X002"
    name = "UnknownLibraryCall"
    summary = "a call into a library the translator does not know (it may hide torch code)"
    doc = RuleDoc(
        what="A call to a function imported from a third-party module, or to a name that cannot be resolved.",
        why="The callee may run PyTorch code on the tensor; the translator cannot see inside it.",
        example=Example(torch="from kornia import filters\ny = filters.sobel(x)", flax="# TODO(torch2flax): X002 call into `kornia.filters.sobel`"),
        fidelity="Not translated.",
    )
    flagged_examples = (
        "import torch.nn as nn\nfrom kornia import filters\n\nclass M(nn.Module):\n    def forward(self, x):\n        return filters.sobel(x)\n",
    )


@register
class ModuleStateInForward(DiagnosticRule):
    code = "X003"
    name = "ModuleStateInForward"
    summary = "assigning to self.<attr> inside forward (Flax modules are immutable)"
    doc = RuleDoc(
        what="`self.cache = x` or similar in `forward`.",
        why=(
            "Flax modules are frozen dataclasses; state that changes across calls lives in a variable\n"
            "collection (`self.variable('cache', ...)`) that `apply(..., mutable=[...])` returns."
        ),
        example=Example(torch="self.last = x", flax="# TODO(torch2flax): X003 assigning module state in forward"),
        fidelity="Not translated.",
    )
    flagged_examples = (HEADER + "        self.last = x\n        return x\n",)


@register
class DiscardedResult(DiagnosticRule):
    code = "X004"
    name = "DiscardedResult"
    summary = "a call whose result is discarded (in-place mutation in PyTorch)"
    doc = RuleDoc(
        what="A statement that is a bare call, like `x.add_(1)` or `F.relu(x, inplace=True)`.",
        why="It can only have an effect by mutating a tensor in place; JAX arrays are immutable.",
        example=Example(torch="x.add_(1)", flax="x = x + 1  # assign the result"),
        fidelity="Not translated.",
    )
    flagged_examples = (HEADER + "        torch.relu(x)\n        return x\n",)


@register
class UnknownAttributeCall(DiagnosticRule):
    code = "X005"
    name = "UnknownAttributeCall"
    summary = "calling self.<attr> when the translator cannot tell what it holds (a module passed in, a stored callable)"
    doc = RuleDoc(
        what="A call `self.block(x)` where `self.block` was not built in `__init__` from a layer, a container or a class in this file.",
        why=(
            "How a call is translated depends on what is called: a convolution needs channels-last input,\n"
            "dropout and batch norm need the `train` flag. A module passed to the constructor or a\n"
            "function stored on `self` could be anything, so the call is reported instead of guessed."
        ),
        example=Example(torch="self.block = block  # a constructor argument\ny = self.block(x)", flax="# TODO(torch2flax): X005 cannot tell what `self.block` holds"),
        fidelity="Not translated.",
    )
    flagged_examples = (
        "import torch.nn as nn\n\nclass M(nn.Module):\n    def __init__(self, block):\n        super().__init__()\n"
        "        self.block = block\n\n    def forward(self, x):\n        return self.block(x)\n",
    )


@register
class TorchSharedMutation(DiagnosticRule):
    code = "X006"
    name = "TorchSharedMutation"
    summary = "an in-place update that another live name, a view, or the caller would see"
    doc = RuleDoc(
        what=(
            "`x += 1`, `x.add_(..)`, `x[i] = v` or an `inplace=True` call whose memory is shared with\n"
            "another name read later (`y = x`, a view `v = x.view(-1)`, eval-mode dropout's output), with\n"
            "module state, or with an argument of a helper function."
        ),
        why=(
            "JAX arrays are immutable, so the translation rebinds one name to a new array (rule S011).\n"
            "Every other name that shares the old memory would keep the old value, where PyTorch\n"
            "changed it: the programs would differ silently. Make the sharing explicit in PyTorch\n"
            "(`y = x.clone()`, `inplace=False`, `x = x + 1`) and translate again."
        ),
        example=Example(
            torch="v = h.view(-1)\nv.add_(1.0)\nreturn h",
            flax="# TODO(torch2flax): X006 in-place update of memory that `h` also see(s)",
        ),
        fidelity="Not translated.",
    )
    flagged_examples = (
        HEADER + "        h = x * 2\n        v = h.view(-1)\n        v.add_(1.0)\n        return h\n",
        HEADER + "        h = x * 2\n        g = h\n        h += 1\n        return g\n",
        HEADER + "        out = []\n        acc = x * 0\n        for i in range(2):\n            acc += x\n            out.append(acc)\n        return out[0]\n",
    )


@register
class TorchAutogradFunction(DiagnosticRule):
    code = "X007"
    name = "TorchAutogradFunction"
    summary = "a custom torch.autograd.Function that S022 cannot translate (ctx.needs_input_grad, mark_dirty, extra methods)"
    doc = RuleDoc(
        what=(
            "A subclass of `torch.autograd.Function` that rule S022 cannot turn into a `jax.custom_vjp`: its forward\n"
            "uses `ctx` beyond `save_for_backward` and attributes (`needs_input_grad`, `mark_dirty`,\n"
            "`mark_non_differentiable`), it defines more than `forward`/`backward` (`setup_context`, `jvp`), or\n"
            "its forward takes star or keyword-only arguments; and its calls `Fn.apply(x)`."
        ),
        why=(
            "JAX differentiates the function itself; a hand-written backward is a `jax.custom_vjp`:\n"
            "the forward returns the output and the residuals, the backward maps residuals and the\n"
            "output cotangent to input cotangents. What `ctx` does beyond saving values has no direct\n"
            "counterpart (JAX computes every cotangent it is asked for), so such a pair is reported\n"
            "rather than guessed."
        ),
        example=Example(
            torch="class Swish(torch.autograd.Function): ...\ny = Swish.apply(x)",
            flax="# TODO(torch2flax): X007 `Swish` is a custom torch.autograd.Function",
        ),
        fidelity="Not translated.",
    )
    flagged_examples = (
        "import torch\nimport torch.nn as nn\n\nclass Twice(torch.autograd.Function):\n    @staticmethod\n"
        "    def forward(ctx, x):\n        ctx.mark_non_differentiable(x)\n        return x * 2\n\n    @staticmethod\n"
        "    def backward(ctx, g):\n        return g * 2 if ctx.needs_input_grad[0] else None\n\n"
        "class M(nn.Module):\n    def forward(self, x):\n        return Twice.apply(x)\n",
    )


@register
class TorchHooks(DiagnosticRule):
    code = "X008"
    name = "TorchHooks"
    summary = "register_forward_hook / _pre_hook / backward hooks / tensor.register_hook: not translated"
    doc = RuleDoc(
        what="`module.register_forward_hook(fn)` and the other module and tensor hooks, in `__init__` or `forward`.",
        why=(
            "A hook runs code the module's own methods do not show (it can replace the output).\n"
            "Flax modules have no hooks: what a hook computes belongs in `__call__`, and what it\n"
            "records can be collected with `self.sow` or `capture_intermediates`."
        ),
        example=Example(
            torch="self.fc.register_forward_hook(lambda m, i, o: o * 2)",
            flax="# TODO(torch2flax): X008 `.register_forward_hook()`: a hook changes what a module computes",
        ),
        fidelity="Not translated.",
    )
    flagged_examples = (
        "import torch.nn as nn\n\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.fc = nn.Linear(2, 2)\n        self.fc.register_forward_hook(lambda m, i, o: o * 2)\n\n"
        "    def forward(self, x):\n        return self.fc(x)\n",
        HEADER + "        x.register_hook(lambda g: g * 0)\n        return x\n",
    )


@register
class ModuleBehaviourHiddenFromTheBuiltModel(DiagnosticRule):
    code = "X009"
    name = "ModuleBehaviourHiddenFromTheBuiltModel"
    summary = "translating from the built model: a hook, a parametrization, an untraceable or frozen-random forward, an unprovable layer"
    doc = RuleDoc(
        what=(
            "When a model's source cannot be translated as written, it is translated from the built model\n"
            "(`translate --class`, `check`, `port`, `--build`): `__init__` rewritten from the instance and\n"
            "`forward` traced with torch.fx. This code reports what that cannot express: module hooks\n"
            "(`torch.nn.utils.weight_norm`'s is translated, rule L060), parametrizations of a layer with no\n"
            "functional form (those of nn.Linear/ConvNd are applied to the original tensor and the layer\n"
            "called as F.linear/F.convNd), control flow on tensor values, random draws whose arguments are\n"
            "constants, Python attributes forward changes (a call counter), a torch layer whose constructor\n"
            "call cannot be proved."
        ),
        why=(
            "A trace records the tensor program of one call. Hooks run outside the methods it reads; a\n"
            "branch on a tensor's value has no single program; `torch.randn(4)` with constant arguments\n"
            "would be frozen into one draw. Each would make a translation that is silently wrong, so the\n"
            "tool stops at the user's line instead."
        ),
        example=Example(
            torch="self.fc.register_forward_pre_hook(lambda module, args: (args[0] * 2,))",
            flax="# X009 `fc`: Linear has forward_pre_hooks: hooks are not translated (torch.nn.utils.weight_norm is, ...)",
        ),
        fidelity="Not translated.",
    )
    flagged_builds = (
        (
            "import torch\nimport torch.nn as nn\n\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
            "        self.fc = nn.Linear(4, 4)\n        self.fc.register_forward_pre_hook(lambda module, args: (args[0] * 2,))\n\n"
            "    def forward(self, x):\n        return self.fc(x)\n",
            "M()",
        ),
        (
            "import torch.nn as nn\nfrom torch.nn.utils import parametrize\n\nclass Twice(nn.Module):\n"
            "    def forward(self, w):\n        return w * 2\n\nclass M(nn.Module):\n    def __init__(self):\n"
            "        super().__init__()\n        self.emb = nn.Embedding(5, 4)\n"
            "        parametrize.register_parametrization(self.emb, 'weight', Twice())\n\n"
            "    def forward(self, x):\n        return self.emb(x)\n",
            "M()",
        ),
        (
            "import torch\nimport torch.nn as nn\n\nclass M(nn.Module):\n    def forward(self, x):\n"
            "        if x.sum() > 0:\n            return x\n        return -x\n",
            "M()",
        ),
        (
            "import torch\nimport torch.nn as nn\n\nclass M(nn.Module):\n    def forward(self, x):\n"
            "        return x + torch.randn(4)\n",
            "M()",
        ),
        (
            "import torch.nn as nn\n\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
            "        self.calls = 0\n\n    def forward(self, x):\n        self.calls += 1\n        return x * self.calls\n",
            "M()",
        ),
    )


@register
class TorchInt64Arithmetic(DiagnosticRule):
    code = "T053"
    name = "TorchInt64Arithmetic"
    summary = "tensor arithmetic with an integer constant >= 2**16: PyTorch's int64 vs JAX's int32 (a warning)"
    doc = RuleDoc(
        what="`tokens * 1000003 % buckets` and other tensor arithmetic with a large integer constant.",
        why=(
            "PyTorch's integer tensors are int64 by default; JAX's are int32 unless `jax_enable_x64` is on.\n"
            "A hashed bigram bucket `prev * 1000003 % buckets` wraps past 2**31 in JAX (token 4000: PyTorch\n"
            "bucket 0, JAX 704). The translator cannot always tell an integer tensor from a float one, so it\n"
            "warns at every such constant; on float tensors the warning can be ignored."
        ),
        example=Example(
            torch="bucket = prev * 1000003 % self.buckets",
            flax="# T053 `prev * 1000003`: ... JAX computes in int32 (x64 is off), so results past 2**31 wrap",
        ),
        fidelity="Translated as written, with a warning; enable x64 in JAX for int64 arithmetic.",
    )
    flagged_examples = (HEADER + "        return x * 1000003 % 1000\n",)
