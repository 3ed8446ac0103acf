"""The maps the rewriter keeps from emitted libcst nodes (translator.rewrite.identity): keyed by which node,
valid however many nodes die meanwhile. A map of ``id(node)`` read a dead node's entry for a new node at the
same address: the translated TCN ran a convolution in PyTorch's layout in about 1 run in 30."""

import gc
import weakref

import libcst as cst

from translator.rewrite.identity import ByIdentity


class TrackedName(cst.Name):
    """A libcst node that can be weakly referenced, so a test can see whether it is still alive."""


def test_a_key_the_caller_dropped_stays_alive_so_its_address_is_never_reused():
    nodes = ByIdentity()
    node = TrackedName("conv1")
    alive = weakref.ref(node)
    nodes[node] = "a layer"
    del node
    gc.collect()
    assert alive() is not None  # no other object can be given its address while the map holds it
    for _ in range(10_000):
        assert nodes.get(cst.Name("relu1")) is None
    assert nodes.pop(alive()) == "a layer"
    gc.collect()
    assert alive() is None  # popped: the map holds nothing it no longer answers for


def test_a_plain_id_map_lets_its_key_die_which_is_what_the_map_guards_against():
    plain = {}
    node = TrackedName("conv1")
    alive = weakref.ref(node)
    plain[id(node)] = "a layer"
    del node
    gc.collect()
    assert alive() is None and len(plain) == 1  # an entry for an address CPython may hand to the next node


def test_lookup_is_by_identity_not_equality():
    first, second = cst.Name("x"), cst.Name("x")
    nodes = ByIdentity()
    nodes[first] = 1
    assert nodes.get(first) == 1 and first in nodes
    assert nodes.get(second) is None and second not in nodes and nodes.get(second, 0) == 0
    assert nodes.pop(first) == 1 and nodes.pop(first, "gone") == "gone" and len(nodes) == 0
