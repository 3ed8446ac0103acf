"""What a translation rule is.

A rule owns one PyTorch construct: the qualified names it matches, the Flax code
it emits, the weight layout it implies, the explanation it teaches, its
before/after examples, and the hyperparameter space its equivalence test draws
from.  Rules know nothing about the CLI or the checker; they talk to the
rewriter through the small context protocols defined here.

Three hooks, each optional:

* :meth:`Rule.build_layer` -- the rule matches a ``torch.nn`` module class and
  turns its constructor call (in ``__init__``) into a Flax constructor, plus a
  :class:`CallSpec` saying how a call of that layer handles tensor layout.
* :meth:`Rule.emit_call` -- the rule matches a function (``torch.relu``,
  ``F.max_pool2d``) or a tensor method (``x.view``) used in ``forward``.
* :meth:`Rule.weight_layout` -- the rule says how each tensor of the torch
  layer it translated maps to a Flax variable.
"""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import libcst as cst

if TYPE_CHECKING:
    import torch

    from translator.weights.layouts import LayoutTransform


# --------------------------------------------------------------------------- layout facts


@dataclass(frozen=True)
class Fact:
    """What the rewriter knows about a value in ``forward``.

    ``channels_last`` values hold the same data as the PyTorch tensor with the
    channel axis moved last (NCHW -> NHWC).  Everything else is *plain*: laid
    out exactly as in PyTorch.  Only rules produce channels-last values, and any
    construct not known to be layout-agnostic gets a plain value, so a missing
    rule can cost a transpose but never a silently wrong axis.
    """

    channels_last: bool = False
    rank: int | None = None
    scalar: bool = False  # a Python number (literal or shape entry): broadcasts with any layout
    #: a tuple whose items each have this layout (``a, b = conv_out.chunk(2, 1)`` split channels-last); only
    #: for the whole right-hand side of an assignment that unpacks it into names, which take the items' layout
    tuple_of: bool = False
    #: the rank of a *plain* value, where the code says it (``y.view(b, c, 1, 1)``): such a value can be moved
    #: channels-last to meet a channels-last operand of that rank (an SE block's gate), None when unknown
    ndim: int | None = None
    #: a plain value with axes of size 1 that broadcast (``y.view(b, c, 1, 1)``, ``v[:, :, None, None]``): smaller
    #: than the map it meets, so the one to move when the two layouts meet
    broadcasts: bool = False
    #: where ``ndim`` is unknown, a rank the value has at least (``v[:, :, None, None]`` of any ``v``: 4)
    least_ndim: int | None = None
    #: a channels-last value of unknown rank that has the rank of this ``forward`` parameter (``self.norm(x)``,
    #: a GroupNorm's output, then activations): a layer of rank r taking it says ``x`` has rank r
    rank_of: str | None = None


PLAIN = Fact()
SCALAR = Fact(scalar=True)


def channels_last(rank: int) -> Fact:
    return Fact(channels_last=True, rank=rank)


def plain_of_rank(ndim: int | None, broadcasts: bool = False, least_ndim: int | None = None) -> Fact:
    """A value in PyTorch's layout whose rank is known (or not: at least ``least_ndim``, or ``PLAIN``), and
    whether it has axes of size 1."""
    if ndim is None:
        return PLAIN if least_ndim is None else Fact(broadcasts=broadcasts, least_ndim=least_ndim)
    return Fact(ndim=ndim, broadcasts=broadcasts)


def to_channels_last_perm(rank: int) -> tuple[int, ...]:
    """Rank ``None`` (unknown) is handled by the caller with ``jnp.moveaxis(x, 1, -1)``."""
    """``(0, 2, 3, 1)`` for rank 4: N C *S -> N *S C."""
    return (0, *range(2, rank), 1)


def to_channels_first_perm(rank: int) -> tuple[int, ...]:
    """``(0, 3, 1, 2)`` for rank 4: N *S C -> N C *S."""
    return (0, rank - 1, *range(1, rank - 1))


def torch_dim_to_channels_last_axis(dim: int, rank: int) -> int:
    """Where PyTorch's axis ``dim`` lives in the channels-last array (rank must be known)."""
    dim = dim % rank
    return to_channels_last_perm(rank).index(dim)


# --------------------------------------------------------------------------- layer call sites

LayoutNeed = Literal["plain", "channels_last", "any"]


@dataclass(frozen=True)
class CallSpec:
    """How a call of a translated layer treats layout and mode.

    ``accepts``: the layout its input must have (``any`` for elementwise layers).
    ``rank``: the input rank the layer is defined for (needed to transpose).
    ``produces``: the layout of its output; ``same`` keeps the input's.
    ``train_kwarg``: for layers whose behaviour depends on ``train``, the Flax
    keyword and whether it is ``train`` or ``not train`` (``deterministic``).
    """

    accepts: LayoutNeed = "plain"
    rank: int | None = None
    produces: Literal["plain", "channels_last", "same"] = "plain"
    train_kwarg: tuple[str, bool] | None = None  # (keyword, negate)
    #: a plain output of the input's rank (a Linear maps the last axis): the rank is known where the input's is
    keeps_rank: bool = False


@dataclass(frozen=True)
class LayerBuild:
    """The Flax side of one layer: its constructor expression and call behaviour.

    A stateless layer with no Flax object (``nn.Flatten``) has ``flax_expr=None``
    and an ``inline`` function: its ``setup`` line disappears and each call
    ``self.flatten(x)`` becomes ``inline(ctx)`` where ``ctx`` binds ``input``.
    """

    flax_expr: cst.BaseExpression | None
    call: CallSpec
    notes: tuple[str, ...] = ()
    inline: Callable[[CallContext], Emitted] | None = None
    #: wraps each call ``self.<attr>(x)``: receives the context (``input`` bound) and the call expression
    wrap_call: Callable[[CallContext, cst.BaseExpression], Emitted] | None = None
    #: definitions the emitted code needs (name -> source), written once at the end of the file
    support: tuple[tuple[str, str], ...] = ()


# --------------------------------------------------------------------------- training: optimizers and schedules


@dataclass(frozen=True)
class OptimizerBuild:
    """The optax side of one ``torch.optim`` optimizer: an ``optax.GradientTransformation`` expression
    that applies the learning rate it was built with (``optax.adam(lr, ...)``, ``optax.chain(...)``).

    ``support``: definitions the expression needs (name -> source), written once at the end of the file.
    """

    transform: cst.BaseExpression
    notes: tuple[str, ...] = ()
    support: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ScheduleBuild:
    """The optax side of one ``torch.optim.lr_scheduler`` scheduler.

    ``schedule``: an optax schedule (update count -> learning rate) that replaces the optimizer's learning
    rate, or None for a scheduler that is a transformation instead: ``transform`` is then chained after
    the optimizer (``optax.contrib.reduce_on_plateau``) and ``needs_value`` says its update call must
    pass ``value=loss``. ``momentum``: a schedule of the optimizer's momentum (SGD's momentum, Adam's
    beta1) where the scheduler cycles it too (OneCycleLR).
    """

    schedule: cst.BaseExpression | None
    transform: cst.BaseExpression | None = None
    needs_value: bool = False
    momentum: cst.BaseExpression | None = None
    notes: tuple[str, ...] = ()
    support: tuple[tuple[str, str], ...] = ()


# --------------------------------------------------------------------------- documentation


@dataclass(frozen=True)
class Example:
    """A before/after pair: the PyTorch line(s) and the Flax line(s) a rule turns them into.

    The catalogue test translates ``torch`` (a fragment is wrapped in a module) and checks that
    the statements of ``flax`` appear in the translation; comments are not compared, ``...``
    leaves code out.
    """

    torch: str
    flax: str
    #: other modules the example imports, as (file name, source): written next to it when checked
    siblings: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RuleDoc:
    """The explanation a rule teaches, in ruff's sections (adapted)."""

    what: str
    why: str
    example: Example
    fidelity: str

    def render(self, code: str, name: str, summary: str) -> str:
        return "\n".join(
            [
                f"{code} {name}: {summary}",
                "",
                "What it translates",
                textwrap.indent(self.what.strip(), "  "),
                "",
                "Why JAX differs",
                textwrap.indent(self.why.strip(), "  "),
                "",
                "Example",
                "  PyTorch:",
                textwrap.indent(self.example.torch.strip(), "    "),
                "  Flax:",
                textwrap.indent(self.example.flax.strip(), "    "),
                "",
                "Fidelity",
                textwrap.indent(self.fidelity.strip(), "  "),
            ]
        )


# --------------------------------------------------------------------------- equivalence cases


@dataclass(frozen=True)
class RuleCase:
    """One configuration of a rule's construct, for the generated equivalence test.

    ``init`` is the layer's constructor expression (``nn.Linear(4, 3)``) or None
    for a function rule; ``forward`` is the body of ``forward(self, x)`` as an
    expression where ``self.layer`` is the layer and ``x`` the input.
    """

    init: str | None
    forward: str
    input_shape: tuple[int, ...]
    input_dtype: str = "float32"
    input_range: tuple[float, float] | None = None
    train: bool = False
    #: module-level code placed before the model class (helper functions the case uses)
    prelude: str = ""
    #: other modules written next to the case file, as (file name, source): imported by the prelude
    siblings: tuple[tuple[str, str], ...] = ()


# --------------------------------------------------------------------------- contexts (implemented by the rewriter)


class BuildContext:
    """What a rule may ask while translating a layer constructor."""

    def literal(self, name: str) -> Any:  # pragma: no cover - protocol
        """The Python value of a bound argument, or raise :class:`NotLiteral`."""
        raise NotImplementedError

    def expr(self, name: str) -> cst.BaseExpression:  # pragma: no cover - protocol
        raise NotImplementedError

    def is_default(self, name: str) -> bool:  # pragma: no cover - protocol
        raise NotImplementedError

    def unsupported(self, message: str) -> None:  # pragma: no cover - protocol
        """Report an argument value the rule cannot translate (exit code 1, TODO in output)."""
        raise NotImplementedError


class CallContext(BuildContext):
    """What a rule may ask while translating a call in ``forward``."""

    def fact(self, name: str) -> Fact:  # pragma: no cover - protocol
        raise NotImplementedError

    def plain(self, name: str) -> cst.BaseExpression:  # pragma: no cover - protocol
        """The bound argument converted to PyTorch's layout (a transpose if needed)."""
        raise NotImplementedError

    def channels_last(self, name: str, rank: int) -> cst.BaseExpression:  # pragma: no cover
        """The bound argument converted to channels-last layout of the given rank."""
        raise NotImplementedError

    def note(self, text: str) -> None:  # pragma: no cover - protocol
        raise NotImplementedError

    def support(self, name: str, source: str) -> None:  # pragma: no cover - protocol
        """Ask for a definition (a support module or function) to be emitted once in the file."""
        raise NotImplementedError


class NotLiteral(Exception):
    """A bound argument is an expression, not a constant the rule can read."""


@dataclass(frozen=True)
class Emitted:
    """A translated expression and what is known about its value."""

    expr: cst.BaseExpression
    fact: Fact = PLAIN


# --------------------------------------------------------------------------- the rule


class Rule:
    """Base class of every translation rule; subclasses fill the class variables and hooks."""

    code: ClassVar[str]
    name: ClassVar[str]
    summary: ClassVar[str]
    doc: ClassVar[RuleDoc]

    #: qualified names of ``torch.nn`` module classes this rule translates
    torch_classes: ClassVar[tuple[str, ...]] = ()
    #: qualified names of functions this rule translates in ``forward``
    torch_functions: ClassVar[tuple[str, ...]] = ()
    #: tensor method names this rule translates (``view`` in ``x.view(...)``)
    tensor_methods: ClassVar[tuple[str, ...]] = ()
    #: the PyTorch signature used to bind function/method arguments (receiver first)
    call_signature: ClassVar[inspect.Signature | None] = None
    #: the constructor signature, where the torch class's own is ``(*args, **kwargs)`` (nn.LSTM)
    constructor_signature: ClassVar[inspect.Signature | None] = None
    #: constructor arguments that hold tensors (a loss's class ``weight=torch.tensor([...])``): the
    #: rewriter translates each as forward code (``jnp.asarray([...])``) before ``build_layer`` reads it
    tensor_arguments: ClassVar[tuple[str, ...]] = ()
    #: qualified names of ``torch.optim`` optimizer classes this rule translates (training scripts)
    torch_optimizers: ClassVar[tuple[str, ...]] = ()
    #: qualified names of ``torch.optim.lr_scheduler`` classes this rule translates (training scripts)
    torch_schedulers: ClassVar[tuple[str, ...]] = ()

    #: examples that must translate to themselves-unchanged or be left alone
    no_op_examples: ClassVar[tuple[str, ...]] = ()
    #: PyTorch sources that must produce this rule's code: for a translating rule, the claimed
    #: constructs it reports instead of translating (``torch.randint``); see :class:`DiagnosticRule`
    flagged_examples: ClassVar[tuple[str, ...]] = ()
    #: (PyTorch source, ``--build`` expression) pairs whose *built* model must produce this code when
    #: translated from the instance (``translator.instance``)
    flagged_builds: ClassVar[tuple[tuple[str, str], ...]] = ()

    def build_layer(self, ctx: BuildContext) -> LayerBuild:  # pragma: no cover - hook
        raise NotImplementedError(f"{self.code} translates no layer")

    def emit_call(self, ctx: CallContext) -> Emitted:  # pragma: no cover - hook
        raise NotImplementedError(f"{self.code} translates no call")

    def build_optimizer(
        self, ctx: BuildContext, learning_rate: cst.BaseExpression, momentum: cst.BaseExpression | None = None
    ) -> OptimizerBuild:  # pragma: no cover - hook
        """The optax transformation for the optimizer call bound in ``ctx``, applying ``learning_rate`` (the
        torch ``lr`` or a schedule replacing it) and, where given, ``momentum`` (a schedule of it)."""
        raise NotImplementedError(f"{self.code} translates no optimizer")

    def build_schedule(
        self, ctx: BuildContext, base_learning_rate: cst.BaseExpression, steps_per_epoch: cst.BaseExpression | None
    ) -> ScheduleBuild:  # pragma: no cover - hook
        """The optax schedule for the scheduler call bound in ``ctx``: ``steps_per_epoch`` updates per
        ``scheduler.step()`` (None: stepped once per update)."""
        raise NotImplementedError(f"{self.code} translates no scheduler")

    def weight_layout(self, module: torch.nn.Module) -> list[TensorMapping]:
        """How each tensor of ``module`` (a layer this rule translated) ports; none by default."""
        return []

    def cases(self):  # pragma: no cover - hook
        """A Hypothesis strategy of :class:`RuleCase` for this rule's equivalence test."""
        raise NotImplementedError

    def explain(self) -> str:
        return self.doc.render(self.code, self.name, self.summary)


@dataclass(frozen=True)
class TensorMapping:
    """One tensor of a torch layer and the Flax variable it becomes.

    ``torch_name`` is relative to the layer (``weight``); ``flax_path`` is the
    (collection, *names) relative to the Flax layer (``("params", "kernel")``).
    """

    torch_name: str
    flax_path: tuple[str, ...]
    transform: LayoutTransform
    persistent: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def signature_of(stub) -> inspect.Signature:
    """The signature of a stub function, for binding a call's arguments by name."""
    return inspect.signature(stub)


class DiagnosticRule(Rule):
    """A rule whose job is to *flag* a construct: it owns a diagnostic code and no translation.

    ``flagged_examples`` (at least one) are PyTorch sources that must produce this code; the
    generated test checks each one.
    """
