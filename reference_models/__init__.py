"""PyTorch models the translator must keep green: translated, ported and checked in the test suite.

``CATALOGUE`` says how to build and feed each one; tests, benchmarks and the
demo read it, so adding a model here adds it everywhere.
"""

from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class ReferenceModel:
    module: str  # file stem under reference_models/
    class_name: str
    inputs: tuple[str, ...]  # --input specs
    kwargs: dict = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return HERE / f"{self.module}.py"


CATALOGUE = (
    ReferenceModel("mlp", "MLP", ("float32[8,784]",), {"input_dim": 784, "hidden_dim": 128, "output_dim": 10}),
    ReferenceModel("simple_cnn", "SimpleCNN", ("float32[4,1,8,8]",), {"num_classes": 10}),
    ReferenceModel("lenet5", "LeNet5", ("float32[4,1,28,28]",), {"num_classes": 10}),
)
