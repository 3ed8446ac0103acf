"""The maps the rewriter keeps from emitted libcst nodes (translator.rewrite.identity): keyed by which node,
valid however many nodes die meanwhile. A map of ``id(node)`` read a dead node's entry for a new node at the
same address: the translated TCN ran a convolution in PyTorch's layout in about 1 run in 30."""

import libcst as cst

from translator.rewrite.identity import ByIdentity


def test_a_key_that_the_caller_dropped_is_not_found_under_a_new_object_at_its_address():
    nodes = ByIdentity()
    nodes[cst.Name("conv1")] = "a layer"  # the caller keeps no reference: the map must
    for _ in range(10_000):  # CPython hands a freed address to the next object of that size
        assert nodes.get(cst.Name("relu1")) is None
    plain = {}
    plain[id(cst.Name("conv1"))] = "a layer"
    assert any(id(cst.Name("relu1")) in plain for _ in range(10_000))  # what the map guards against


def test_lookup_is_by_identity_not_equality():
    first, second = cst.Name("x"), cst.Name("x")
    nodes = ByIdentity()
    nodes[first] = 1
    assert nodes.get(first) == 1 and first in nodes
    assert nodes.get(second) is None and second not in nodes and nodes.get(second, 0) == 0
    assert nodes.pop(first) == 1 and nodes.pop(first, "gone") == "gone" and len(nodes) == 0
