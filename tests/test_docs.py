"""The README shows facts that live in code; these tests keep the two the same."""

from __future__ import annotations

import pathlib
import re

import mlpillars as mp
from mlpillars.tolerances import tolerance_table_markdown

README = (pathlib.Path(__file__).parents[1] / "README.md").read_text()


def test_readme_shows_the_tolerance_table_from_code():
    shown = README.split("<!-- tolerance-table -->")[1].split("<!-- /tolerance-table -->")[0]
    assert shown.strip() == tolerance_table_markdown()


def test_readme_lists_every_public_kernel():
    listed = set(re.findall(r"^\| `(\w+)\(", README, flags=re.MULTILINE))
    assert set(mp.KERNELS) <= listed, sorted(set(mp.KERNELS) - listed)


def test_ci_runs_the_readme_test_command():
    ci_script = (pathlib.Path(__file__).parents[1] / ".ci" / "run").read_text()
    command = 'pip install -e ".[all,test]" && python -m pytest -q -n auto'
    assert command in README and command in ci_script
