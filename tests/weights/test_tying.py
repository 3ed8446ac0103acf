"""Weight tying (rule S013): one Parameter under two names ports to one Flax table and back."""

import numpy as np
import pytest
import torch
from safetensors.torch import save_model

from reference_models import CATALOGUE
from translator import export_checkpoint, port_checkpoint
from translator.diagnostics import PortError

GPT = next(e for e in CATALOGUE if e.class_name == "GPT")


def gpt():
    import importlib

    module = importlib.import_module(f"reference_models.{GPT.module}")
    torch.manual_seed(0)
    return getattr(module, GPT.class_name)(**GPT.kwargs)


def flat(variables, prefix=()):
    for name, value in variables.items():
        if isinstance(value, dict):
            yield from flat(value, (*prefix, name))
        else:
            yield "/".join((*prefix, name)), value


def test_tied_checkpoint_ports_one_table_and_exports_both_names(tmp_path):
    model = gpt()
    assert model.lm_head.weight is model.wte.weight
    torch.save(model.state_dict(), tmp_path / "gpt.pt")  # the state dict holds both names
    result = port_checkpoint(GPT.path, GPT.class_name, tmp_path / "gpt.pt", tmp_path / "gpt.msgpack", kwargs=GPT.kwargs)
    keys = dict(flat(result.variables))
    assert "params/wte/embedding" in keys and not any("lm_head" in k for k in keys)
    np.testing.assert_array_equal(keys["params/wte/embedding"], model.wte.weight.detach().numpy())
    export_checkpoint(GPT.path, GPT.class_name, tmp_path / "gpt.msgpack", tmp_path / "back.pt", kwargs=GPT.kwargs)
    back = torch.load(tmp_path / "back.pt")
    for key, value in model.state_dict().items():
        assert torch.equal(back[key], value), key


def test_deduplicated_safetensors_checkpoint_ports(tmp_path):
    model = gpt()
    save_model(model, str(tmp_path / "gpt.safetensors"))  # safetensors stores a shared tensor once
    result = port_checkpoint(GPT.path, GPT.class_name, tmp_path / "gpt.safetensors", tmp_path / "gpt.msgpack", kwargs=GPT.kwargs)
    keys = dict(flat(result.variables))
    np.testing.assert_array_equal(keys["params/wte/embedding"], model.wte.weight.detach().numpy())


def test_untied_values_under_tied_names_are_refused(tmp_path):
    state = gpt().state_dict()
    state["lm_head.weight"] = state["lm_head.weight"] + 1.0
    torch.save(state, tmp_path / "bad.pt")
    with pytest.raises(PortError, match="lm_head.weight differs from wte.weight"):
        port_checkpoint(GPT.path, GPT.class_name, tmp_path / "bad.pt", tmp_path / "bad.msgpack", kwargs=GPT.kwargs)
    assert not (tmp_path / "bad.msgpack").exists()
