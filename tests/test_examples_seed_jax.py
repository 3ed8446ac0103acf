"""The seed document's JAX LeNet-5 (examples/seed_jax_lenet5_broken.py) fails as examples/README.md
says, each listed mistake is real, and the corrected examples/train_lenet5.py is the same network as
torch2flax's translation of reference_models/lenet5.py.

Each mistake is checked on its own line of the seed (the line must be in the verbatim file), in
this process, with the smallest code that shows it; the file as a whole is run as a user runs it.
"""

import re
import runpy
import subprocess
import sys
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

ROOT = Path(__file__).resolve().parents[1]
BROKEN = ROOT / "examples" / "seed_jax_lenet5_broken.py"
SEED_DOCUMENT = ROOT.parent / "shared" / "seed" / "000_c24c70c00f4855ae.txt"


def seed_code() -> str:
    """The broken file without its header comment: the document's code block."""
    lines = BROKEN.read_text(encoding="utf-8").splitlines(keepends=True)
    return "".join(lines[next(i for i, line in enumerate(lines) if not line.startswith("#")):])


def test_the_broken_file_is_the_documents_code_verbatim():
    if not SEED_DOCUMENT.exists():
        pytest.skip("the seed document (../shared/seed) is not beside this checkout")
    document = SEED_DOCUMENT.read_text(encoding="utf-8")
    section = document[document.index("### 3.2 JAX"):]
    block = section[section.index("```python\n") + len("```python\n"):]
    assert seed_code() == block[:block.index("```")]


def test_running_the_broken_file_stops_at_its_import_line():
    completed = subprocess.run([sys.executable, str(BROKEN)], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 1
    assert "SyntaxError" in completed.stderr
    assert "import jax.numpy.linalg as jnp.linalg" in completed.stderr
    line = int(re.search(r"line (\d+)", completed.stderr).group(1))
    assert BROKEN.read_text(encoding="utf-8").splitlines()[line - 1] == "import jax.numpy.linalg as jnp.linalg"


def raises(exception, run):
    with pytest.raises(exception) as caught:
        run()
    return str(caught.value)


def dotted_import_alias():
    assert "invalid syntax" in raises(SyntaxError, lambda: compile(
        "import jax.numpy.linalg as jnp.linalg\n", "seed", "exec"))


def jax_nn_has_no_layers():
    for name in ("Sequential", "Conv2D", "MaxPool2D", "Dense"):
        assert not hasattr(jax.nn, name)
    assert "Sequential" in raises(AttributeError, lambda: jax.nn.Sequential)


def flax_dense_takes_only_its_output_size():
    layer = nn.Dense(16 * 4 * 4, 120)  # the seed's (in, out): silently a 256-wide layer, use_bias=120
    assert layer.features == 256
    assert "activation" in raises(TypeError, lambda: nn.Dense(120, activation=None))


def flax_conv_pads_same_by_default():
    images = jnp.zeros((1, 28, 28, 1))
    default = nn.Conv(6, kernel_size=(5, 5))
    assert default.init_with_output(jax.random.PRNGKey(0), images)[0].shape == (1, 28, 28, 6)
    valid = nn.Conv(6, kernel_size=(5, 5), padding="VALID")
    assert valid.init_with_output(jax.random.PRNGKey(0), images)[0].shape == (1, 24, 24, 6)


def flax_max_pool_strides_one_by_default():
    features = jnp.zeros((1, 24, 24, 6))
    assert nn.max_pool(features, (2, 2)).shape == (1, 23, 23, 6)
    assert nn.max_pool(features, (2, 2), strides=(2, 2)).shape == (1, 12, 12, 6)


def jnp_has_no_sigmoid():
    assert "sigmoid" in raises(AttributeError, lambda: jnp.sigmoid)
    assert float(jax.nn.sigmoid(0.0)) == 0.5


def optim_is_never_imported():
    namespace = {}
    exec("import jax\nimport jax.numpy as jnp\nimport jax.nn as jax_nn\n", namespace)
    assert "optim" in raises(NameError, lambda: exec("optim.AdamW", namespace))


def optax_state_is_returned_not_mutated():
    optimizer = optax.adamw(learning_rate=1e-3)
    assert not hasattr(optimizer, "zero_grad")
    params = {"w": jnp.ones(3)}
    grads = {"w": jnp.full(3, 0.5)}
    state = optimizer.init(params)
    # the seed's update(model.params, grad): the gradients stand where the optimizer state belongs
    assert "init" in raises(ValueError, lambda: optimizer.update(params, grads))
    updates, new_state = optimizer.update(grads, state, params)
    assert np.array_equal(params["w"], np.ones(3))  # nothing changed in place
    assert not np.array_equal(optax.apply_updates(params, updates)["w"], params["w"])
    assert new_state is not state


def adamw_default_decay_differs():
    # torch.optim.AdamW(weight_decay=1e-2) by default; optax.adamw's default is 1e-4
    params = {"w": jnp.ones(3)}
    zero_grads = {"w": jnp.zeros(3)}
    default = optax.adamw(learning_rate=1.0)
    updates, _ = default.update(zero_grads, default.init(params), params)
    assert np.allclose(updates["w"], -1e-4)
    torch_default = optax.adamw(learning_rate=1.0, weight_decay=1e-2)
    updates, _ = torch_default.update(zero_grads, torch_default.init(params), params)
    assert np.allclose(updates["w"], -1e-2)


def jnp_has_no_nn():
    assert "nn" in raises(AttributeError, lambda: jnp.nn.CrossEntropyLoss)


def ellipsis_is_not_a_loader():
    def iterate():
        for _ in ...:
            pass

    assert "ellipsis" in raises(TypeError, iterate)


def grad_takes_a_function():
    loss = jnp.float32(2.3)
    assert "callable" in raises(TypeError, lambda: jax.grad(loss))
    assert float(jax.grad(lambda w: (3.0 * w - 1.0) ** 2)(1.0)) == 12.0


def disable_jit_is_not_no_grad():
    with jax.disable_jit():
        assert float(jax.grad(lambda x: x ** 2)(3.0)) == 6.0  # gradients still flow
    assert float(jax.grad(lambda x: jax.lax.stop_gradient(x) * x)(3.0)) == 3.0  # what no_grad does to a value


def argmax_is_one_array():
    logits = jnp.zeros((64, 10)).at[:, 3].set(1.0)
    message = raises(ValueError, lambda: exec("_, predicted = jnp.argmax(logits, axis=1)",
                                                 {"jnp": jnp, "logits": logits}))
    assert "too many values to unpack" in message
    namespace = {"jnp": jnp, "logits": logits[:2]}
    exec("_, predicted = jnp.argmax(logits, axis=1)", namespace)  # a batch of two runs, silently wrong
    assert namespace["predicted"].shape == ()


#: (the seed line that makes the mistake, the check that shows it); examples/README.md lists them in this order
MISTAKES = [
    ("import jax.numpy.linalg as jnp.linalg", dotted_import_alias),
    ("class LeNet5(jax.nn.Sequential):", jax_nn_has_no_layers),
    ("jax_nn.Dense(16 * 4 * 4, 120, activation=jnp.sigmoid),", flax_dense_takes_only_its_output_size),
    ("jax_nn.Conv2D(1, 6, kernel_shape=(5, 5), activation=jnp.sigmoid),", flax_conv_pads_same_by_default),
    ("jax_nn.MaxPool2D(pool_shape=(2, 2)),", flax_max_pool_strides_one_by_default),
    ("activation=jnp.sigmoid", jnp_has_no_sigmoid),
    ("optimizer = optim.AdamW(model.parameters(), learning_rate=0.001)", optim_is_never_imported),
    ("optimizer = optim.AdamW(model.parameters(), learning_rate=0.001)", adamw_default_decay_differs),
    ("criterion = jnp.nn.CrossEntropyLoss()", jnp_has_no_nn),
    ("train_loader = ...", ellipsis_is_not_a_loader),
    ("grad = jax.grad(loss)(model.params)", grad_takes_a_function),
    ("optimizer.update(model.params, grad)", optax_state_is_returned_not_mutated),
    ("with jax.disable_jit():", disable_jit_is_not_no_grad),
    ("_, predicted = jnp.argmax(outputs, axis=1)", argmax_is_one_array),
]


@pytest.mark.parametrize(("seed_line", "check"), MISTAKES, ids=[check.__name__ for _, check in MISTAKES])
def test_each_listed_mistake_is_in_the_seed_and_real(seed_line, check):
    assert seed_line in seed_code()
    check()


def test_the_readme_lists_every_mistake_with_registered_rules():
    from translator.rules.registry import rule_by_code

    readme = (ROOT / "examples" / "README.md").read_text(encoding="utf-8")
    section = readme.split("## What is wrong in the seed's JAX code")[1].split("\n## ")[0]
    for seed_line, _ in MISTAKES:
        assert f"`{seed_line.rstrip(',')}`" in section, seed_line
    cited = set(re.findall(r"\b[A-Z]\d{3}\b", section))
    assert cited, "each mistake points to a rule"
    assert {code for code in cited if rule_by_code(code) is None} == set()


def test_the_corrected_lenet5_has_the_translations_parameters():
    from translator.api import translate_file
    from translator.loading import module_from_code

    corrected = runpy.run_path(str(ROOT / "examples" / "train_lenet5.py"))
    translation = translate_file(ROOT / "reference_models" / "lenet5.py")
    translated = module_from_code(translation.code, "lenet5_flax_for_example").LeNet5(num_classes=10)
    images = jnp.zeros((1, 1, 28, 28))
    ours = corrected["LeNet5"](num_classes=10).init(jax.random.PRNGKey(0), images)["params"]
    theirs = translated.init(jax.random.PRNGKey(0), images)["params"]
    assert jax.tree.map(jnp.shape, ours) == jax.tree.map(jnp.shape, theirs)
    shared = {"params": theirs}
    np.testing.assert_allclose(corrected["LeNet5"](num_classes=10).apply(shared, jnp.ones((2, 1, 28, 28))),
                               translated.apply(shared, jnp.ones((2, 1, 28, 28))), rtol=1e-6, atol=1e-6)
