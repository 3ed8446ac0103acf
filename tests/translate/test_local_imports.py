"""S014: a file of a multi-file project is translated with the definitions it imports from the project."""

import textwrap

import pytest

from translator.cli import main
from translator.rewrite.pipeline import translate_source

BLOCKS = '''\
"""Building blocks."""
import torch.nn as nn
import torch.nn.functional as F

EXPANSION = 2


def conv3x3(cin, cout):
    return nn.Conv2d(cin, cout, 3, padding=1, bias=False)


class ResBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = conv3x3(channels, channels)
        self.bn1 = nn.BatchNorm2d(channels)

    def forward(self, x):
        return F.relu(self.bn1(self.conv1(x)) + x)


class Broken(nn.Module):
    def forward(self, x):
        return x.frobnicate()
'''
HEADS = '''\
import torch.nn as nn
from .blocks import conv3x3


class Head(nn.Module):
    def __init__(self, cin, n):
        super().__init__()
        self.fc = nn.Linear(cin, n)

    def forward(self, x):
        return self.fc(x).tanh()
'''
NET = '''\
"""A net built from blocks."""
import torch.nn as nn

from .blocks import ResBlock, EXPANSION
from {package}.heads import Head


class Net(nn.Module):
    def __init__(self, width=2):
        super().__init__()
        self.stem = nn.Conv2d(3, width * EXPANSION, 3, padding=1)
        self.block = ResBlock(width * EXPANSION)
        self.head = Head(width * EXPANSION, 5)

    def forward(self, x):
        return self.head(self.block(self.stem(x)).mean((2, 3)))
'''


@pytest.fixture
def project(tmp_path, request):
    package = f"t2f_proj_{abs(hash(request.node.name)) % 10**8}"
    root = tmp_path / package
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "blocks.py").write_text(BLOCKS)
    (root / "heads.py").write_text(HEADS)
    (root / "net.py").write_text(NET.format(package=package))
    return root


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_relative_and_absolute_imports_are_followed(project):
    translation = translate_source((project / "net.py").read_text(), str(project / "net.py"))
    assert translation.ok, translation.diagnostics
    assert set(translation.classes) == {"ResBlock", "Head", "Net"}  # not Broken: only what is used
    assert "S014: EXPANSION, ResBlock from blocks.py" in translation.code
    assert "def conv3x3" in translation.code and "EXPANSION = 2" in translation.code
    assert "from .blocks" not in translation.code and ".heads import" not in translation.code


def test_check_passes_on_one_file_of_the_project(project, capsys):
    code, out, _ = run(capsys, "check", project / "net.py", "--class", "Net", "--input", "float32[2,3,6,6]", "--examples", "2", "--stages", "spec,numeric")
    assert code == 0, out


def test_diagnostics_name_the_imported_file_and_line(tmp_path, capsys):
    (tmp_path / "blocks_s014t.py").write_text(BLOCKS)
    (tmp_path / "model.py").write_text(textwrap.dedent('''\
        import torch.nn as nn
        from blocks_s014t import Broken, ResBlock as Renamed


        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.b = Broken()

            def forward(self, x):
                return self.b(x)
    '''))
    code, _, err = run(capsys, "translate", tmp_path / "model.py", "-o", tmp_path / "out.py")
    assert code == 1
    assert f"{tmp_path / 'model.py'}:2:1: S014 ResBlock: a local import renamed with `as` is not followed" in err
    assert f"{tmp_path / 'blocks_s014t.py'}:24:16: X001 no rule translates `x.frobnicate()`" in err


def test_a_package_directory_is_translated_file_by_file(project, tmp_path, capsys):
    out_dir = tmp_path / "flax_out"
    code, _, err = run(capsys, "translate", project, "-o", out_dir)
    assert code == 1  # blocks.py's Broken is reported, the other files are clean
    assert f"{project / 'blocks.py'}:24:16: X001" in err
    written = sorted(p.name for p in out_dir.iterdir())
    assert written == ["blocks.py", "heads.py", "net.py"]  # __init__.py has no model
    assert "class Broken" not in (out_dir / "net.py").read_text()
    assert "class ResBlock" in (out_dir / "net.py").read_text()


def test_a_module_imported_by_several_files_is_brought_once(tmp_path):
    """Two project files import the same helper module: it is read and listed once, its code spliced once."""
    package = tmp_path / "t2f_shared_helper"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "common.py").write_text("import torch\n\n\ndef act(x):\n    return torch.tanh(x) * 2.0\n")
    (package / "left.py").write_text(
        "import torch.nn as nn\nfrom .common import act\n\n\nclass Left(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(4, 4)\n\n"
        "    def forward(self, x):\n        return act(self.fc(x))\n"
    )
    (package / "right.py").write_text(
        "import torch.nn as nn\nfrom .common import act\n\n\nclass Right(nn.Module):\n"
        "    def forward(self, x):\n        return act(x) + 1.0\n"
    )
    net = package / "net.py"
    net.write_text(
        "import torch.nn as nn\nfrom .left import Left\nfrom .right import Right\nfrom .common import act\n\n\n"
        "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.left = Left()\n"
        "        self.right = Right()\n\n    def forward(self, x):\n        return act(self.right(self.left(x)))\n"
    )
    translation = translate_source(net.read_text(), str(net))
    assert translation.ok, translation.diagnostics
    assert translation.code.count("from common.py") == 1, translation.code
    assert translation.code.count("def act(") == 1, translation.code
