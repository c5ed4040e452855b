"""Which source a method's results depend on, as one fingerprint, so that a change to that source
cannot reuse cached runs silently.

A run's cache key holds its method's ``Method.version``. ``code_fingerprint(name)`` hashes the
source of every ``hashlib_core`` module the method's module imports, transitively (function-level
imports too), plus the trainer, the trunk cache and the runner; docstrings and comments do not
count (the source is compared as its syntax tree). ``tests/test_method_versions.py`` compares each
method's fingerprint with the one recorded beside its version in
``tests/fixtures/method_versions.json``: a change of the source with the same version fails, so a
change that alters results bumps the version (and so the cache key), and one that does not is
recorded as such, with a reason (``python scripts/record_method_versions.py``).
"""
from __future__ import annotations

import ast
import hashlib
from functools import lru_cache
from pathlib import Path

from .base import METHODS, get_method

__all__ = ["code_fingerprint", "module_closure", "ALWAYS"]

PACKAGE = Path(__file__).resolve().parents[1]
#: modules every method's results go through (their own source; the runner imports every method)
ALWAYS = ("hashlib_core.runner", "hashlib_core.train", "hashlib_core.trunk")


def _module_files() -> dict:
    return {".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): p
            for p in PACKAGE.rglob("*.py")}


def _imports(module: str, path: Path, files: dict) -> set:
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            mod = (f"{base}.{node.module}" if node.module else base) if node.level else (node.module or "")
            out.update([mod] + [f"{mod}.{a.name}" for a in node.names])
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    deps = set()
    for imp in out:
        while imp and imp not in files:
            imp = imp.rsplit(".", 1)[0] if "." in imp else ""
        if imp.startswith("hashlib_core") and imp != module:
            deps.add(imp)
    return deps


@lru_cache(maxsize=None)
def module_closure(module: str) -> tuple:
    """``module`` and every hashlib_core module it imports, transitively, sorted."""
    files = _module_files()
    seen, todo = set(), [module]
    while todo:
        m = todo.pop()
        if m in seen or m not in files:
            continue
        seen.add(m)
        todo.extend(_imports(m, files[m], files))
    return tuple(sorted(seen))


def _normalised_source(path: Path) -> str:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):  # docstrings are not code
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(getattr(body[0], "value", None), ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, include_attributes=False)


def code_fingerprint(name: str) -> str:
    """SHA-256 (first 16 hex digits) of the normalised source of method ``name``'s module closure."""
    method = get_method(name)
    files = _module_files()
    mods = set(module_closure(method.build_model.__module__)) | set(ALWAYS)
    h = hashlib.sha256()
    for m in sorted(mods):
        h.update(m.encode())
        h.update(_normalised_source(files[m]).encode())
    return h.hexdigest()[:16]


def all_fingerprints() -> dict:
    return {name: code_fingerprint(name) for name in sorted(METHODS)}
