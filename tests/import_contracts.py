"""Custom import-linter contracts: no framework imported at module level; no import cycles.

Importing mlpillars must import no framework (torch, JAX, CuPy, Dask, array-api-strict);
each is imported inside the function that first needs it. import-linter's own contracts
see every import, wherever it stands, so this contract asks the import graph where each
import of a framework is and reads the importing module's syntax tree to tell an import
run when the module is imported (module level, including ``if``/``try``/``with`` blocks and
class bodies) from one inside a function. Imports under ``if TYPE_CHECKING:`` never run.

The second contract asks that no module reach back, through any chain of imports, to a
module that imports it: the import graph has no cycles (imports under ``if TYPE_CHECKING:``
are left out of the graph by the configuration, since they never run).

Registered in pyproject.toml (``contract_types``) and run by tests/test_layering.py.
"""

from __future__ import annotations

import ast
import importlib.util
from functools import cache

from importlinter import Contract, ContractCheck, fields, output


class ModuleLevelImportContract(Contract):
    """Options: ``forbidden_modules``, top-level names of external packages."""

    type_name = "module_level_imports"
    forbidden_modules = fields.ListField(subfield=fields.StringField())

    def check(self, graph, verbose: bool) -> ContractCheck:
        offences = []
        for importer in sorted(graph.modules):
            for framework in self.forbidden_modules:
                if framework not in graph.modules:
                    continue
                details = graph.get_import_details(importer=importer, imported=framework)
                at_module_level = _module_level_lines(importer)
                offences += [
                    (importer, detail["line_number"], detail["line_contents"])
                    for detail in details
                    if detail["line_number"] in at_module_level
                ]
        return ContractCheck(kept=not offences, metadata={"offences": offences})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for importer, line_number, line_contents in check.metadata["offences"]:
            output.print_error(f"{importer}:{line_number}: {line_contents} (at module level)")
            output.new_line()


class AcyclicContract(Contract):
    """Options: ``root``, the package whose modules may not import each other in a cycle."""

    type_name = "acyclic"
    root = fields.StringField()

    def check(self, graph, verbose: bool) -> ContractCheck:
        modules = sorted(m for m in graph.modules if m.startswith(self.root))
        cycles = []
        for importer in modules:
            for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                if imported == importer or not imported.startswith(self.root):
                    continue
                back = graph.find_shortest_chain(importer=imported, imported=importer)
                if back is not None and (imported, importer) not in cycles:
                    cycles.append((importer, imported, back))
        return ContractCheck(kept=not cycles, metadata={"cycles": cycles})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for importer, imported, back in check.metadata["cycles"]:
            output.print_error(f"{importer} -> {imported}, and back: {' -> '.join(back)}")
            output.new_line()


@cache
def _module_level_lines(module: str) -> frozenset[int]:
    """Line numbers of the import statements that run when ``module`` is imported."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return frozenset()
    with open(spec.origin, encoding="utf-8") as source:
        tree = ast.parse(source.read())
    return frozenset(_import_lines(tree.body))


def _import_lines(statements: list[ast.stmt]) -> list[int]:
    lines = []
    for statement in statements:
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            lines.append(statement.lineno)
        elif isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue  # runs when called, not when imported
        elif isinstance(statement, ast.If) and _is_type_checking(statement.test):
            lines += _import_lines(statement.orelse)
        else:
            for block in ("body", "orelse", "finalbody", "handlers"):
                for child in getattr(statement, block, []):
                    inner = child.body if isinstance(child, ast.ExceptHandler) else [child]
                    lines += _import_lines(inner)
    return lines


def _is_type_checking(test: ast.expr) -> bool:
    name = test.attr if isinstance(test, ast.Attribute) else getattr(test, "id", None)
    return name == "TYPE_CHECKING"
