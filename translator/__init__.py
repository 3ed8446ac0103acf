"""torch2flax: translate PyTorch models to Flax (linen), port their weights, check equivalence.

The public API, re-exported flat (imported lazily, so the command line starts fast)::

    from translator import translate_file, port_checkpoint, check, parse_spec, STAGES

    translation = translate_file("model.py")          # .code, .diagnostics
    result = port_checkpoint("model.py", "Net", "net.pt", "net.msgpack")
    report = check("model.py", "Net", [parse_spec("float32[B,3,32,32]")], stages=STAGES)
    report.stages["behavioral"].status, report.behavioral.errors["update"]
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "translate_source": "translator.rewrite.pipeline",
    "translate_file": "translator.api",
    "Translation": "translator.rewrite.pipeline",
    "port_checkpoint": "translator.weights.port",
    "port_state_dict": "translator.weights.port",
    "export_checkpoint": "translator.weights.port",
    "open_checkpoint": "translator.weights.checkpoint",
    "save_state_dict": "translator.weights.checkpoint",
    "plan_port": "translator.weights.plan",
    "PortPlan": "translator.weights.plan",
    "load_state_dict": "translator.weights.checkpoint",
    "save_variables": "translator.weights.checkpoint",
    "load_variables": "translator.weights.checkpoint",
    "check": "translator.equivalence.check",
    "check_train": "translator.training.check_train",
    "TrainCheckReport": "translator.training.check_train",
    "assert_equivalent": "translator.equivalence.assertions",
    "CheckReport": "translator.equivalence.check",
    "StageResult": "translator.equivalence.check",
    "STAGES": "translator.equivalence.check",
    "BehavioralResult": "translator.equivalence.behavioral",
    "Recipe": "translator.equivalence.strategies",
    "build_pair": "translator.equivalence.check",
    "parse_spec": "translator.equivalence.specs",
    "InputSpec": "translator.equivalence.specs",
    "Tolerance": "translator.equivalence.tolerance",
    "strategies": "translator.equivalence.strategies",
    "all_rules": "translator.rules.registry",
    "rule_by_code": "translator.rules.registry",
    "Diagnostic": "translator.diagnostics",
    "UsageError": "translator.diagnostics",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'translator' has no attribute {name!r}")
    module = importlib.import_module(_EXPORTS[name])
    value = module if name == "strategies" else getattr(module, name)
    globals()[name] = value
    return value
