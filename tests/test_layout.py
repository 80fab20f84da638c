"""The library's folders are layers: a module imports only from its own layer or below."""
from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

# bottom to top; the top-level modules are the foundation
LAYERS = ["", "static", "nn", "evaluation", "training"]
# sets up the process for every layer, so it may call into them (only inside configure())
EXEMPT = {"paddle_gan/runtime.py"}


def layer_of(module: str) -> int:
    """The layer of a ``paddle_gan...`` module name."""
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else 0


def imported(path: Path) -> list[str]:
    """The paddle_gan and programs modules a file imports (from X import a: X.a if a module)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names
                      if (ROOT / node.module.replace(".", "/") / alias.name).is_dir()]
    return [n for n in names if n.split(".")[0] in ("paddle_gan", "programs")]


def violations(root: Path) -> list[str]:
    """Every import of a module under ``root/paddle_gan`` from a higher layer or programs/."""
    wrong = []
    for path in sorted((root / "paddle_gan").rglob("*.py")):
        rel = str(path.relative_to(root))
        if rel in EXEMPT:
            continue
        module = rel[:-3].replace("/", ".").removesuffix(".__init__")
        for name in imported(path):
            if name.startswith("programs") or layer_of(name) > layer_of(module):
                wrong.append(f"{rel} imports {name}")
    return wrong


def test_each_module_imports_only_its_own_layer_or_below():
    wrong = violations(ROOT)
    assert not wrong, "\n".join(wrong)


def test_a_module_above_its_layer_is_caught(tmp_path):
    """The check can fail: a static module importing the training layer, or programs/, is
    reported; one importing the foundation is not."""
    static = tmp_path / "paddle_gan" / "static"
    static.mkdir(parents=True)
    (static / "fine.py").write_text("from paddle_gan.config import RunConfig\n")
    (static / "bad.py").write_text("from paddle_gan.training.rundir import RunDir\nimport programs\n")
    assert violations(tmp_path) == [
        "paddle_gan/static/bad.py imports paddle_gan.training.rundir",
        "paddle_gan/static/bad.py imports programs"]
