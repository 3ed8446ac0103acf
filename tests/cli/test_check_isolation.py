"""Building the user's model runs only what the class needs (issue 15, items 12-13).

A notebook exported as a script trains, prints and writes files at its top level; ``check``,
``port`` and ``export`` must not run any of that, and ``check --json`` must keep stdout for its one
JSON object whatever the file or its models print.
"""

import inspect
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from conftest import run_cli  # noqa: E402  (tests/ is on sys.path)

from translator.diagnostics import UsageError
from translator.loading import import_for_class, recording_ran_statements

ROOT = Path(__file__).resolve().parents[2]

#: trains (a counter and a sleep), prints and writes `trained.txt` into the working directory at import
NOTEBOOK = textwrap.dedent(
    """
    import time
    import torch
    import torch.nn as nn

    HIDDEN = 16
    STEPS = 0


    def half(n):
        return n // 2


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, half(HIDDEN))

        def forward(self, x):
            print("forward ran")
            out = self.fc(x)
            return torch.tanh(out)


    print("training starts")
    model = Net()
    x = torch.randn(2, 4)
    out = model(x)
    for step in range(50):
        STEPS += 1
        time.sleep(0.01)
    with open("trained.txt", "w") as log:
        log.write(str(STEPS))
    if __name__ == "__main__":
        raise SystemExit("the main block ran")
    """
)

#: ``WIDTH = load_width()`` is needed (a default), is not a plain constant, and writes to stdout
NEEDS_A_CALL = textwrap.dedent(
    """
    import os
    import time
    import torch.nn as nn


    def load_width():
        print("loading the width")
        os.write(1, b"raw write to fd 1\\n")
        time.sleep(0.05)
        return 4


    WIDTH = load_width()


    class Net(nn.Module):
        def __init__(self, width=WIDTH):
            super().__init__()
            self.fc = nn.Linear(width, 8)

        def forward(self, x):
            return self.fc(x)


    print("training starts")
    open("trained.txt", "w").write("trained")
    """
)

#: a hand-written translation of NEEDS_A_CALL (the translator leaves `WIDTH = load_width()` out, S010)
NEEDS_A_CALL_FLAX = textwrap.dedent(
    """
    import flax.linen as nn


    class Net(nn.Module):
        width: int = 4

        @nn.compact
        def __call__(self, x):
            print("flax forward ran")
            return nn.Dense(8, name="fc")(x)
    """
)


run = run_cli


@pytest.fixture
def notebook(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "notebook.py"
    path.write_text(NOTEBOOK)
    return path


# --------------------------------------------------------------------------- the command line
def test_check_json_runs_none_of_the_script(capsys, notebook, tmp_path):
    code, out, err = run(capsys, "check", notebook, "--class", "Net", "--input", "float32[2,4]",
                         "--examples", "1", "--stages", "spec,numeric", "--json")
    assert not (tmp_path / "trained.txt").exists()
    assert "training starts" not in out + err
    result = json.loads(out)  # exactly one JSON object, nothing else
    assert out.strip().count("\n") == 0
    assert code == 0 and result["ok"], result
    assert result["ran"] == []  # HIDDEN and half() are plain definitions: no note
    assert "forward ran" not in out and "forward ran" in err  # the model's own print went to stderr


def test_check_json_reports_a_needed_statement_and_keeps_stdout_at_fd_level(tmp_path):
    source, flax = tmp_path / "needs.py", tmp_path / "needs_flax.py"
    source.write_text(NEEDS_A_CALL)
    flax.write_text(NEEDS_A_CALL_FLAX)
    command = [sys.executable, "-m", "translator.cli", "check", str(source), "--class", "Net", "--flax", str(flax),
               "--input", "float32[2,4]", "--examples", "1", "--stages", "spec,numeric", "--json"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert result.stdout.strip().count("\n") == 0
    assert report["ok"]
    [ran] = report["ran"]
    line = NEEDS_A_CALL.splitlines().index("WIDTH = load_width()") + 1
    assert ran["line"] == line and ran["statement"] == "WIDTH = load_width()" and ran["needed_by"] == ["Net"]
    assert ran["seconds"] >= 0.05
    assert f"note: {source}:{line}: ran `WIDTH = load_width()`, needed by Net" in result.stderr
    for printed in ("loading the width", "raw write to fd 1", "flax forward ran"):
        assert printed in result.stderr and printed not in result.stdout
    assert "training starts" not in result.stdout + result.stderr
    assert not (tmp_path / "trained.txt").exists()


def test_port_and_export_run_none_of_the_script(capsys, notebook, tmp_path):
    weights = tmp_path / "net.pt"
    torch.save(import_for_class(notebook, "Net").Net().state_dict(), weights)
    capsys.readouterr()
    code, out, err = run(capsys, "port", notebook, "--class", "Net", "--weights", weights, "-o", tmp_path / "net.msgpack")
    assert code == 0, err
    code, out, err = run(capsys, "export", notebook, "--class", "Net", "--weights", tmp_path / "net.msgpack",
                         "-o", tmp_path / "back.pt")
    assert code == 0, err
    assert not (tmp_path / "trained.txt").exists()
    assert "training starts" not in out + err and "forward ran" not in out + err


def test_check_unknown_class_runs_nothing(capsys, notebook, tmp_path):
    code, out, err = run(capsys, "check", notebook, "--class", "Nope", "--input", "float32[2,4]", "--json")
    assert code == 2 and out == ""
    assert "no class `Nope` (classes defined there: Net)" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "trained.txt").exists()


def test_check_passes_weights_to_check(capsys, notebook, monkeypatch):
    import translator.equivalence.check as check_module

    seen = {}

    class Report:
        ok = True

        def to_json(self):
            return {"ok": True}

    def fake_check(*args, weights=None, **kwargs):
        seen["weights"] = weights
        return Report()

    monkeypatch.setattr(check_module, "check", fake_check)
    code, out, err = run(capsys, "check", notebook, "--class", "Net", "--input", "float32[2,4]", "--weights", "net.pt", "--json")
    assert code == 0 and seen["weights"] == "net.pt"
    assert json.loads(out) == {"ok": True, "ran": []}


def test_check_weights_are_used_by_the_check(capsys, notebook, tmp_path):
    from translator.equivalence.check import check

    if "weights" not in inspect.signature(check).parameters:
        pytest.skip("check(weights=...) has not landed yet")
    weights = tmp_path / "net.pt"
    torch.save(import_for_class(notebook, "Net").Net().state_dict(), weights)
    code, out, err = run(capsys, "check", notebook, "--class", "Net", "--input", "float32[2,4]", "--examples", "1",
                         "--stages", "spec,numeric", "--weights", weights, "--json")
    assert code == 0, err
    assert json.loads(out)["ok"]


# --------------------------------------------------------------------------- import_for_class
def write(tmp_path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_only_the_needed_statements_run(capsys, notebook):
    module = import_for_class(notebook, "Net")
    out, err = capsys.readouterr()
    assert out == "" and err == ""  # neither the training print nor `out = model(x)` (forward's local `out`) ran
    assert module.HIDDEN == 16 and module.Net().fc.out_features == 8
    assert not hasattr(module, "model") and not hasattr(module, "STEPS")


def test_every_binding_of_a_needed_name_runs_in_order(tmp_path):
    path = write(tmp_path, "m.py", """
        import torch.nn as nn
        try:
            from not_installed_anywhere import FusedNorm
        except ImportError:
            FusedNorm = nn.LayerNorm
        SIZE = 2
        SIZE += 2
        CONFIG = {}
        CONFIG["width"] = 8
        LAYERS = []
        LAYERS.append(SIZE)

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.norm = FusedNorm(CONFIG["width"] + LAYERS[0])

        UNUSED = open("unused.txt", "w")
        """)
    with recording_ran_statements() as ran:
        module = import_for_class(path, ["Net"])
    assert module.Net().norm.normalized_shape == (12,)
    assert [r.text for r in ran] == ["LAYERS.append(SIZE)"]  # the try block is imports and constants only
    assert not (tmp_path / "unused.txt").exists()


def test_sys_path_edits_run_before_imports(tmp_path):
    write(tmp_path, "lib/helpers.py", "WIDTH = 3\n")
    path = write(tmp_path, "m.py", """
        import os
        import sys
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
        import torch.nn as nn
        from helpers import WIDTH

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(WIDTH, 1)
        """)
    try:
        assert import_for_class(path, "Net").Net().fc.in_features == 3
    finally:
        sys.path[:] = [p for p in sys.path if not p.endswith("lib")]
        sys.modules.pop("helpers", None)


def test_a_package_file_keeps_its_relative_imports(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "isolpkg/__init__.py", "")
    write(tmp_path, "isolpkg/blocks.py", """
        import torch.nn as nn

        class Block(nn.Linear):
            pass
        """)
    path = write(tmp_path, "isolpkg/model.py", """
        import torch.nn as nn
        from .blocks import Block

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.block = Block(2, 2)

        open("trained.txt", "w").write("trained")
        """)
    monkeypatch.setattr(sys, "path", list(sys.path))
    try:
        module = import_for_class(path, "Net")
        assert module.__name__ == "isolpkg.model" and isinstance(module.Net().block, nn_linear())
        assert import_for_class(path, "Net") is module  # the slice is reused for the same class
    finally:
        for name in ("isolpkg", "isolpkg.blocks", "isolpkg.model"):
            sys.modules.pop(name, None)
    assert not (tmp_path / "trained.txt").exists()


def nn_linear():
    return torch.nn.Linear


def test_a_failing_needed_statement_names_its_line(tmp_path):
    path = write(tmp_path, "m.py", """
        import torch.nn as nn
        WIDTH = int("four")

        class Net(nn.Module):
            def __init__(self, width=WIDTH):
                super().__init__()
        """)
    with pytest.raises(UsageError) as error:
        import_for_class(path, "Net")
    message = str(error.value)
    assert message.startswith(f"{path}:3: running `WIDTH = int(\"four\")` (needed by Net) failed: ValueError")


def test_a_syntax_error_names_its_line(tmp_path):
    path = write(tmp_path, "m.py", "import torch.nn as nn\nclass Net(nn.Module:\n    pass\n")
    with pytest.raises(UsageError, match=r"m\.py:2:\d+: syntax error"):
        import_for_class(path, "Net")


def test_a_name_bound_out_of_sight_is_a_clear_error(capsys, tmp_path):
    """A global set by a function (`global`) is not seen as bound: the constructor's NameError is one clear line."""
    path = write(tmp_path, "m.py", """
        import torch.nn as nn

        def configure():
            global WIDTH
            WIDTH = 4

        configure()

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(WIDTH, 1)
        """)
    code, out, err = run(capsys, "port", path, "--class", "Net", "--weights", tmp_path / "none.pt", "-o", tmp_path / "o.msgpack")
    assert code == 2 and "NameError" in err and "bind this name at the top level" in err
    assert len(err.strip().splitlines()) == 1


def test_a_slice_registered_under_its_package_name_extends_to_a_class_asked_for_later():
    """A check of one class of a package file leaves that slice in sys.modules; a later plain import of the
    same module (another test, the user's own code) asks for another class: it is run then, not missing."""
    import importlib
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "reference_models" / "resnet.py"
    sys.modules.pop("reference_models.resnet", None)
    try:
        sliced = import_for_class(path, "BasicBlock")
        assert "ResNet18" not in vars(sliced)
        module = importlib.import_module("reference_models.resnet")
        assert sum(p.numel() for p in module.ResNet18(num_classes=10, width=8).parameters()) > 0
        assert not hasattr(module, "no_such_name")
    finally:
        sys.modules.pop("reference_models.resnet", None)
