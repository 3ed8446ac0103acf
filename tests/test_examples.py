"""The bundled examples run."""

import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_train_lenet5_example_learns():
    module = runpy.run_path(str(ROOT / "examples" / "train_lenet5.py"))
    accuracy = module["main"](epochs=4)
    assert accuracy > 0.5  # 10 classes: chance is 0.1 (measured: 0.89 after 4 epochs)


def test_seed_examples_translate_with_only_script_warnings():
    from translator.api import translate_file

    for name in ("seed_mlp.py", "seed_cnn.py"):
        translation = translate_file(ROOT / "examples" / name)
        assert translation.ok
        assert {d.code for d in translation.diagnostics} <= {"S010", "S020"}
    assert "def train_step(state, images, labels):" in translate_file(ROOT / "examples" / "seed_cnn.py").code
