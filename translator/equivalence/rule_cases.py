"""Turn a rule's :class:`~translator.rules.base.RuleCase` into a model, translate it, and compare.

This is the oracle behind every rule's generated property test: a one-layer
PyTorch model is written out, translated by the full pipeline, its weights are
ported by the rule's layout, and outputs and gradients are compared with the
single-layer tolerance (1e-5 norm-wise, PITFALLS.md section 3).

It also holds what the catalogue test needs besides: each rule's fixed explicit
case (a non-trivial draw made with a fixed seed), the constructs a case uses
(to check that every construct a rule claims is exercised), and the documented
example written out as a module, translated, and compared with the documented
Flax (and numerically, when it is complete).
"""

from __future__ import annotations

import ast
import builtins
import copy
import functools
import math
import pydoc
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path
from random import Random

import numpy as np
import torch
from hypothesis import HealthCheck, Phase, find, given, reject, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.errors import NoSuchExample

from translator.diagnostics import Diagnostic
from translator.equivalence.check import build_pair
from translator.equivalence.pair import Comparison
from translator.equivalence.specs import InputSpec
from translator.equivalence.tolerance import LAYER_RTOL, Tolerance
from translator.rewrite.pipeline import Translation, translate_source
from translator.rules.base import DiagnosticRule, Example, Rule, RuleCase

CASE_TEMPLATE = """\
import math
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

{prelude}

class Case(nn.Module):
    def __init__(self):
        super().__init__()
{init}

    def forward(self, x):
        return {forward}
"""

#: PITFALLS.md section 3's single layer/op policy, ``1e-5 * max|ref| + 1e-6``.  The absolute term is
#: one float32 step of an O(1) intermediate: a quantity far smaller than the operands it is computed
#: from (tanh's gradient 1 - y**2 where y is near 1, XLA's tanh 2 ulps off PyTorch's) carries that
#: rounding, which neither the float64 floor nor input nudges measure.
LAYER_TOLERANCE = Tolerance(rtol=LAYER_RTOL["float32"], atol=1e-6)


def case_source(case: RuleCase) -> str:
    init = f"self.layer = {case.init}" if case.init else "pass"
    return CASE_TEMPLATE.format(init=textwrap.indent(init, " " * 8), forward=case.forward, prelude=case.prelude)


def case_input(case: RuleCase, seed: int) -> np.ndarray:
    """A dense input for the case: see :func:`random_input`."""
    return random_input(case.input_dtype, case.input_shape, case.input_range, seed)


#: the input's random stream, apart from the output cotangent's (which ``seed`` alone draws): a
#: cotangent equal to the input makes a normalisation's input gradient exactly zero, i.e. pure noise
INPUT_STREAM = 1


def random_input(
    dtype: str, shape: tuple[int, ...], value_range: tuple[float, float] | None, seed: int, exact_zeros: bool = True
) -> np.ndarray:
    """Integers in ``value_range`` (default [0, 10)), or floats uniform in it or Gaussian, with exact zeros mixed in."""
    rng = np.random.default_rng([seed, INPUT_STREAM])
    if dtype.startswith("int"):
        low, high = value_range or (0, 10)
        return rng.integers(int(low), int(high), size=shape).astype(dtype)
    if value_range is not None:
        values = rng.uniform(*value_range, size=shape)
    else:
        values = rng.standard_normal(shape)
    if exact_zeros:
        values[rng.random(shape) < 0.1] = 0.0
    return values.astype(dtype)


def compare_case(case: RuleCase, seed: int = 0, tolerance: Tolerance = LAYER_TOLERANCE) -> Comparison:
    """Translate, port and run one case; raise AssertionError (with the source) if it differs."""
    int_range = case.input_range if case.input_dtype.startswith("int") else (None, None)
    spec = InputSpec(case.input_dtype, case.input_shape, *int_range)
    return compare_module(case_source(case), "Case", spec, case_input(case, seed), seed, case.train, tolerance, case.siblings)


def compare_module(
    source: str,
    class_name: str,
    spec: InputSpec,
    x: np.ndarray,
    seed: int = 0,
    train: bool = False,
    tolerance: Tolerance = LAYER_TOLERANCE,
    siblings: tuple[tuple[str, str], ...] = (),
) -> Comparison:
    """Translate, port and run ``class_name()`` of ``source`` on ``x``; raise AssertionError (with the source) if it differs."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "case.py"
        path.write_text(source)
        for name, sibling in siblings:
            (Path(tmp) / name).write_text(sibling)
        pair, _ = build_pair(path, class_name, [spec], seed=seed, train=train, tolerance=tolerance)
        pair.check_structure((x,))
        comparison = pair.compare_in_mode((x,), cotangent_seed=seed, state_seed=seed)  # trained-like state, as check
    failing = [q for q in ("output", "grad_input", "grad_params", "state") if not getattr(comparison, q).within(tolerance)]
    if comparison.uncompared:
        raise AssertionError(f"not compared: {'; '.join(comparison.uncompared)}\nPyTorch source:\n{source}")
    if comparison.unrecorded:
        raise AssertionError(f"PyTorch drew randomness check does not record\nPyTorch source:\n{source}")
    if failing:
        details = "; ".join(f"{q}: abs {getattr(comparison, q).max_abs:.3g}, rel {getattr(comparison, q).max_rel:.3g}" for q in failing)
        if currently_in_test_context() and all(getattr(comparison, q).inconclusive(tolerance) for q in failing):
            # A draw whose float32 floor alone exceeds the tolerance (LayerNorm over two elements:
            # its gradient is all cancellation) decides nothing either way; draw another.  A
            # failing element is never rejected, and explicit cases run outside Hypothesis.
            reject()
        raise AssertionError(f"{details}\nPyTorch source:\n{source}")
    return comparison


# --------------------------------------------------------------------------- drawn and explicit cases

#: the seed of the fixed draws (the explicit case is chosen from them, claims are looked for in them)
FIXED_SEED = 0
EXPLICIT_DRAWS = 30
#: input sizes (in elements) an explicit case is chosen among: past the one-element edge, still quick to run
EXPLICIT_SIZES = (16, 2048)


def drawn_cases(strategy: st.SearchStrategy, count: int, seed: int) -> list[RuleCase]:
    """``count`` draws of ``strategy`` (fewer if it has fewer values), the same ones for the same seed.

    The first draw is Hypothesis' simplest value (for most rules a one-element input) unless the
    strategy filters it out.
    """
    cases: list[RuleCase] = []

    @hypothesis_seed(seed)
    @settings(max_examples=count, database=None, deadline=None, phases=(Phase.generate,), suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(case):
        cases.append(case)

    collect()
    return cases


def case_size(case: RuleCase) -> int:
    """The number of elements of the case's input."""
    return math.prod(case.input_shape)


@functools.cache
def explicit_case(rule: Rule) -> RuleCase:
    """The rule's fixed, non-trivial case, compared on every run besides the drawn ones.

    Of :data:`EXPLICIT_DRAWS` draws with :data:`FIXED_SEED` but the first (Hypothesis' simplest,
    which every run tries anyway), the one that writes the most (constructor, call and helper
    code: non-default arguments, composed forms) among those with an input of
    :data:`EXPLICIT_SIZES` elements; the largest input breaks ties.  The simplest draw only
    for a strategy with a single value.
    """
    low, high = EXPLICIT_SIZES

    def richness(case: RuleCase) -> tuple[bool, int, int]:
        written = len(case.init or "") + len(case.forward) + len(case.prelude)
        return (low <= case_size(case) <= high, written, min(case_size(case), high))

    draws = drawn_cases(rule.cases(), EXPLICIT_DRAWS, FIXED_SEED)
    return max([case for case in draws if case != draws[0]] or draws, key=richness)


# --------------------------------------------------------------------------- claimed constructs


def claimed_constructs(rule: Rule) -> dict[str, str]:
    """What the rule claims to translate, as ``{claim: construct}``: a class or function by the
    qualified name of the object it denotes (aliases agree), a tensor method as ``.name``.

    Names this torch version does not have are left out, as the registry leaves them out.
    """
    claims = {}
    for name in (*rule.torch_classes, *rule.torch_functions):
        canonical = canonical_name(name)
        if canonical is not None:
            claims[name] = canonical
    claims.update({method: f".{method}" for method in rule.tensor_methods})
    return claims


#: the libraries whose names rules claim: only names from these are looked up (looking one up imports it)
CLAIMED_LIBRARIES = ("torch", "einops")


@functools.cache
def canonical_name(qualified_name: str) -> str | None:
    """One key per object (``torch.nn.modules.linear.Linear`` and ``torch.nn.Linear`` share it); None
    for a name outside :data:`CLAIMED_LIBRARIES` or one that does not exist."""
    if qualified_name.split(".")[0] not in CLAIMED_LIBRARIES:
        return None
    obj = pydoc.locate(qualified_name)
    return None if obj is None else f"object#{id(obj)}"


def constructs_in(source: str) -> set[str]:
    """What ``source`` uses that a rule can claim: each imported object it names (``nn.MaxPool3d``,
    ``F.max_pool3d``, ``torch.float16``), resolved through the file's imports to :func:`canonical_name`,
    and each attribute it takes of anything else (``x.view`` -> ``.view``)."""
    tree = ast.parse(source)
    imported = imported_names(tree)
    found = set()
    for node in ast.walk(tree):
        dotted = dotted_name(node)
        if dotted is not None and dotted.split(".")[0] in imported:
            head, _, rest = dotted.partition(".")
            canonical = canonical_name(".".join(filter(None, (imported[head], rest))))
            if canonical is not None:
                found.add(canonical)
        elif isinstance(node, ast.Attribute):
            found.add(f".{node.attr}")
    return found


def imported_names(tree: ast.Module) -> dict[str, str]:
    """Each name an absolute import binds, and the qualified name it stands for."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def dotted_name(node: ast.AST) -> str | None:
    """``a.b.c`` for a chain of attributes on a name, None for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(parts)])


def case_constructs(case: RuleCase) -> set[str]:
    """:func:`constructs_in` the case's model and the modules written next to it."""
    found = constructs_in(case_source(case))
    for _, sibling in case.siblings:
        found |= constructs_in(sibling)
    return found


#: how many cases are drawn (at most) to find each claimed construct in a rule's strategy
CLAIM_DRAWS = 1000


def unexercised_claims(rule: Rule, exercised: set[str]) -> list[str]:
    """The rule's claims that neither ``exercised`` nor any of :data:`CLAIM_DRAWS` drawn cases uses.

    Drawing stops as soon as every claim has been seen; the draws are the same on every run.
    """
    claims = claimed_constructs(rule)
    seen = set(exercised)

    def all_seen(case=None) -> bool:
        if case is not None:
            seen.update(case_constructs(case))
        return set(claims.values()) <= seen

    if not all_seen() and not isinstance(rule, DiagnosticRule):
        try:
            find(
                rule.cases(), all_seen, random=Random(FIXED_SEED),
                settings=settings(max_examples=CLAIM_DRAWS, database=None, deadline=None, phases=(Phase.generate,),
                                  suppress_health_check=list(HealthCheck)),
            )
        except NoSuchExample:
            pass
    return [claim for claim, construct in claims.items() if construct not in seen]


# --------------------------------------------------------------------------- documented examples

#: imports a documented PyTorch example may rely on; each is written only if the example uses its name
EXAMPLE_IMPORTS = {
    "math": "import math",
    "OrderedDict": "from collections import OrderedDict",
    **{name: f"from einops import {name}" for name in ("rearrange", "repeat", "reduce", "einsum", "pack", "unpack")},
    **{name: f"from einops.layers.torch import {name}" for name in ("Rearrange", "Reduce", "EinMix")},
}
EXAMPLE_HEADER = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
#: names an example's code may use without defining them
EXAMPLE_GLOBALS = frozenset({*dir(builtins), "torch", "nn", "F", "self", *EXAMPLE_IMPORTS})


@dataclass(frozen=True)
class DocumentedModule:
    """A rule's documented PyTorch example written out as a module file.

    A fragment (``self.fc1 = nn.Linear(784, 128)`` / ``y = self.fc1(x)``) becomes the
    ``Example`` class: statements that build the module go to ``__init__`` (names they
    use become its parameters), the others to ``forward`` (names they use become its
    inputs, the names the last one assigns its result); an example that only builds a
    layer calls it on ``x``.  An example that defines a class is written as it is.
    ``undefined``: the attributes of ``self`` the example uses but does not build (the
    translator reports them, X005).  ``runnable`` when ``Example()`` needs no arguments,
    ``forward`` one input and returns a value, and nothing is undefined: then the example
    is also run and compared.  The example's ``siblings`` are written next to the file.
    """

    example: Example
    source: str
    runnable: bool
    undefined: tuple[str, ...] = ()
    class_name: str = "Example"


def documented_module(example: Example) -> DocumentedModule:
    """:class:`DocumentedModule` of a rule's documented example (see there for the wrapping)."""
    torch_example = example.torch
    header = example_header(torch_example)
    statements = [s for s in ast.parse(torch_example).body if not is_ellipsis(s)]
    if any(isinstance(s, ast.ClassDef) for s in statements):
        return DocumentedModule(example, f"{header}\n\n{torch_example}", runnable=False)
    functions = [s for s in statements if isinstance(s, ast.FunctionDef) and not is_method(s)]
    methods = [s for s in statements if isinstance(s, ast.FunctionDef) and is_method(s)]
    body = [s for s in statements if not isinstance(s, ast.FunctionDef)]
    init = [s for s in body if builds_module(s)]
    forward = [s for s in body if not builds_module(s)]
    if not forward and not methods:
        layer = last_layer(init)
        forward = ast.parse(f"y = self.{layer}(x)" if layer else "y = x").body
    inputs = sorted(free_names(forward) or ["x"], key=lambda name: name != "x")  # the main input first
    results = result_names(forward[-1]) if forward else []
    if forward:
        methods.insert(0, method("forward", inputs, [*forward, *ast.parse(f"return {', '.join(results) or 'None'}").body]))
    init_arguments = free_names(init)
    methods.insert(0, method("__init__", init_arguments, [*ast.parse("super().__init__()").body, *init]))
    cls = ast.parse("class Example(nn.Module):\n    pass").body[0]
    cls.body = methods
    built = {a for s in init for a in self_targets(s)}
    used = {a for m in methods for s in m.body for a in self_attributes(s)}
    undefined = tuple(sorted(used - built - {"training"}))
    runnable = not init_arguments and len(inputs) == 1 and bool(results) and not undefined and not functions
    code = "\n\n\n".join(ast.unparse(node) for node in (*functions, cls))
    return DocumentedModule(example, f"{header}\n\n{code}\n", runnable, undefined)


def unexplained_errors(documented: DocumentedModule, translation: Translation) -> list[Diagnostic]:
    """The translation's errors other than those about attributes the example uses without building
    (X005 on ``self.fc1`` in ``torch.relu(self.fc1(x))``)."""
    return [
        d for d in translation.errors
        if not (d.code == "X005" and any(f"`self.{attribute}`" in d.message for attribute in documented.undefined))
    ]


def translate_documented(documented: DocumentedModule) -> Translation:
    """The translation of the documented example, as a file next to its siblings."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, sibling in documented.example.siblings:
            (Path(tmp) / name).write_text(sibling)
        path = Path(tmp) / "example.py"
        path.write_text(documented.source)
        return translate_source(documented.source, str(path))


def method(name: str, parameters: list[str], body: list[ast.stmt]) -> ast.FunctionDef:
    """``def name(self, *parameters): body``."""
    function = ast.parse(f"def {name}({', '.join(['self', *parameters])}):\n    pass").body[0]
    function.body = body
    return function


def example_header(torch_example: str) -> str:
    """The imports of :data:`EXAMPLE_HEADER` and those of :data:`EXAMPLE_IMPORTS` the example names."""
    names = {n.id for n in ast.walk(ast.parse(torch_example)) if isinstance(n, ast.Name)}
    return EXAMPLE_HEADER + "".join(f"{line}\n" for name, line in EXAMPLE_IMPORTS.items() if name in names)


def is_ellipsis(statement: ast.stmt) -> bool:
    """``...`` on a line of its own: a documented example's "code left out"."""
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant) and statement.value.value is Ellipsis


def is_method(function: ast.FunctionDef) -> bool:
    """A function whose first parameter is ``self``: a method of the example's class."""
    return bool(function.args.args) and function.args.args[0].arg == "self"


def builds_module(statement: ast.stmt) -> bool:
    """A constructor statement: it assigns to (an attribute of) ``self``, registers a buffer or
    parameter, initialises weights (``nn.init``), or binds a name to a new layer (``layer = nn.Linear(...)``)."""
    if self_targets(statement):
        return True
    calls = [dotted_name(n.func) or "" for n in ast.walk(statement) if isinstance(n, ast.Call)]
    if any(c.startswith(("self.register_", "nn.init.")) for c in calls):
        return True
    value = getattr(statement, "value", None)
    return isinstance(statement, ast.Assign) and isinstance(value, ast.Call) and is_layer_class(dotted_name(value.func) or "")


def self_targets(statement: ast.stmt) -> list[str]:
    """The attributes of ``self`` an assignment writes (``fc`` of ``self.fc = ...`` and of ``self.fc.weight = ...``)."""
    targets = statement.targets if isinstance(statement, ast.Assign) else [getattr(statement, "target", None)]
    attributes = []
    for target in filter(None, targets):
        node = target
        while isinstance(node, (ast.Attribute, ast.Subscript)):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
                attributes.append(node.attr)
            node = node.value
    return attributes


def self_attributes(statement: ast.stmt) -> list[str]:
    """The attributes of ``self`` the statement names, other than the ``register_*`` methods it calls."""
    called = {id(n.func) for n in ast.walk(statement) if isinstance(n, ast.Call)}
    return [
        n.attr for n in ast.walk(statement)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "self"
        and not (id(n) in called and n.attr.startswith("register_"))
    ]


def free_names(statements: list[ast.stmt]) -> list[str]:
    """Names the statements read before assigning them, other than :data:`EXAMPLE_GLOBALS`, in order."""
    assigned: set[str] = set()
    free: list[str] = []
    for statement in statements:
        for node in ast.walk(statement):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                if node.id not in assigned and node.id not in EXAMPLE_GLOBALS and node.id not in free:
                    free.append(node.id)
        assigned |= {n.id for n in ast.walk(statement) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return free


def last_layer(init: list[ast.stmt]) -> str | None:
    """The last attribute of ``self`` the constructor binds to a new ``nn`` layer (not a parameter), if any."""
    layers = [
        s.targets[0].attr for s in init
        if isinstance(s, ast.Assign) and isinstance(s.targets[0], ast.Attribute) and isinstance(s.value, ast.Call)
        and is_layer_class(dotted_name(s.value.func) or "")
    ]
    return layers[-1] if layers else None


def is_layer_class(name: str) -> bool:
    """``nn.Linear``, ``Reduce``: a name the example's imports bind to a ``torch.nn.Module`` subclass."""
    imported = imported_names(ast.parse(EXAMPLE_HEADER + "\n".join(EXAMPLE_IMPORTS.values())))
    head, _, rest = name.partition(".")
    obj = pydoc.locate(".".join(filter(None, (imported[head], rest)))) if head in imported else None
    return isinstance(obj, type) and issubclass(obj, torch.nn.Module)


def result_names(statement: ast.stmt) -> list[str]:
    """The names a statement leaves its result in: the roots of its targets (``out`` of
    ``out[:, 0] = 0.0``; ``out, h, c`` of ``out, (h, c) = ...``), of the last statement of a block."""
    if isinstance(statement, (ast.If, ast.With, ast.For)):
        return result_names(statement.body[-1])
    targets = statement.targets if isinstance(statement, ast.Assign) else [getattr(statement, "target", None)]
    names: list[str] = []
    for target in filter(None, targets):
        for root in target_roots(target):
            if root not in names and root != "self":
                names.append(root)
    return names


def target_roots(target: ast.expr) -> list[str]:
    """The names an assignment target writes to or into."""
    if isinstance(target, (ast.Tuple, ast.List)):
        return [root for element in target.elts for root in target_roots(element)]
    while isinstance(target, (ast.Subscript, ast.Attribute, ast.Starred)):
        target = target.value
    return [target.id] if isinstance(target, ast.Name) else []


def missing_statements(documented_flax: str, emitted: str) -> list[str]:
    """The documented Flax statements the translation does not contain, normalised by ``ast.unparse``.

    Comments are explanation and are not compared; ``...`` leaves code out.  The documented
    statements must appear in order among all statements of the emitted file (at any depth:
    ``setup`` lines, then ``__call__`` lines); a documented ``def``/``class``/``if`` matches
    one with the same header whose body contains the documented body in the same way.
    """
    emitted_statements = list(all_statements(ast.parse(emitted).body))
    missing, position = [], 0
    for statement in ast.parse(documented_flax).body:
        if is_ellipsis(statement):
            continue
        found = next((i for i in range(position, len(emitted_statements)) if same_statement(statement, emitted_statements[i])), None)
        if found is None:
            missing.append(ast.unparse(statement))
        else:
            position = found + 1
    return missing


def all_statements(statements: list[ast.stmt]):
    """Every statement, and those in its blocks, in source order."""
    for statement in statements:
        yield statement
        for block in BLOCKS:
            yield from all_statements(getattr(statement, block, None) or [])


BLOCKS = ("body", "orelse", "finalbody")


def same_statement(documented: ast.stmt, emitted: ast.stmt) -> bool:
    """Equal statements; for compound ones, an equal header and each documented block contained in
    the emitted one (in order, ``...`` skipped)."""
    if type(documented) is not type(emitted):
        return False
    if not any(hasattr(documented, block) and isinstance(getattr(documented, block), list) for block in BLOCKS):
        return ast.dump(documented) == ast.dump(emitted)
    if header_of(documented) != header_of(emitted):
        return False
    for block in BLOCKS:
        wanted = [s for s in getattr(documented, block, None) or [] if not is_ellipsis(s)]
        have = iter(getattr(emitted, block, None) or [])
        if not all(any(same_statement(w, h) for h in have) for w in wanted):
            return False
    return True


def header_of(statement: ast.stmt) -> str:
    """A compound statement without its blocks, as text (``def f(x):``, ``if train:``)."""
    bare = copy.copy(statement)
    for block in BLOCKS:
        if isinstance(getattr(bare, block, None), list):
            setattr(bare, block, [])
    if isinstance(bare, (ast.FunctionDef, ast.ClassDef)):
        bare.decorator_list = []
    return ast.dump(bare)


def documented_input(documented: DocumentedModule) -> InputSpec | None:
    """An input on which the runnable example computes floating-point tensors, found by trying
    shapes built from the sizes it writes; None if it runs on none (or returns something else).

    For 4, then each integer ``n`` in the example or product of an integer tuple (``(64, 7, 7)``), 1 last:
    float ``[2, n, 6, 6]``, ``[2, 4, n]``, ``[2, n, 6]``, ``[2, n]``, ``[2, n, 4, 4, 4]``, ``[n]``;
    then integers ``[2, 5]`` in ``[0, n)`` (indices).  The first one PyTorch runs on wins.
    """
    namespace: dict = {}
    exec(compile(documented.source, "<documented example>", "exec"), namespace)
    model = namespace[documented.class_name]().eval()
    for spec in candidate_inputs(documented.example.torch):
        try:
            with torch.no_grad():
                output = model(torch.from_numpy(documented_values(spec, seed=0)))
        except Exception:  # noqa: BLE001 - any failure means "not this input"
            continue
        return spec if computes_floats(output) else None
    return None


def candidate_inputs(torch_example: str) -> list[InputSpec]:
    """The inputs :func:`documented_input` tries, in order."""
    tree = ast.parse(torch_example)
    sizes = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and type(n.value) is int and 1 <= n.value <= 4096]
    products = [
        math.prod(e.value for e in n.elts) for n in ast.walk(tree)
        if isinstance(n, ast.Tuple) and n.elts and all(isinstance(e, ast.Constant) and type(e.value) is int for e in n.elts)
    ]
    sizes = list(dict.fromkeys([4, *sorted(sizes + products, key=lambda n: n == 1)]))  # 1 last: degenerate axes
    shapes = [shape for n in sizes for shape in ((2, n, 6, 6), (2, 4, n), (2, n, 6), (2, n), (2, n, 4, 4, 4), (n,))]
    return [InputSpec("float32", shape) for shape in shapes] + [InputSpec("int64", (2, 5), 0, n) for n in sizes]


def computes_floats(output) -> bool:
    """A tensor, or a tuple/list of them, at least one floating-point."""
    leaves = list(output) if isinstance(output, (tuple, list)) else [output]
    flat = [t for leaf in leaves for t in (leaf if isinstance(leaf, (tuple, list)) else [leaf])]
    return all(isinstance(t, torch.Tensor) for t in flat) and any(t.is_floating_point() for t in flat)


def documented_values(spec: InputSpec, seed: int) -> np.ndarray:
    """Values for a documented example: as a case's, without exact zeros (a documented example
    is not chosen for its kinks: ``sqrt(abs(x))`` has an infinite gradient at 0 in both frameworks)."""
    value_range = (spec.low, spec.high) if spec.low is not None else None
    return random_input(spec.dtype, spec.shape, value_range, seed, exact_zeros=False)


def compare_documented(documented: DocumentedModule, spec: InputSpec, seed: int = 0) -> Comparison:
    """Translate, port and run the documented example on an input of ``spec`` (see :func:`compare_module`)."""
    values = documented_values(spec, seed)
    return compare_module(documented.source, documented.class_name, spec, values, seed, siblings=documented.example.siblings)
