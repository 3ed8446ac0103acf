"""Unrolled loops over containers written back as loops (translator.instance.loops)."""

import textwrap

import libcst as cst
import pytest
import torch
from torch import nn

from tests.instance.test_instance_mode import SUBCLASSES
from translator.equivalence.check import check
from translator.equivalence.specs import parse_spec
from translator.instance.loops import reroll_container_loops
from translator.instance.trace import trace_forward
from translator.instance.translate import build_model, translate_built
from translator.instance.variants import argument_name, repeated_elements


class Holder(nn.Module):
    """Containers for the traced programs below to index."""

    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([nn.Linear(4, 4) for _ in range(3)])
        self.norms = nn.ModuleList([nn.LayerNorm(4) for _ in range(3)])
        self.mixed = nn.ModuleList([nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4)])
        self.pairs = nn.ModuleList([nn.ModuleList([nn.Linear(4, 4), nn.ReLU()]) for _ in range(2)])


def rerolled(source: str) -> str:
    module, _ = reroll_container_loops(cst.parse_module(textwrap.dedent(source)), Holder())
    return module.code


def same(source: str) -> None:
    assert rerolled(source) == textwrap.dedent(source)


def test_a_chain_through_a_container_is_a_loop_that_keeps_the_carried_name():
    assert rerolled("""
        def forward(self, x):
            blocks_0 = self.blocks[0](x)
            blocks_1 = self.blocks[1](blocks_0)
            blocks_2 = self.blocks[2](blocks_1)
            return blocks_2
        """) == textwrap.dedent("""
        def forward(self, x):
            for block in self.blocks:
                x = block(x)
            return x
        """)


def test_containers_read_together_are_zipped_and_a_pass_may_start_before_its_first_element():
    assert rerolled("""
        def forward(self, x):
            mul = x * 2
            blocks_0 = self.blocks[0](mul)
            norms_0 = self.norms[0](blocks_0)
            add = x + norms_0
            mul_1 = add * 2
            blocks_1 = self.blocks[1](mul_1)
            norms_1 = self.norms[1](blocks_1)
            add_1 = add + norms_1
            mul_2 = add_1 * 2
            blocks_2 = self.blocks[2](mul_2)
            norms_2 = self.norms[2](blocks_2)
            add_2 = add_1 + norms_2
            return add_2
        """) == textwrap.dedent("""
        def forward(self, x):
            for block, norm in zip(self.blocks, self.norms):
                mul = x * 2
                block_out = block(mul)
                norm_out = norm(block_out)
                x = x + norm_out
            return x
        """)


def test_a_start_value_read_after_the_loop_is_copied_into_a_name_of_its_own():
    assert rerolled("""
        def forward(self, x):
            blocks_0 = self.blocks[0](x)
            blocks_1 = self.blocks[1](blocks_0)
            blocks_2 = self.blocks[2](blocks_1)
            add = x + blocks_2
            return add
        """) == textwrap.dedent("""
        def forward(self, x):
            block_out = x
            for block in self.blocks:
                block_out = block(block_out)
            add = x + block_out
            return add
        """)


def test_an_element_of_a_container_inside_each_element_follows_the_loop_variable():
    assert rerolled("""
        def forward(self, x):
            pairs_0_0 = self.pairs[0][0](x)
            pairs_0_1 = self.pairs[0][1](pairs_0_0)
            pairs_1_0 = self.pairs[1][0](pairs_0_1)
            pairs_1_1 = self.pairs[1][1](pairs_1_0)
            return pairs_1_1
        """) == textwrap.dedent("""
        def forward(self, x):
            for pair in self.pairs:
                pair_0 = pair[0](x)
                x = pair[1](pair_0)
            return x
        """)


@pytest.mark.parametrize("source", [
    # the value of an earlier pass is read after the loop (a down block's skip outputs)
    """
    def forward(self, x):
        blocks_0 = self.blocks[0](x)
        blocks_1 = self.blocks[1](blocks_0)
        blocks_2 = self.blocks[2](blocks_1)
        return (blocks_2, (blocks_0, blocks_1))
    """,
    # one pass differs (a constant)
    """
    def forward(self, x):
        blocks_0 = self.blocks[0](x)
        mul = blocks_0 * 2
        blocks_1 = self.blocks[1](mul)
        mul_1 = blocks_1 * 3
        blocks_2 = self.blocks[2](mul_1)
        mul_2 = blocks_2 * 2
        return mul_2
    """,
    # elements of different types: one call would not translate them all
    """
    def forward(self, x):
        mixed_0 = self.mixed[0](x)
        mixed_1 = self.mixed[1](mixed_0)
        mixed_2 = self.mixed[2](mixed_1)
        return mixed_2
    """,
    # elements out of order, or not all of them
    """
    def forward(self, x):
        blocks_1 = self.blocks[1](x)
        blocks_0 = self.blocks[0](blocks_1)
        blocks_2 = self.blocks[2](blocks_0)
        return blocks_2
    """,
    """
    def forward(self, x):
        blocks_0 = self.blocks[0](x)
        blocks_1 = self.blocks[1](blocks_0)
        return blocks_1
    """,
    # a pass reads a value two passes back
    """
    def forward(self, x):
        blocks_0 = self.blocks[0](x)
        blocks_1 = self.blocks[1](blocks_0)
        add = blocks_0 + blocks_1
        blocks_2 = self.blocks[2](add)
        add_1 = blocks_1 + blocks_2
        return add_1
    """,
])
def test_runs_that_are_not_one_loop_body_stay_unrolled(source):
    same(source)


def test_a_trace_of_a_loop_over_a_built_list_of_sequentials_translates_as_a_loop_and_checks():
    """fx unrolls `for i, block in enumerate(self.blocks): x = x + block(x)`; written back, the translation runs
    the loop over the list in setup, the blocks channels-last with no transpose inside (rules S004, S005)."""
    model = build_model(SUBCLASSES, None, build="LoopedBlocks()")
    traced = trace_forward(model, [], ((torch.zeros(2, 3, 8, 8),), {}))
    assert "for block in self.blocks:" in traced.source and "[1]" not in traced.source, traced.source
    translation = translate_built(model, str(SUBCLASSES), examples=(torch.zeros(2, 3, 8, 8),)).translation
    assert not translation.errors, translation.diagnostics
    body = translation.code.split("class LoopedBlocks(", 1)[1].split("def __call__", 1)[1].split("\n\n", 1)[0]
    assert "for block in self.blocks:" in body and body.count("jnp.transpose(") == 1, body
    report = check(SUBCLASSES, None, [parse_spec("float32[2,3,8,8]")], examples=2, stages=("spec", "numeric"),
                   build="LoopedBlocks()")
    assert report.verdict == "pass", report.failure


@pytest.mark.parametrize("line, expected", [
    ("self.blocks = nn.ModuleList([Unit(cin=4), Unit(cin=4), Unit(cin=4)])",
     "self.blocks = nn.ModuleList([Unit(cin=4) for _ in range(3)])"),
    # elements that differ, a Sequential, a single element: as they are
    ("self.blocks = nn.ModuleList([Unit(cin=4), Unit(cin=8)])", None),
    ("self.net = nn.Sequential(nn.ReLU(), nn.ReLU())", None),
    ("self.blocks = nn.ModuleList([Unit(cin=4)])", None),
])
def test_a_list_of_elements_written_alike_is_a_comprehension(line, expected):
    assert repeated_elements(line) == (expected or line)
    if expected:
        assert argument_name(expected.split("range(")[0] + "range(") == "num_blocks"


def test_a_rerolled_trace_of_a_built_list_reads_as_its_source():
    """The regenerated `__init__` builds identical blocks by a comprehension, and `forward` loops over them."""
    model = build_model(SUBCLASSES, None, build="LoopedBlocks()")
    translation = translate_built(model, str(SUBCLASSES), examples=(torch.zeros(2, 3, 8, 8),)).translation
    setup = translation.code.split("class LoopedBlocks(", 1)[1].split("def __call__", 1)[0]
    assert "for _ in range(3)" in setup and setup.count("TorchBatchNorm()") == 1, setup
