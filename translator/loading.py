"""Import the user's PyTorch model class and the translated Flax class.

A source file inside a package (a directory chain with ``__init__.py``) is
imported under its dotted package name, so its relative imports work; a loose
file is imported under a private name.  Every failure is a :class:`UsageError`.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.util
import json
import sys
import traceback
import types
from pathlib import Path

from translator.diagnostics import UsageError


def package_root_and_name(path: Path) -> tuple[Path, str] | None:
    """For ``root/pkg/sub/mod.py`` with ``__init__.py`` in pkg and sub: ``(root, "pkg.sub.mod")``."""
    parts = [path.stem]
    directory = path.parent
    while (directory / "__init__.py").exists():
        parts.insert(0, directory.name)
        directory = directory.parent
    if len(parts) == 1:
        return None
    return directory, ".".join(parts)


def import_source(path: str | Path) -> types.ModuleType:
    """Import a Python file as a module (under its package name when it has one)."""
    path = Path(path).resolve()
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    try:
        located = package_root_and_name(path)
        if located is not None:
            root, name = located
            if str(root) not in sys.path:
                sys.path.insert(0, str(root))
            return importlib.import_module(name)
        name = f"_torch2flax_src_{abs(hash(str(path)))}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        with script_directory_importable(path.parent):
            spec.loader.exec_module(module)
        return module
    except UsageError:
        raise
    except SyntaxError as error:
        raise UsageError(f"{error.filename}:{error.lineno}:{error.offset}: syntax error: {error.msg}") from None
    except Exception as error:
        frame = traceback.extract_tb(error.__traceback__)[-1]
        raise UsageError(f"{frame.filename}:{frame.lineno}: importing {path.name} failed: {type(error).__name__}: {error}") from None


@contextlib.contextmanager
def script_directory_importable(directory: Path):
    """``from blocks import X`` next to a script works as when Python runs the script; the sibling
    modules it imported are forgotten afterwards, so another project's ``blocks`` is not mistaken for it."""
    before = set(sys.modules)
    sys.path.insert(0, str(directory))
    try:
        yield
    finally:
        sys.path.remove(str(directory))
        for name in set(sys.modules) - before:
            origin = getattr(sys.modules[name], "__file__", None) or ""
            if origin and Path(origin).resolve().parent == directory:
                del sys.modules[name]


def module_from_code(code: str, name: str) -> types.ModuleType:
    """Execute generated Flax code as a fresh module."""
    module = types.ModuleType(name)
    module.__file__ = f"<{name}>"
    sys.modules[name] = module  # dataclass machinery (used by Flax) looks the module up by name
    try:
        exec(compile(code, f"<{name}>", "exec"), module.__dict__)
    except Exception as error:
        raise UsageError(f"the translation of {name} does not import: {type(error).__name__}: {error}") from None
    return module


def class_from(module: types.ModuleType, class_name: str, where: str) -> type:
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        available = sorted(n for n, v in vars(module).items() if isinstance(v, type) and v.__module__ == module.__name__)
        raise UsageError(f"{where}: no class `{class_name}` (classes defined there: {', '.join(available) or 'none'})")
    return cls


def parse_kwargs(text: str | None) -> dict:
    """``--kwargs``: a JSON object or a Python literal dict (so tuples can be passed)."""
    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise UsageError(
                f"--kwargs: not a JSON object or Python literal dict: {text!r} "
                "(example: --kwargs '{\"num_classes\": 10}')"
            ) from None
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise UsageError(f"--kwargs: expected an object with string keys, got {type(value).__name__}: {text!r}")
    return value


def instantiate(cls: type, kwargs: dict, where: str):
    try:
        return cls(**kwargs)
    except TypeError as error:
        raise UsageError(f"{where}: cannot construct {cls.__name__}(**{kwargs!r}): {error}") from None
