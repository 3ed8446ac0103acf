"""fx's names for shape bookkeeping written back where they are read (translator.instance.metadata_names)."""

import textwrap

import libcst as cst
import pytest

from translator.instance.metadata_names import inline_metadata_names


def inlined(source: str) -> str:
    return inline_metadata_names(cst.parse_module(textwrap.dedent(source))).code


def test_a_chain_of_shape_reads_becomes_one_expression():
    assert inlined("""
        def forward(self, x):
            getattr_1 = x.shape
            getitem = getattr_1[1]
            eq = getitem == 32
            assert eq, "traced for other sizes"
            return self.conv(x)
        """) == textwrap.dedent("""
        def forward(self, x):
            assert x.shape[1] == 32, "traced for other sizes"
            return self.conv(x)
        """)


def test_a_whole_shape_read_several_times_is_written_at_each_index_and_its_length_is_the_rank():
    assert inlined("""
        def forward(self, x):
            size = x.size()
            eq = len(size) == 4
            assert eq
            getitem = size[0]
            getitem_1 = size[2]
            view = x.view(getitem, -1, getitem_1)
            return view
        """) == textwrap.dedent("""
        def forward(self, x):
            assert x.ndim == 4
            view = x.view(x.size()[0], -1, x.size()[2])
            return view
        """)


def test_a_metadata_name_read_twice_stays_a_name_and_operations_keep_their_precedence():
    assert inlined("""
        def forward(self, x):
            getitem = x.shape[0]
            add = getitem + 1
            mul = add * 2
            return x.reshape(getitem, mul)
        """) == textwrap.dedent("""
        def forward(self, x):
            getitem = x.shape[0]
            return x.reshape(getitem, (getitem + 1) * 2)
        """)


@pytest.mark.parametrize("source", [
    # tensors are not moved: the order of random draws and in-place writes stays as traced
    "def forward(self, x):\n    y = x + 1\n    z = self.drop(x)\n    return y * z\n",
    "def forward(self, x):\n    y = x[:, :, None, None]\n    return y\n",
    # a name bound twice is not fx's, and not touched
    "def forward(self, x):\n    n = x.shape[0]\n    n = n + 1\n    return x.reshape(n, -1)\n",
])
def test_what_is_not_metadata_bound_once_is_left_as_written(source):
    assert inlined(source) == source
