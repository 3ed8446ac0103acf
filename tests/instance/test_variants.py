"""Instances of one class that differ only in numbers become one class with those numbers as arguments
(translator.instance.variants); instances that differ in structure stay separate classes."""

from translator.instance.variants import TOKEN, Instance, write_classes

FORWARD = "def forward(self, x):\n    return self.conv(x)\n"


def block(index, cin, cout, stride=None):
    stride_text = f", stride={stride}" if stride else ""
    return Instance(index, "Block", [f"self.conv = nn.Conv2d(in_channels={cin}, out_channels={cout}, kernel_size=3{stride_text})",
                                     f"self.bn = nn.BatchNorm2d(num_features={cout})"], FORWARD)


def test_numbers_that_vary_become_arguments_and_common_ones_stay_literals():
    instances = [block(0, 3, 8), block(1, 8, 16), block(2, 16, 16)]
    written, calls = write_classes(instances)
    assert [c.name for c in written] == ["Block"]
    text = written[0].text
    assert "def __init__(self, in_channels, out_channels):" in text
    assert "nn.Conv2d(in_channels=in_channels, out_channels=out_channels, kernel_size=3)" in text  # 3 is common
    assert "nn.BatchNorm2d(num_features=out_channels)" in text  # varies with out_channels: one argument
    assert calls == {0: "Block(in_channels=3, out_channels=8)", 1: "Block(in_channels=8, out_channels=16)",
                     2: "Block(in_channels=16, out_channels=16)"}


def test_a_different_structure_is_another_class_and_arguments_flow_into_children():
    instances = [block(0, 3, 8, stride=2), block(1, 8, 8), block(2, 8, 16, stride=2), block(3, 16, 16)]
    parents = [Instance(4 + i, "Stage", [f"self.a = {TOKEN.format(2 * i)}", f"self.b = {TOKEN.format(2 * i + 1)}"], None)
               for i in range(2)]
    written, calls = write_classes(instances + parents)
    names = [c.name for c in written]
    assert names == ["Block", "Block_2", "Stage"]  # stride written in one, left out in the other: two classes
    stage = written[-1].text
    assert "self.a = Block(in_channels=in_channels, out_channels=out_channels, stride=2)" not in stage
    assert "def __init__(self, in_channels, out_channels):" in stage and "Block_2(" in stage
    assert calls[4] == "Stage(in_channels=3, out_channels=8)" and calls[5] == "Stage(in_channels=8, out_channels=16)"


def test_a_different_traced_program_is_another_class():
    other = Instance(1, "Block", block(1, 3, 8).init_lines, "def forward(self, x):\n    return self.conv(x) * 2\n")
    written, _ = write_classes([block(0, 3, 8), other])
    assert [c.name for c in written] == ["Block", "Block_2"]
