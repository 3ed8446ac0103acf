"""Translate a model from its built instance: the fallback when its source cannot be read as written.

:func:`build_model` builds the user's model (``--class NAME --kwargs JSON``, or ``--build EXPR``
evaluated in the source file's namespace, for constructors that take modules or config objects).
:func:`translate_built` regenerates its source from the instance
(:mod:`~translator.instance.regenerate`), translates that with the rule catalogue, and reports
in the user's terms: diagnostics point at the user's file and line (the traced op's origin, or
the class), and the output's docstring says which methods were traced and what was fixed.

:func:`promote_constants` makes the built model's constants (tensors computed in ``__init__``
that the state dict does not hold) part of its state dict, so ``check`` and ``port`` carry them
to the translation like any buffer.
"""

from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from translator.diagnostics import Diagnostic, NoModelClass, UsageError
from translator.instance.regenerate import Regenerated, regenerate
from translator.loading import class_from, import_for_class, instantiate
from translator.rewrite.local_imports import errors_affecting
from translator.rewrite.pipeline import Translation, translate_source
from translator.rules.unsupported.constructs import ModuleBehaviourHiddenFromTheBuiltModel

#: the diagnostic for a part of the built model the instance translation cannot express
UNEXPRESSIBLE = ModuleBehaviourHiddenFromTheBuiltModel.code


@dataclass
class BuiltTranslation:
    """The translation of a built model, and its regenerated source."""

    translation: Translation
    regenerated: Regenerated


def build_model(path: str | Path, class_name: str | None, kwargs: dict | None = None, build: str | None = None) -> nn.Module:
    """The user's model, built as ``check`` builds it (``build`` is a Python expression, e.g.
    ``LoRALinear(nn.Linear(16, 8), rank=4)``, evaluated in the file's namespace)."""
    if build is None:
        if class_name is None:
            raise UsageError("building the model needs --class NAME (or --build EXPR)")
        cls = class_from(import_for_class(path, {class_name}), class_name, str(path))
        return instantiate(cls, kwargs or {}, str(path))
    try:
        tree = ast.parse(build, mode="eval")
    except SyntaxError as error:
        raise UsageError(f"--build: not a Python expression: {build!r} ({error.msg})") from None
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    module = import_for_class(path, names & defined_names(path) or names)
    try:
        model = eval(compile(tree, "<--build>", "eval"), vars(module))  # the user's own expression
    except Exception as error:
        raise UsageError(f"--build {build!r} failed: {type(error).__name__}: {error}") from None
    if not isinstance(model, nn.Module):
        raise UsageError(f"--build {build!r} gives a {type(model).__name__}, not an nn.Module")
    return model


def defined_names(path: str | Path) -> set[str]:
    """Names the file binds at its top level (what ``--build`` may refer to)."""
    tree = ast.parse(Path(path).read_text())
    names = set()
    for statement in tree.body:
        if isinstance(statement, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(statement.name)
        elif isinstance(statement, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in statement.names}
        elif isinstance(statement, ast.Assign):
            names |= {t.id for t in statement.targets if isinstance(t, ast.Name)}
    return names


def translate_built(model: nn.Module, path: str, notes: bool = True, inputs: int | None = None,
                    examples: tuple | None = None) -> BuiltTranslation:
    """Translate ``model`` from its instance; diagnostics located in the user's ``path``.  ``examples``
    (tensors the model runs on) let traced decisions on ranks and dtypes read real values."""
    if inputs is None and examples is not None:
        inputs = len(examples)
    regenerated = regenerate(model, inputs, examples)
    translation = translate_source(regenerated.source, path, notes=notes, buffer_values=False)
    if translation.errors and regenerated.rerolled:  # a loop written back that the rules cannot run: unrolled
        unrolled = regenerate(model, inputs, examples, reroll=False)
        plain = translate_source(unrolled.source, path, notes=notes, buffer_values=False)
        if len(plain.errors) < len(translation.errors):
            regenerated, translation = unrolled, plain
    class_lines = class_locations(model)
    diagnostics = [locate(d, regenerated, class_lines, path) for d in translation.diagnostics]
    diagnostics += [
        Diagnostic(UNEXPRESSIBLE, f"`{problem.path or regenerated.root}`: {problem.message}",
                   *(problem.location or where_built(model, problem.path) or (path, class_lines.get(regenerated.root, 1))), 1)
        for problem in regenerated.problems
    ]
    code = with_provenance(translation.code, regenerated, notes)
    return BuiltTranslation(replace(translation, code=code, diagnostics=tuple(diagnostics)), regenerated)


def where_built(model: nn.Module, path: str) -> tuple[str, int] | None:
    """The line of the owner's ``__init__`` that assigns ``self.<name>`` for the module at ``path``."""
    owner_path, _, name = path.rpartition(".")
    try:
        owner = model.get_submodule(owner_path)
        lines, first = inspect.getsourcelines(type(owner).__init__)
        file = inspect.getsourcefile(type(owner).__init__)
    except (AttributeError, OSError, TypeError):
        return None
    for offset, line in enumerate(lines):
        if f"self.{name} =" in line or f"self.{name}=" in line:
            return file, first + offset
    return None


def class_locations(model: nn.Module) -> dict[str, int]:
    """The line of each user class's definition, by class name."""
    lines = {}
    for module in model.modules():
        cls = type(module)
        try:
            lines.setdefault(cls.__name__, inspect.getsourcelines(cls)[1])
        except (OSError, TypeError):
            continue
    return lines


def locate(diagnostic: Diagnostic, regenerated: Regenerated, class_lines: dict[str, int], path: str) -> Diagnostic:
    """A diagnostic on the regenerated source, moved to the user's line it came from."""
    origin = regenerated.origins.get(diagnostic.line)
    if origin is not None:
        return replace(diagnostic, path=origin[0], line=origin[1], column=1,
                       message=f"{diagnostic.message} (in a traced forward)")
    owner = owning_class(regenerated.source, diagnostic.line)
    base = owner.rsplit("_", 1)[0] if owner and owner not in class_lines else owner
    return replace(diagnostic, path=path, line=class_lines.get(base or "", 1), column=1,
                   message=f"{diagnostic.message} (in the built `{owner or regenerated.root}`)")


def owning_class(source: str, line: int) -> str | None:
    owner = None
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef) and node.lineno <= line:
            owner = node.name
    return owner


def with_provenance(code: str, regenerated: Regenerated, notes: bool) -> str:
    """The translation's docstring, extended with how it was made."""
    traced = ", ".join(regenerated.traced) or "none"
    lines = [
        f"Translated from the built `{regenerated.root}`: its source cannot be read as written, so each module's",
        "`__init__` was rewritten from the instance (layers by their proved constructor call) and its",
        f"forward traced with torch.fx on it (submodules kept as calls). Traced: {traced}.",
    ]
    for method, fixed in regenerated.fixed.items():
        lines.append(f"{method} traced with {', '.join(f'{k}={v!r}' for k, v in fixed.items())} (no caller passes them, "
                     "or every caller passes that constant).")
    for method, decisions in regenerated.decisions.items():
        lines.append(f"{method}: decided on metadata when traced (inputs of other ranks, dtypes or devices may need "
                     f"another trace): {'; '.join(decisions)}.")
    if regenerated.not_run:
        lines.append(f"Not run on the example inputs, so not traced (they raise if called): {', '.join(regenerated.not_run)}.")
    if regenerated.by_mode:
        lines.append(f"Branching on train/eval mode: {', '.join(regenerated.by_mode)}.")
    if regenerated.constants:
        lines.append(f"Constants computed in __init__, held as buffers and ported: {', '.join(regenerated.constants)}.")
    marker = '"""Flax (linen) translation of '
    start = code.index(marker)
    end = code.index("\n", start)
    return code[:end] + "\n\n" + "\n".join(lines) + code[end:]


def promote_constants(model: nn.Module, constants: dict[str, np.ndarray]) -> None:
    """Register each constant as a persistent buffer of ``model`` (same value; forward unchanged)."""
    for key in constants:
        owner_path, _, name = key.rpartition(".")
        owner = model.get_submodule(owner_path) if owner_path else model
        value = getattr(owner, name)
        if name in owner._buffers:
            owner._non_persistent_buffers_set.discard(name)
            continue
        if name in vars(owner):
            delattr(owner, name)
        owner.register_buffer(name, value if isinstance(value, torch.Tensor) else torch.as_tensor(constants[key]))


#: the last few source translations, by (text, path, notes): checking each class of a large file
#: (a trial, an explain page) translates the file once, not once per class
_SOURCE_TRANSLATIONS: dict[tuple[str, str, bool], Translation] = {}


def source_translation(text: str, path: str, notes: bool) -> Translation:
    key = (text, path, notes)
    if key not in _SOURCE_TRANSLATIONS:
        if len(_SOURCE_TRANSLATIONS) >= 4:
            _SOURCE_TRANSLATIONS.pop(next(iter(_SOURCE_TRANSLATIONS)))
        _SOURCE_TRANSLATIONS[key] = translate_source(text, path, notes=notes)
    return _SOURCE_TRANSLATIONS[key]


@dataclass
class ModelTranslation:
    """The translation of one model: from source when it reads as written, else from the built model."""

    translation: Translation
    built: BuiltTranslation | None = None
    #: the source translation's errors that sent it to the built model
    source_errors: tuple[Diagnostic, ...] = ()
    #: the built model the translation came from (its constants promoted to persistent buffers)
    model: nn.Module | None = None

    @property
    def traced(self) -> list[str]:
        return list(self.built.regenerated.traced) if self.built else []


def translate_model(path: str | Path, class_name: str, model: nn.Module | None = None, kwargs: dict | None = None,
                    build: str | None = None, notes: bool = True, inputs: int | None = None,
                    examples: tuple | None = None) -> ModelTranslation:
    """Source translation first; the built model's (``model``, or built here) when the source's
    errors affect ``class_name``, or always with ``build`` (a constructor the source cannot express).
    ``inputs``: how many tensors the model is called with (``check``'s specs); the built model's
    ``forward`` keeps that many arguments (default: those without a default value).  ``examples``:
    tensors of those shapes, for the trace's decisions on metadata (default: only the device is known)."""
    try:
        source = source_translation(Path(path).read_text(), str(path), notes)
    except NoModelClass:  # every class subclasses a torch layer (FP32LayerNorm(nn.LayerNorm)): the built model may do
        source = Translation("", (), ())
    if build is None and class_name in source.classes:
        blocking = tuple(errors_affecting(source.errors, class_name, Path(path)))
        if not blocking:
            return ModelTranslation(source)
    else:  # --build, or a class the source translation does not hold (a subclass of a torch layer)
        blocking = tuple(source.errors)
    if model is None:
        model = build_model(path, class_name, kwargs, build)  # a class that is not there: UsageError
    built = translate_built(model, str(path), notes=notes, inputs=inputs if examples is None else len(examples),
                            examples=examples)
    return ModelTranslation(built.translation, built, blocking, model)
