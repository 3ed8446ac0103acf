"""PyTorch's autograd and JAX's `jax.grad` compute the same gradients: shown side by side.

The seed document asks how PyTorch's autograd works (section 2.1, question 1). Its answer --
autograd records each operation on tensors that require gradients and `loss.backward()` walks
that record backwards -- is half of the story a JAX user needs. JAX records nothing: `jax.grad`
takes a *function* and returns the function computing its gradient, by tracing the function
with abstract values and transforming what it traced. The consequences, each shown below:

1. `loss.backward()` fills `.grad` on the parameters; `jax.value_and_grad(loss_fn)(params)`
   returns the loss and a gradient tree shaped like `params`. Same numbers (a Linear's
   `weight.grad` is the transpose of a Dense's `kernel` gradient: the layouts differ, rule L001).
2. PyTorch *accumulates* into `.grad` (two `backward()` calls without `zero_grad()` give twice
   the gradient); `jax.grad` returns a fresh value each call, so there is nothing to zero.
3. A gradient with respect to an input: `x.requires_grad_()` in PyTorch, `argnums=1` in JAX.
4. Higher derivatives: `torch.autograd.grad(..., create_graph=True)` twice in PyTorch; in JAX a
   gradient function is a function like any other, so `jax.grad(jax.grad(f))`.
5. `torch.no_grad()` / `.detach()` stop recording; `jax.lax.stop_gradient` marks a value as a
   constant for differentiation (rule S012).

    python examples/autograd_vs_grad.py
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import torch


class TorchMLP(torch.nn.Module):
    """Two linear layers with a tanh: the model both frameworks differentiate."""

    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(3, 4)
        self.fc2 = torch.nn.Linear(4, 1)

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x)))


class FlaxMLP(nn.Module):
    """The same model in Flax: `Dense(out)` with `kernel = weight.T`."""

    @nn.compact
    def __call__(self, x):
        return nn.Dense(1, name="fc2")(jnp.tanh(nn.Dense(4, name="fc1")(x)))


def flax_params_from(model: TorchMLP) -> dict:
    """The PyTorch model's weights as Flax parameters: Linear weight [out, in] -> kernel [in, out]."""
    return {name: {"kernel": jnp.asarray(layer.weight.detach().numpy().T),
                   "bias": jnp.asarray(layer.bias.detach().numpy())}
            for name, layer in (("fc1", model.fc1), ("fc2", model.fc2))}


def largest_difference(torch_value: torch.Tensor, jax_value) -> float:
    return float(np.max(np.abs(torch_value.detach().numpy() - np.asarray(jax_value))))


def main() -> dict[str, float]:
    """Prints each comparison; returns the largest |PyTorch - JAX| difference of each (float32)."""
    torch.manual_seed(0)
    torch_model = TorchMLP()
    x_np = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    y_np = np.random.default_rng(1).normal(size=(8, 1)).astype(np.float32)
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    flax_model, params = FlaxMLP(), flax_params_from(torch_model)

    def loss_fn(params, inputs):
        return jnp.mean((flax_model.apply({"params": params}, inputs) - y_np) ** 2)

    differences: dict[str, float] = {}
    print(f"{'quantity':44s} {'PyTorch (autograd)':>18s} {'JAX (jax.grad)':>16s} {'max |diff|':>11s}")

    def show(label, torch_value, jax_value):
        differences[label] = largest_difference(torch_value, jax_value)
        first_torch = float(torch_value.detach().reshape(-1)[0])
        first_jax = float(np.asarray(jax_value).reshape(-1)[0])
        print(f"{label:44s} {first_torch:18.7f} {first_jax:16.7f} {differences[label]:11.1e}")

    # 1. loss.backward() fills .grad; value_and_grad returns (loss, gradient tree)
    loss = torch.nn.functional.mse_loss(torch_model(x), y)
    loss.backward()
    jax_loss, grads = jax.value_and_grad(loss_fn)(params, x_np)
    show("loss", loss, jax_loss)
    show("d loss / d fc1.weight  (JAX: kernel.T)", torch_model.fc1.weight.grad, grads["fc1"]["kernel"].T)
    show("d loss / d fc1.bias", torch_model.fc1.bias.grad, grads["fc1"]["bias"])
    show("d loss / d fc2.weight  (JAX: kernel.T)", torch_model.fc2.weight.grad, grads["fc2"]["kernel"].T)

    # 2. a second backward() without zero_grad() accumulates; jax.grad has nothing to accumulate into
    torch.nn.functional.mse_loss(torch_model(x), y).backward()
    show("2nd backward, no zero_grad: fc2.bias.grad", torch_model.fc2.bias.grad, 2 * grads["fc2"]["bias"])
    torch_model.zero_grad()

    # 3. gradient with respect to the input: requires_grad_ vs argnums
    x_leaf = x.clone().requires_grad_()
    torch.nn.functional.mse_loss(torch_model(x_leaf), y).backward()
    show("d loss / d x  (argnums=1)", x_leaf.grad, jax.grad(loss_fn, argnums=1)(params, x_np))

    # 4. second derivative of f(t) = t^3 sin(t) at t = 0.7
    t = torch.tensor(0.7, requires_grad=True)
    (first,) = torch.autograd.grad(t ** 3 * torch.sin(t), t, create_graph=True)
    (second,) = torch.autograd.grad(first, t)
    show("f''(0.7), f = t^3 sin t  (grad of grad)", second, jax.grad(jax.grad(lambda t: t ** 3 * jnp.sin(t)))(0.7))

    # 5. detach() / stop_gradient: d/dt [stop(t) * t] = t
    t = torch.tensor(0.7, requires_grad=True)
    (t.detach() * t).backward()
    show("d/dt [detach(t) * t]  (stop_gradient)", t.grad, jax.grad(lambda t: jax.lax.stop_gradient(t) * t)(0.7))
    return differences


if __name__ == "__main__":
    main()
