"""One class per kind of module, with the numbers that vary between its instances as arguments.

A built model holds many instances of one class that differ only in sizes (a ResNet's blocks:
64 -> 64, 64 -> 128 with stride 2, ...).  Written out one class per instance, a translation would
repeat the same class eight times.  :func:`write_classes` groups instances whose ``__init__`` is the
same up to its number literals and whose traced ``forward`` is the same, and turns each number
that varies inside a group into a constructor argument named after the keyword it fills
(``nn.Conv2d(in_channels=in_channels, ...)``); a number that is the same in every member stays a
literal.  Groups are resolved bottom-up, so a parent's call of its child (``Unit(cin=3, cout=8)``)
is itself a number-bearing line, and the argument flows down.  Instances that differ in structure
(a shortcut that is a conv in one block and absent in another, a default argument written in one
call and left out in another, a different traced program) stay separate classes: ``Unit``,
``Unit_2``.
"""

from __future__ import annotations

import io
import keyword
import re
import textwrap
import tokenize
from dataclasses import dataclass, field

import libcst as cst
import libcst.matchers as m

from translator.rewrite.context import code_of

#: a child instance inside an ``__init__`` line, resolved to its class's call once that is known
TOKEN = "\u27e6{}\u27e7"
TOKEN_PATTERN = re.compile("\u27e6(\\d+)\u27e7")
HOLE = "\x00"


@dataclass
class Instance:
    """One user-module instance as written from the built model (children still as tokens)."""

    index: int
    base: str  #: the class name
    init_lines: list[str]  #: ``self.x = ...`` lines of ``__init__`` (after ``super().__init__()``)
    forward: str | None  #: the traced ``forward`` (source of the method), or None
    payload: object = None  #: what the caller keeps per class (the traced method: origins, fixed args)

    @property
    def children(self) -> set[int]:
        return {int(n) for line in self.init_lines for n in TOKEN_PATTERN.findall(line)}


@dataclass
class WrittenClass:
    """A class of the regenerated source and the instances it stands for."""

    name: str
    text: str
    forward_line: int  #: the line of ``def forward`` within ``text`` (1-based), 0 without one
    members: list[Instance] = field(default_factory=list)


def write_classes(instances: list[Instance]) -> tuple[list[WrittenClass], dict[int, str]]:
    """The classes (children before parents) and each instance's call expression (``Unit(cin=3)``)."""
    by_index = {i.index: i for i in instances}
    heights: dict[int, int] = {}

    def height(index: int) -> int:
        if index not in heights:
            heights[index] = 1 + max((height(c) for c in by_index[index].children), default=-1)
        return heights[index]

    calls: dict[int, str] = {}
    written: list[WrittenClass] = []
    names_used: dict[str, int] = {}
    for level in sorted({height(i.index) for i in instances}):
        groups: dict[tuple, list[tuple[Instance, list[str], list[list[str]]]]] = {}
        for instance in (i for i in instances if heights[i.index] == level):
            lines = [repeated_elements(TOKEN_PATTERN.sub(lambda match: calls[int(match.group(1))], line))
                     for line in instance.init_lines]
            templates, values = zip(*(holes(line) for line in lines)) if lines else ((), ())
            key = (instance.base, tuple(templates), instance.forward)
            groups.setdefault(key, []).append((instance, list(templates), [list(v) for v in values]))
        for (base, templates, forward), members in groups.items():
            count = names_used.get(base, 0) + 1
            names_used[base] = count
            name = base if count == 1 else f"{base}_{count}"
            attributes = {a for line in templates for a in re.findall(r"self\.(\w+) =|register_buffer\('(\w+)'", line) for a in a if a}
            parameters, filled = parametrise(list(templates), [values for _, _, values in members], attributes)
            text, forward_line = class_text(name, parameters, filled, forward)
            written.append(WrittenClass(name, text, forward_line, [instance for instance, _, _ in members]))
            for (instance, _, values) in members:
                arguments = [(p.name, values[p.line][p.position]) for p in parameters]
                calls[instance.index] = f"{name}({', '.join(f'{k}={v}' for k, v in arguments)})"
    return written, calls


def repeated_elements(line: str) -> str:
    """``line`` with each ``nn.ModuleList([E, E, E])`` of one element written alike as ``nn.ModuleList([E for _ in
    range(3)])``, as its source most likely wrote it: each pass builds a module of its own, as each written
    element does, so the list is the same."""
    try:
        statement = cst.parse_statement(line)
    except cst.ParserSyntaxError:
        return line
    return code_of(statement.visit(_RepeatedElements())).rstrip("\n")


class _RepeatedElements(cst.CSTTransformer):
    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        if not m.matches(updated, m.Call(func=m.Attribute(value=m.Name("nn"), attr=m.Name("ModuleList")),
                                         args=[m.Arg(value=m.List(), keyword=None, star="")])):
            return updated
        elements = updated.args[0].value.elements
        if len(elements) < 2 or any(not isinstance(e, cst.Element) for e in elements):
            return updated
        codes = {code_of(e.value) for e in elements}
        if len(codes) != 1:
            return updated
        repeated = cst.ListComp(elt=elements[0].value, for_in=cst.CompFor(
            target=cst.Name("_"), iter=cst.Call(cst.Name("range"), [cst.Arg(cst.Integer(str(len(elements))))])))
        return updated.with_changes(args=[cst.Arg(repeated)])


def holes(line: str) -> tuple[str, list[str]]:
    """``line`` with each number literal replaced by :data:`HOLE`, and the literals in order."""
    numbers = []
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(line).readline))
    except (tokenize.TokenError, IndentationError):
        return line, []
    pieces, column = [], 0
    for token in tokens:
        if token.type == tokenize.NUMBER and token.start[0] == 1:
            pieces.append(line[column:token.start[1]] + HOLE)
            numbers.append(token.string)
            column = token.end[1]
    pieces.append(line[column:])
    return "".join(pieces), numbers


@dataclass
class Parameter:
    name: str
    line: int
    position: int  #: the hole (of ``line``) whose values name and give the argument


def parametrise(templates: list[str], members: list[list[list[str]]], attributes: set[str] = frozenset()
                ) -> tuple[list[Parameter], list[str]]:
    """The arguments (holes whose value varies across ``members``; holes varying together share one)
    and each template with its holes filled by an argument's name or the common literal.  No argument
    takes an attribute's name (in Flax both would be one dataclass field)."""
    parameters: list[Parameter] = []
    by_values: dict[tuple[str, ...], str] = {}
    taken: set[str] = {"self", *attributes}
    filled = []
    for line, template in enumerate(templates):
        parts = template.split(HOLE)
        text = parts[0]
        for position in range(len(parts) - 1):
            column_values = tuple(values[line][position] for values in members)
            if len(set(column_values)) == 1:
                text += column_values[0]
            else:
                if column_values not in by_values:
                    name = unique(argument_name(text), taken)
                    by_values[column_values] = name
                    parameters.append(Parameter(name, line, position))
                text += by_values[column_values]
            text += parts[position + 1]
        filled.append(text)
    return parameters, filled


def argument_name(before: str) -> str:
    """The keyword a hole fills (``out_channels=``), else what it sizes, else ``value``."""
    match = re.search(r"(\w+)\s*=\s*[\(\[]*$", before)
    if match and not match.group(1).startswith("self"):
        return match.group(1)
    if re.search(r"torch\.(zeros|ones|empty)\(\(?[^()]*$", before):
        return "size"
    match = re.search(r"self\.(\w+) = nn\.ModuleList\(\[.* for _ in range\($", before)
    if match:  # how many elements a list written alike holds: num_blocks
        return f"num_{match.group(1)}"
    return "value"


def unique(name: str, taken: set[str]) -> str:
    name = name if name.isidentifier() and not keyword.iskeyword(name) else "value"
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    taken.add(candidate)
    return candidate


def class_text(name: str, parameters: list[Parameter], lines: list[str], forward: str | None) -> tuple[str, int]:
    signature = ", ".join(["self", *(p.name for p in parameters)])
    body = [f"def __init__({signature}):", "    super().__init__()", *(f"    {line}" for line in lines)]
    text = f"class {name}(nn.Module):\n" + textwrap.indent("\n".join(body), "    ") + "\n"
    forward_line = 0
    if forward:
        forward_line = text.count("\n") + 2
        text += "\n" + textwrap.indent(forward, "    ")
    return text, forward_line
