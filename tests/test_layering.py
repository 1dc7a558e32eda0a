"""The package's layers, checked: import-linter's contracts (pyproject.toml) and the rule
that only ``mlpillars/backends/`` names a framework in code."""

from __future__ import annotations

import ast
import io
import shutil
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FRAMEWORK_NAMES = {"torch", "jax", "cupy", "dask"}
FRAMEWORK_FREE = ("mlpillars/bench", "mlpillars/kernels", "mlpillars/testing.py")
_NO_LINTER = 'the layering contracts need import-linter: pip install -e ".[test]"'


def test_import_contracts_are_kept():
    pytest.importorskip("importlinter", reason=_NO_LINTER)
    lint_imports = shutil.which("lint-imports")
    assert lint_imports is not None, 'lint-imports not found: pip install -e ".[test]"'
    done = subprocess.run(
        [lint_imports, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_the_module_level_contract_tells_module_level_from_function_level():
    contracts = pytest.importorskip("tests.import_contracts", reason=_NO_LINTER)
    source = (
        "import os\n"
        "try:\n    import torch\nexcept ImportError:\n    import jax\n"
        "if TYPE_CHECKING:\n    import cupy\n"
        "class Holder:\n    import dask\n"
        "def later():\n    import torch\n"
    )
    assert contracts._import_lines(ast.parse(source).body) == [1, 3, 5, 9]


def _code_names(path: Path) -> list[tuple[int, str]]:
    """(line, name) of every framework name used as code: strings and comments are other
    tokens, so names in docstrings and messages do not count."""
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
    return [
        (token.start[0], token.string)
        for token in tokens
        if token.type == tokenize.NAME and token.string in FRAMEWORK_NAMES
    ]


@pytest.mark.parametrize("area", FRAMEWORK_FREE)
def test_only_backends_name_a_framework_in_code(area: str):
    paths = [ROOT / area] if area.endswith(".py") else sorted((ROOT / area).rglob("*.py"))
    found = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for path in paths
        for line, name in _code_names(path)
    ]
    assert not found, "framework named outside mlpillars/backends/:\n" + "\n".join(found)


def test_importing_mlpillars_and_its_bench_imports_no_framework():
    code = (
        "import sys, mlpillars, mlpillars.bench.report, mlpillars.bench.runner\n"
        f"print(sorted({FRAMEWORK_NAMES | {'array_api_strict'}!r} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
