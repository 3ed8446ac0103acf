"""The batch a model takes, found by building it and probing (for placeholder loaders, rule S020).

A training script whose loader is a placeholder (``train_loader = ...``) says nothing about its data.
The model does: its first layer fixes the input's trailing size (``nn.Linear(784, ...)``), or its channels
with the spatial size left to find (``nn.Conv2d(1, ...)``: a forward pass that runs says which sizes fit),
and its output with the loss fixes the target (class indices for a cross-entropy, the output's shape
for a regression loss). :func:`probe_batch` builds the model from the file (only the statements it
needs run) with the script's literal constructor arguments, and returns the specs, or None when it
cannot tell; the caller then leaves the placeholder with its warning.
"""

from __future__ import annotations

import ast
import contextlib
import io

import libcst as cst

from translator.equivalence.specs import InputSpec

BATCH = 32
#: spatial sizes tried for a convolutional model, most common first
SPATIAL_SIZES = (28, 32, 8, 16, 64, 224, 12, 14, 7, 4)
SEQUENCE = 16
CLASS_LOSSES = ("CrossEntropyLoss", "NLLLoss")


def literal_arguments(call: cst.Call) -> tuple[list, dict] | None:
    """The constructor call's arguments as Python values (None when one is not a literal)."""
    args, kwargs = [], {}
    for arg in call.args:
        if arg.star:
            return None
        try:
            value = ast.literal_eval(cst.Module([]).code_for_node(arg.value).strip())
        except (ValueError, SyntaxError):
            return None
        if arg.keyword is None:
            args.append(value)
        else:
            kwargs[arg.keyword.value] = value
    return args, kwargs


def probe_batch(path: str, class_name: str, call: cst.Call, criterion: str | None) -> tuple[InputSpec, InputSpec | None] | None:
    """(input spec, target spec or None) of one batch of ``BATCH`` examples for the model built by ``call``."""
    arguments = literal_arguments(call)
    if arguments is None:
        return None
    try:
        import torch

        from translator.loading import import_for_class

        with contextlib.redirect_stdout(io.StringIO()):
            module = import_for_class(path, [class_name])
            model = getattr(module, class_name)(*arguments[0], **arguments[1]).eval()
    except Exception:  # the model cannot be built here: the placeholder stays, with its warning
        return None
    for example in candidate_inputs(model):
        try:
            with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
                output = model(example)
        except Exception:
            continue
        if not isinstance(output, torch.Tensor):
            return None
        spec = InputSpec(str(example.dtype).removeprefix("torch."), tuple(example.shape),
                         *((0, int(example.max()) + 1) if not example.is_floating_point() else ()))
        return spec, target_spec(output, criterion)
    return None


def candidate_inputs(model):
    """Inputs to try, from the first layer with parameters."""
    import torch

    first = next((m for m in model.modules() if list(m.parameters(recurse=False))), None)
    if isinstance(first, torch.nn.Linear):
        yield torch.zeros(BATCH, first.in_features)
    elif isinstance(first, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)):
        rank = {torch.nn.Conv1d: 1, torch.nn.Conv2d: 2, torch.nn.Conv3d: 3}[type(first)]
        for size in SPATIAL_SIZES:
            yield torch.zeros(BATCH, first.in_channels, *([size] * rank))
    elif isinstance(first, torch.nn.Embedding):
        yield torch.randint(0, first.num_embeddings, (BATCH, SEQUENCE))
    elif isinstance(first, torch.nn.RNNBase):
        shape = (BATCH, SEQUENCE, first.input_size) if first.batch_first else (SEQUENCE, BATCH, first.input_size)
        yield torch.zeros(*shape)


def target_spec(output, criterion: str | None) -> InputSpec | None:
    if criterion is None:
        return None
    name = criterion.rsplit(".", 1)[-1]
    if name in CLASS_LOSSES and output.ndim >= 2:
        return InputSpec("int64", (output.shape[0], *output.shape[2:]), 0, int(output.shape[1]))
    return InputSpec("float32", tuple(output.shape))
