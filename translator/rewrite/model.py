"""What the rewriter knows about the user's classes while translating them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from translator.rules.base import CallContext, CallSpec, Emitted, Rule


@dataclass
class LayerAttr:
    """A ``self.<name>`` attribute built from a torch layer by ``rule``."""

    rule: Rule
    call: CallSpec
    inline: Callable[[CallContext], Emitted] | None = None  # stateless layers with no Flax object
    wrap_call: Callable | None = None  # code around each call (e.g. a padding mask)
    #: built with ``inplace=True`` (or an inplace flag not known statically): a call writes into its input
    in_place: bool = False
    #: a call may return its input's memory (in place, identity, dropout in eval mode)
    aliases_input: bool = False
    #: the Flax class its setup expression builds (``"nn.Dropout"``), ``""`` for a function (``nn.relu``,
    #: a lambda, a ``partial``), None when unknown: how the shared Sequential runner tells layers apart
    runner_key: str | None = None
    #: its setup expression (``nn.Dense(3 * self.n_embd)``): what rules may read of its sizes
    built: object = None


@dataclass(frozen=True)
class UserModuleRef:
    """An element that is an instance of a user class translated from the same file."""

    class_name: str


@dataclass
class ContainerAttr:
    """An ``nn.Sequential`` / ``nn.ModuleList`` / ``nn.ModuleDict`` attribute.

    ``elements`` maps each index (or key) to what it holds; it is None when the
    container is built at run time (``nn.Sequential(*layers)``), and then
    ``kinds`` lists what its elements may be.
    """

    kind: str  # "sequential" | "list" | "dict"
    elements: dict[object, object] | None
    kinds: tuple = ()
    #: Sequentials assigned in different branches of __init__, told apart at run time by length
    variants: tuple = ()
    #: the PyTorch expression that built it (a written-out list, ``nn.Sequential(nn.Conv2d(8, 8, 3), ...)``):
    #: two containers written alike hold the same layers, so one call runs either
    source: str | None = None


@dataclass
class ClassInfo:
    """One user ``nn.Module`` subclass being translated."""

    name: str
    fields: list[str] = field(default_factory=list)
    layers: dict[str, LayerAttr] = field(default_factory=dict)
    #: attribute name -> user class name, for submodules defined in this file
    submodules: dict[str, str] = field(default_factory=dict)
    #: attribute name -> container (Sequential, ModuleList, ModuleDict)
    containers: dict[str, ContainerAttr] = field(default_factory=dict)
    #: methods the translation adds (a Sequential's chain of calls), by name
    generated: dict[str, object] = field(default_factory=dict)
    #: Sequentials run whole by the file's shared runner (no method of their own), by their method's name
    inline_chains: dict[str, object] = field(default_factory=dict)
    #: Sequentials called as container elements (id of their ContainerAttr) -> the name of their method (``_run_<name>``)
    element_sequentials: dict[int, str] = field(default_factory=dict)
    #: every assignment of each attribute in __init__ (branches included): name -> what each assigned
    assignments: dict[str, list] = field(default_factory=dict)
    #: layer attributes renamed `name_` because a constructor parameter has their name
    renamed: set[str] = field(default_factory=set)
    #: attributes assigned in __init__ that hold no module we can name (values, or unknown objects)
    opaque: set[str] = field(default_factory=set)
    #: attributes that are ``nn.Identity()`` in some branch of __init__ and a module in another: ``None``
    #: in setup for the identity, and every call checks which one it is
    identity_optional: set[str] = field(default_factory=set)
    #: methods only passed to ``self.apply`` in __init__ to initialise weights (left out, rule S017)
    initialisation_methods: set[str] = field(default_factory=set)
    #: attributes assigned a torch function in __init__ (``self.act = F.gelu``) -> that reference
    function_attributes: dict[str, object] = field(default_factory=dict)
    #: fields that hold a module passed to the constructor -> the classes it may be (rule S016)
    module_fields: dict[str, tuple] = field(default_factory=dict)
    #: attributes holding tensors (parameters, buffers), plain layout
    tensors: set[str] = field(default_factory=set)
    #: persistent buffers the translation computes in setup (constants): the port checks, not stores, them
    constant_buffers: set[str] = field(default_factory=set)
    methods: set[str] = field(default_factory=set)
    #: whether ``__call__`` takes a ``train`` flag (dropout, batch norm, or a submodule that does)
    needs_train: bool = False
    #: the layout planned across modules (rule S004): when ``forward`` runs channels-last, its translation is
    #: the method ``channels_last_method`` and ``__call__`` is the thin boundary in PyTorch's layout around it;
    #: ``channels_last_inputs`` gives, per parameter of ``forward``, the rank at which the method takes it
    #: channels-last (None: as passed), ``channels_last_output`` the rank of its channels-last result (of each
    #: item of the tuple it returns when ``channels_last_tuple``).
    #: ``channels_last`` is ``(rank in, rank out)`` for a one-input ``forward`` (what a Sequential can chain).
    #: None / (): ``__call__`` only, in PyTorch's layout
    channels_last: tuple[int, int] | None = None
    channels_last_inputs: tuple[int | None, ...] = ()
    channels_last_output: int | None = None
    channels_last_tuple: bool = False
    channels_last_method: str | None = None
    #: whether ``forward``'s result may share memory with its arguments (conservative until translated)
    returns_alias: bool = True
    #: ``forward``'s parameters (without self), and those it writes into in place
    forward_params: tuple[str, ...] = ()
    forward_mutates: set[str] = field(default_factory=set)
    #: the same two facts for the generated Sequential methods, by method name
    generated_alias: dict[str, bool] = field(default_factory=dict)
    generated_mutates: dict[str, set] = field(default_factory=dict)
    #: methods already translated -> whether they take the `train` flag (callers pass it on)
    method_train: dict[str, bool] = field(default_factory=dict)
    #: tied Linear heads -> the embedding whose table they use (``self.head.weight = self.embed.weight``)
    tied: dict[str, str] = field(default_factory=dict)
    #: each attribute's constructor call in __init__ (read when a tying statement names it)
    tied_candidates: dict[str, object] = field(default_factory=dict)


@dataclass
class FileInfo:
    """The user classes and helper functions of the file being translated."""

    classes: dict[str, ClassInfo] = field(default_factory=dict)
    functions: set[str] = field(default_factory=set)
    #: torch.autograd.Function subclasses (reported, X007): calls of `Name.apply` are reported too
    autograd_functions: set[str] = field(default_factory=set)
    #: those translated to a ``jax.custom_vjp`` function (rule S022): class name -> function name
    custom_gradients: dict[str, str] = field(default_factory=dict)
    #: module-level functions that build and return a layer (``conv3x3``): name -> what they return
    factories: dict[str, object] = field(default_factory=dict)
    #: class -> constructor parameter -> the classes of the file every construction passes in (rule S016)
    module_arguments: dict[str, dict[str, tuple]] = field(default_factory=dict)
    #: the shared Sequential runner ``run_sequential(layers, x)`` (rule S005): its name, and the keywords
    #: each kind of layer it runs gets (its class -> ``(("use_running_average", "not train"),)``)
    runner_name: str | None = None
    runner_table: dict[str, tuple] = field(default_factory=dict)
    #: classes some other class or function of the file builds (callers that may take their channels-last
    #: method, rule S004); None: not known, every class may be
    submodule_classes: set[str] | None = None
