"""Loops over a container written back where tracing unrolled them.

torch.fx runs a ``for block in self.blocks`` loop while it traces, so the traced ``forward`` calls
``self.blocks[0]``, then ``self.blocks[1]``, ..., each after the statements of one pass.  Written back as
the loop, the translation reads as the source did (rule S005 runs the loop over the container's list in
``setup``), and a model with more blocks needs no more code.

A run of statements becomes ``for block in self.blocks:`` only when it is one loop body repeated, so the
loop is the same program:

* n pieces of one length, piece k reading element k of each container it indexes that way (each of length
  n; two or more are iterated together, ``zip(self.convs, self.norms)``) and no other element of them;
* the pieces are the same statements up to the names they bind; each reads the names it binds, the names
  the previous piece bound (the loop's carried values; the first piece reads their values from before the
  run at those places) and names bound before the run, the same ones in every piece;
* a name a piece binds is read only by that piece, the next one, or (from the last piece) the code after
  the run, and a carried value is bound after the piece's last read of the value it replaces: the loop
  keeps one binding per name;
* every element of a container has one type (and, for containers of containers, one structure), so that
  one call translates each element's call.

Nested loops stay unrolled inside the outer loop's body; only the function's own statements are read.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field

import libcst as cst
import libcst.matchers as m
from libcst.metadata import MetadataWrapper, ScopeProvider
from torch import nn

from translator.rewrite.context import code_of

#: containers whose elements a traced program reaches by integer index
INDEXED_CONTAINERS = (nn.ModuleList, nn.Sequential)
#: an element of a container: ``<owner>[<integer>]``
ELEMENT = m.Subscript(slice=[m.SubscriptElement(slice=m.Index(value=m.Integer()))])


def submodule_at(root: nn.Module, node: cst.BaseExpression) -> nn.Module | None:
    """The submodule an expression ``self.a[0]["k"].b`` names, or None."""
    if m.matches(node, m.Name("self")):
        return root
    if isinstance(node, cst.Attribute):
        owner = submodule_at(root, node.value)
        return owner._modules.get(node.attr.value) if isinstance(owner, nn.Module) else None
    if isinstance(node, cst.Subscript) and len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
        owner, key = submodule_at(root, node.value), node.slice[0].slice.value
        if isinstance(owner, nn.Module) and isinstance(key, (cst.Integer, cst.SimpleString)):
            return owner._modules.get(str(key.evaluated_value))
    return None


def structure(module: nn.Module) -> tuple:
    """A module's type, and its children's structure for a container: equal for elements one call runs alike."""
    if isinstance(module, (nn.Sequential, nn.ModuleList, nn.ModuleDict)):
        return (type(module), tuple((name, structure(child)) for name, child in module.named_children()))
    return (type(module),)


@dataclass
class Piece:
    """What one statement of the function's body binds, reads (in order) and indexes."""

    line: cst.BaseStatement
    binds: list[str]
    reads: list[str]
    #: container (as code) -> the integer indices the statement reads of it
    elements: dict[str, set[int]] = field(default_factory=dict)

    @property
    def simple(self) -> bool:
        return isinstance(self.line, cst.SimpleStatementLine) and not any(isinstance(s, cst.Return) for s in self.line.body)


@dataclass
class Loop:
    """A run of ``passes`` pieces of ``length`` statements from ``start`` that is one loop body repeated."""

    start: int
    length: int
    passes: int
    containers: list[str]  #: iterated together, in order of first use
    carried: dict[int, str]  #: position of a bind in a pass -> the value before the run it starts from

    @property
    def end(self) -> int:
        return self.start + self.passes * self.length

    def run(self, pieces: list[Piece], k: int) -> list[Piece]:
        return pieces[self.start + k * self.length:self.start + (k + 1) * self.length]


def reroll_container_loops(module: cst.Module, root: nn.Module) -> tuple[cst.Module, dict[int, str] | None]:
    """``module`` (one traced ``forward``) with each unrolled loop over a container of ``root`` written back as
    a loop (see the module's docstring); with, when it wrote one, the name fx gave the value of the statement
    each statement of the function stands for (its first bind in the first pass), keyed by the ``id`` of the
    written statement (the ``for`` line: its body's first), to find its origin."""
    function = next((s for s in module.body if isinstance(s, cst.FunctionDef)), None)
    if function is None or not isinstance(function.body, cst.IndentedBlock) or not function.body.body:
        return module, None
    pieces = read_pieces(module, function)
    loops: list[Loop] = []
    position = 0
    while (loop := next_loop(pieces, root, position)) is not None:
        loops.append(loop)
        position = loop.end
    if not loops:
        return module, None
    statements, origins = write_loops(function, pieces, loops)
    written = function.with_changes(body=function.body.with_changes(body=statements))
    return module.with_changes(body=[written if s is function else s for s in module.body]), origins


def read_pieces(module: cst.Module, function: cst.FunctionDef) -> list[Piece]:
    """Each top-level statement of ``function``: the names it binds and reads, the elements it indexes."""
    scopes = MetadataWrapper(module, unsafe_skip_copy=True).resolve(ScopeProvider)
    body = function.body.body
    scope = scopes.get(body[0])
    reads_at = {id(access.node) for access in scope.accesses if isinstance(access.node, cst.Name)} if scope else set()
    pieces = []
    for line in body:
        reader = _PieceReader(reads_at)
        line.visit(reader)
        pieces.append(Piece(line, reader.binds, reader.reads, reader.elements))
    return pieces


class _PieceReader(cst.CSTVisitor):
    def __init__(self, reads_at: set[int]):
        super().__init__()
        self.reads_at = reads_at
        self.binds: list[str] = []
        self.reads: list[str] = []
        self.elements: dict[str, set[int]] = {}

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        targets = node.target.elements if isinstance(node.target, (cst.Tuple, cst.List)) else [node.target]
        for target in targets:
            target = target.value if isinstance(target, cst.BaseElement) else target
            if isinstance(target, cst.Name):
                self.binds.append(target.value)

    def visit_Name(self, node: cst.Name) -> None:
        if id(node) in self.reads_at:
            self.reads.append(node.value)

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if m.matches(node, ELEMENT):
            self.elements.setdefault(code_of(node.value), set()).add(int(node.slice[0].slice.value.value))


def next_loop(pieces: list[Piece], root: nn.Module, position: int) -> Loop | None:
    """The first loop over a container read element by element (0, 1, ... n-1) from ``position`` on."""
    first_read: dict[str, dict[int, int]] = {}
    for at, piece in enumerate(pieces[position:], position):
        for container, indices in piece.elements.items() if piece.simple else ():
            for index in indices:
                first_read.setdefault(container, {}).setdefault(index, at)
    # by first read, an outer container before the containers inside its elements (`self.layers[0]`)
    for container, positions in sorted(first_read.items(), key=lambda item: (min(item[1].values()), len(item[0]))):
        module = submodule_at(root, cst.parse_expression(container))
        if not isinstance(module, INDEXED_CONTAINERS) or len(module) < 2 or sorted(positions) != list(range(len(module))):
            continue
        anchors = [positions[k] for k in range(len(module))]
        gaps = {b - a for a, b in zip(anchors, anchors[1:])}
        if len(gaps) != 1 or min(gaps) < 1:
            continue
        length = gaps.pop()
        for offset in range(length):  # a pass may start before its first read of the container
            if anchors[0] - offset < position:
                break
            loop = repeated_body(pieces, Loop(anchors[0] - offset, length, len(module), [], {}), root)
            if loop is not None and container in loop.containers:
                return loop
    return None


def repeated_body(pieces: list[Piece], loop: Loop, root: nn.Module) -> Loop | None:
    """``loop`` with its containers and carried values when its run of pieces is one loop body repeated, else None."""
    if loop.end > len(pieces) or not all(p.simple for p in pieces[loop.start:loop.end]):
        return None
    runs = [loop.run(pieces, k) for k in range(loop.passes)]
    containers = iterated_containers(runs, root)
    if not containers or len({canonical_code(run, containers, k) for k, run in enumerate(runs)}) != 1:
        return None
    binds = [[name for piece in run for name in piece.binds] for run in runs]
    reads = [[name for piece in run for name in piece.reads] for run in runs]
    if len({len(b) for b in binds}) != 1 or len({len(r) for r in reads}) != 1:
        return None
    kinds = [[read_kind(name, binds[k], binds[k - 1] if k else None) for name in reads[k]] for k in range(loop.passes)]
    if any(kinds[k] != kinds[1] for k in range(2, loop.passes)):
        return None
    carried: dict[int, str] = {}
    for first, later in zip(kinds[0], kinds[1]):
        if later[0] == "carried":
            if first[0] != "outer" or carried.setdefault(later[1], first[1]) != first[1]:
                return None
        elif first != later:
            return None
    earlier_binds = {name for b in binds[:-1] for name in b}
    if earlier_binds & {name for piece in pieces[loop.end:] for name in piece.reads}:
        return None  # a value of an earlier pass read after the run: the loop keeps only the last pass's
    if not carried_in_order(runs[1], binds[1], kinds[1], carried):
        return None
    return Loop(loop.start, loop.length, loop.passes, containers, carried)


def iterated_containers(runs: list[list[Piece]], root: nn.Module) -> list[str]:
    """The containers whose element k pass k reads, and no other (each of one length, its elements of one
    structure), in order of first use; [] when a pass reads any other container's elements differently from
    the others (an element inside an iterated one, ``self.layers[k][0]``, follows it)."""
    read = [{} for _ in runs]
    for k, run in enumerate(runs):
        for piece in run:
            for container, indices in piece.elements.items():
                read[k].setdefault(container, set()).update(indices)
    iterated = [c for c in read[0] if all(read[k].get(c) == {k} for k in range(len(runs)))]
    for k, containers in enumerate(read):
        for container, indices in containers.items():
            inside = any(container.startswith(f"{c}[{k}]") for c in iterated)
            if container not in iterated and not inside and any(other.get(container) != indices for other in read):
                return []
    for container in iterated:
        module = submodule_at(root, cst.parse_expression(container))
        if not isinstance(module, INDEXED_CONTAINERS) or len(module) != len(runs):
            return []
        if len({structure(element) for element in module}) != 1:
            return []
    return iterated


def canonical_code(run: list[Piece], containers: list[str], index: int) -> str:
    """The run's statements with every name read or bound as ``_`` and each iterated element as ``_element<i>``:
    equal for runs that are the same statements up to names."""
    renamer = _Renamer(lambda name: "_", {(c, index): f"_element{i}" for i, c in enumerate(containers)})
    return "\n".join(code_of(piece.line.visit(renamer)) for piece in run)


def read_kind(name: str, binds: list[str], previous: list[str] | None) -> tuple[str, object]:
    """A read in a pass: of the pass's own i-th bind, of the previous pass's i-th (a carried value), or of a
    name bound outside the run."""
    if name in binds:
        return ("own", binds.index(name))
    if previous is not None and name in previous:
        return ("carried", previous.index(name))
    return ("outer", name)


def carried_in_order(run: list[Piece], binds: list[str], kinds: list[tuple], carried: dict[int, str]) -> bool:
    """Whether each carried value is bound by or after the pass's last statement that reads the value it replaces."""
    bound_at = {binds.index(name): at for at, piece in reversed(list(enumerate(run))) for name in piece.binds}
    read_at: dict[int, int] = {}
    kind = iter(kinds)
    for at, piece in enumerate(run):
        for _ in piece.reads:
            what, index = next(kind)
            if what == "carried":
                read_at[index] = at
    return all(i in bound_at and read_at.get(i, -1) <= bound_at[i] for i in carried)


class _Renamer(cst.CSTTransformer):
    """Names read or bound renamed by ``rename``; elements ``(container, index)`` replaced by a name."""

    def __init__(self, rename, elements: dict[tuple[str, int], str]):
        super().__init__()
        self.rename = rename
        self.elements = elements
        self.skipped: set[int] = set()

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self.skipped.add(id(node.attr))

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None:
            self.skipped.add(id(node.keyword))

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.BaseExpression:
        if id(original) in self.skipped:
            return updated
        return updated.with_changes(value=self.rename(updated.value))

    def leave_Subscript(self, original: cst.Subscript, updated: cst.Subscript) -> cst.BaseExpression:
        if m.matches(original, ELEMENT):
            key = (code_of(original.value), int(original.slice[0].slice.value.value))
            if key in self.elements:
                return cst.Name(self.elements[key])
        return updated


def write_loops(function: cst.FunctionDef, pieces: list[Piece], loops: list[Loop]) -> tuple[list[cst.BaseStatement], dict[int, str]]:
    """The function's statements with each run replaced by its loop, and each written statement's fx name."""
    inside = {i for loop in loops for i in range(loop.start + loop.length, loop.end)}
    taken = {name for at, piece in enumerate(pieces) if at not in inside for name in (*piece.binds, *piece.reads)}
    final: dict[str, str] = {}  # fx's name -> the name the written code gives it

    def fresh(name: str) -> str:
        base, number = name, 1
        while name in taken or keyword.iskeyword(name):
            name, number = f"{base}_{number}", number + 1
        taken.add(name)
        return name

    def rename(name: str) -> str:
        return final.get(name, name)

    statements: list[cst.BaseStatement] = []
    origins: dict[int, str] = {}
    at = 0
    for loop in loops:
        for piece in pieces[at:loop.start]:
            statements.append(written := piece.line.visit(_Renamer(rename, {})))
            origins[id(written)] = first_bind(piece)
        first, second = loop.run(pieces, 0), loop.run(pieces, 1)
        first_binds = [name for piece in first for name in piece.binds]
        second_binds = [name for piece in second for name in piece.binds]
        last_binds = [name for piece in loop.run(pieces, loop.passes - 1) for name in piece.binds]
        later_reads = [rename(name) for piece in pieces[loop.start + loop.length:] for name in piece.reads]
        elements = [fresh(element_name(c)) for c in loop.containers]
        # fx names an element's output after its path (`blocks_0`, `pairs_0_1`): in the loop, after the loop
        # variable (`block_out`, `pair_1`)
        prefixes = [(f"{fx_name(c)}_0", e) for c, e in zip(loop.containers, elements)]

        def local(name: str, prefixes=prefixes) -> str:
            for prefix, element in prefixes:
                if name == prefix:
                    return fresh(f"{element}_out")
                if name.startswith(f"{prefix}_"):
                    return fresh(f"{element}{name[len(prefix):]}")
            return fresh(local_name(name)) if local_name(name) != name else name

        names: dict[int, str] = {}
        for i, start_value in sorted(loop.carried.items()):
            start = rename(start_value)
            if start not in later_reads and start not in names.values():
                names[i] = start  # `for block in self.blocks: x = block(x)`: the carried value keeps its name
                continue
            names[i] = local(first_binds[i])
            statements.append(cst.SimpleStatementLine(body=[cst.Assign(
                targets=[cst.AssignTarget(cst.Name(names[i]))], value=cst.Name(start))]))
            origins[id(statements[-1])] = first_bind(first[0])
        for i, name in enumerate(first_binds):
            if i not in names:
                names[i] = local(name)
        in_loop = {**{name: names[i] for i, name in enumerate(first_binds)},
                   **{name: names[i] for i, name in enumerate(second_binds)}}
        renamer = _Renamer(lambda name, in_loop=in_loop: in_loop.get(name, rename(name)),
                           {(c, 1): e for c, e in zip(loop.containers, elements)})
        body = []
        for piece, origin in zip(second, first):
            body.append(written := piece.line.visit(renamer))
            origins[id(written)] = first_bind(origin)
        iterable = (cst.parse_expression(loop.containers[0]) if len(elements) == 1 else
                    cst.Call(cst.Name("zip"), [cst.Arg(cst.parse_expression(c)) for c in loop.containers]))
        target = (cst.Name(elements[0]) if len(elements) == 1 else
                  cst.Tuple([cst.Element(cst.Name(e)) for e in elements], lpar=[], rpar=[]))
        statements.append(cst.For(target=target, iter=iterable, body=cst.IndentedBlock(body=body)))
        origins[id(statements[-1])] = first_bind(first[0])
        final.update({name: names[i] for i, name in enumerate(last_binds)})
        at = loop.end
    for piece in pieces[at:]:
        statements.append(written := piece.line.visit(_Renamer(rename, {})))
        origins[id(written)] = first_bind(piece)
    return statements, origins


def first_bind(piece: Piece) -> str:
    return piece.binds[0] if piece.binds else ""


def local_name(name: str) -> str:
    """fx's name of a value of the first pass without the index it added (``blocks_0`` -> ``blocks``)."""
    match = re.fullmatch(r"(\w+?)_0", name)
    return match.group(1) if match else name


def fx_name(container: str) -> str:
    """The name fx gives a call of a submodule at ``container`` (``self.down[1].blocks`` -> ``down_1_blocks``)."""
    return re.sub(r"\W+", "_", container.removeprefix("self.")).strip("_")


def element_name(container: str) -> str:
    """A loop variable for the elements of ``container`` (``self.blocks`` -> ``block``)."""
    words = re.findall(r"[A-Za-z_]\w*", container.replace("self.", "", 1))
    word = words[-1] if words else "element"
    if word.endswith("ies") and len(word) > 3:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 1:
        return word[:-1]
    return f"{word}_layer"
