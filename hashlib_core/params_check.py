"""Per-notebook parameter validation, before any work: one schema per notebook.

A notebook's schema is its ``parameters`` cell (the default values give each parameter's type,
and a list's element type) plus one table of semantic rules keyed by parameter name
(:data:`RULES`): code lengths are integers >= 1, seeds non-negative integers and a non-empty
list, methods / backbones / protocols / recipes / features / variants known to their registries
(imported lazily), and in DSHC notebooks (paper 004) code lengths a multiple of the number of
CIFAR-10 classes (CPBC: ``bits % num_classes == 0``). Each problem names the parameter file, the
parameter and what is allowed; all of a file's problems come as one :class:`ParameterError`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

__all__ = ["ParameterError", "RULES", "load_params_file", "check_parameters"]


class ParameterError(ValueError):
    """A parameter file is malformed or holds a value the notebook cannot take."""


# -------------------------------------------------------------------------------------------------
# Registries (imported when a rule needs them: importing methods pulls in torch)
# -------------------------------------------------------------------------------------------------


def _methods() -> list[str]:
    from hashlib_core.methods import METHODS

    return sorted(METHODS)


def _shallow() -> list[str]:
    from hashlib_core.methods import SHALLOW_METHODS

    return sorted(SHALLOW_METHODS)


def _backbones() -> list[str]:
    from hashlib_core.models import BACKBONES  # every family registers on import of the package

    return sorted(BACKBONES)


def _protocols() -> list[str]:
    from hashlib_core.data import PROTOCOLS

    return sorted(PROTOCOLS)


def _protocols_of(dataset: str) -> list[str]:
    """The protocols that fill a paper dataset's column (hashlib_core.names.PAPER_DATASET)."""
    from hashlib_core.names import PAPER_DATASET

    return sorted(p for p in _protocols() if PAPER_DATASET.get(p) == dataset)


def _variants() -> list[str]:
    from hashlib_core.models import VARIANTS

    return sorted(VARIANTS)


def _num_classes_dshc() -> int:
    # CIFAR-10 and its mosaic stand-in, the data of every DSHC notebook
    from hashlib_core.data.cifar import CIFAR10_CLASSES

    return len(CIFAR10_CLASSES)


# -------------------------------------------------------------------------------------------------
# Rules
# -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """What one value (a scalar, or each element of a list) must be."""

    element: str  # "int" | "number" | "str"
    minimum: float | None = None
    known: Callable[[Mapping[str, Any]], list[str]] | None = None  # allowed names (context -> list)
    nonempty: bool = False  # a list must have at least one element
    optional: bool = False  # None is allowed (in lists too)
    what: str = ""
    accepts: Callable[[str], bool] | None = None  # a name outside ``known`` that is still valid

    def allowed(self) -> str:
        if self.what:
            return self.what
        if self.element == "int":
            return f"an integer >= {self.minimum:g}" if self.minimum is not None else "an integer"
        if self.element == "number":
            return f"a number >= {self.minimum:g}" if self.minimum is not None else "a number"
        return "a string"


def _recipes(ctx: Mapping[str, Any]) -> list[str]:
    from hashlib_core.profiles import load_profile

    return sorted(load_profile(ctx["profile"]).recipes or {})


def _features(ctx: Mapping[str, Any]) -> list[str]:
    from hashlib_core.baselines.features import known_features

    return known_features()


def _feature_ok(name: str) -> bool:
    from hashlib_core.baselines.features import check_features

    try:
        check_features(name)  # also the well-formed sizes of "lite0-fc1@<px>"
    except ValueError:
        return False
    return True


_BITS = Rule("int", 1, what="an integer number of bits >= 1")
_SEEDS = Rule("int", 0, nonempty=True, what="an integer >= 0")
_SEED = Rule("int", 0, what="an integer >= 0")
_POS_INT = Rule("int", 1)
_NONNEG = Rule("number", 0)
_METHOD = Rule("str", known=lambda ctx: _methods(), nonempty=True)
_PROTOCOL = Rule("str", known=lambda ctx: _protocols(), nonempty=True)
_RECIPE = Rule("str", known=_recipes, optional=True)

#: parameter name -> rule, one table for every notebook
RULES: dict[str, Rule] = {
    **{n: _BITS for n in ("bits", "bits_table1", "bits_table2", "sanity_bits", "tie_bits", "curve_bits",
                          "deep_bits", "compare_ml_bits", "coco_bits", "scratch_bits")},
    **{n: _SEEDS for n in ("seeds", "seeds_table2", "kbc_seeds", "compare_seeds", "ml_seeds", "coco_seeds",
                           "baseline_seeds")},
    **{n: _SEED for n in ("seed", "curve_seed")},
    **{n: _POS_INT for n in ("top", "topk", "p_at_n", "kbc_threshold")},
    "tsne_points": Rule("int", 0, what="an integer >= 0 (0: every query)"),
    **{n: _NONNEG for n in ("beta", "gamma", "default_beta", "default_gamma", "betas", "gammas")},
    "perplexity": Rule("number", 1),
    "train_subset": Rule("int", 0, what="an integer >= 0 (0: all training images)"),
    **{n: _METHOD for n in ("compare_methods", "table2_methods", "table3_methods", "deep_methods")},
    "shallow_methods": Rule("str", known=lambda ctx: _shallow(), nonempty=True),
    "exclude": Rule("str", known=lambda ctx: _methods()),
    **{n: Rule("str", known=lambda ctx: _backbones(), nonempty=True) for n in ("backbone", "backbones")},
    **{n: _PROTOCOL for n in ("protocol", "protocols", "pretrained_protocols", "ml_protocol",
                              "dshfmdf_protocols", "coco_protocol")},
    **{n: _RECIPE for n in ("recipe", "pretrained_recipe", "recipes", "coco_recipes")},
    # paper 003's ImageNet column (notebook 44): "" = reported only
    "imagenet_protocol": Rule("str", known=lambda ctx: _protocols_of("imagenet"), accepts=lambda v: v == "",
                              what="'' (the ImageNet column reported only) or a protocol of ImageNet images"),
    "features": Rule("str", known=_features, nonempty=True, accepts=_feature_ok),
    "variants": Rule("str", known=lambda ctx: _variants(), nonempty=True),
}

#: code-length parameters of DSHC notebooks (stems with ``_dshc_``): CPBC needs bits % classes == 0
DSHC_BITS = ("bits", "bits_table1", "bits_table2")
_DSHC_NOTEBOOK = re.compile(r"_dshc_")


# -------------------------------------------------------------------------------------------------
# Loading and checking
# -------------------------------------------------------------------------------------------------


def load_params_file(path: Path) -> dict[str, Any]:
    """The mapping in a papermill parameter file; ParameterError naming the file (and the line of
    a YAML syntax error), or saying that the file is not a mapping."""
    import yaml

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        # the context mark is where the broken construct starts (an unclosed '['), the problem
        # mark where the parser noticed; name the first, mention the second
        context, problem_mark = getattr(err, "context_mark", None), getattr(err, "problem_mark", None)
        mark = context or problem_mark
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(err, "problem", None) or str(err)
        noticed = (f"; noticed at line {problem_mark.line + 1}"
                   if context is not None and problem_mark is not None and problem_mark.line != context.line else "")
        raise ParameterError(f"{where}: malformed YAML ({problem}{noticed}); a parameter file is lines "
                             f"'name: value'") from err
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ParameterError(f"{path}: a parameter file must be a mapping of parameter names to values "
                             f"('bits: [12, 48]' lines), not a {type(raw).__name__}")
    bad = [k for k in raw if not isinstance(k, str)]
    if bad:
        raise ParameterError(f"{path}: parameter names must be strings, got {bad!r}")
    return raw


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return type(value).__name__


def _element_kind(default: list) -> str | None:
    """Element type of a default list: int, number, str or None (empty or mixed: use the rule)."""
    kinds = {_kind(v) for v in default if v is not None}
    if kinds == {"int"}:
        return "int"
    if kinds <= {"int", "float"} and kinds:
        return "number"
    if kinds == {"str"}:
        return "str"
    return None


def _element_ok(kind: str, value: Any) -> bool:
    if kind == "int":
        return _kind(value) == "int"
    if kind == "number":
        return _kind(value) in ("int", "float")
    if kind == "str":
        return isinstance(value, str)
    return True


def _type_problem(name: str, default: Any, value: Any) -> str | None:
    """The notebook's default decides the type (None: any); lists are checked element by element."""
    if default is None:
        return None
    dk, vk = _kind(default), _kind(value)
    if dk == "bool":
        return None if vk == "bool" else f"parameter {name!r} must be bool like the default {default!r}, got {vk} {value!r}"
    if dk == "float":
        return None if vk in ("int", "float") else (
            f"parameter {name!r} must be float like the default {default!r}, got {vk} {value!r}")
    if isinstance(default, list):
        if not isinstance(value, list):
            return f"parameter {name!r} must be a list like the default {default!r}, got {vk} {value!r}"
        ek = _element_kind(default) or (RULES[name].element if name in RULES else None)
        if ek is None:
            return None
        optional = any(v is None for v in default) or (name in RULES and RULES[name].optional)
        bad = [f"element {i} is {_kind(v)} {v!r}" for i, v in enumerate(value)
               if not (v is None and optional) and not _element_ok(ek, v)]
        if bad:
            want = {"int": "integers", "number": "numbers", "str": "strings"}[ek]
            return f"parameter {name!r}: {', '.join(bad)}; the elements must be {want} (like the default {default!r})"
        return None
    if dk == "int":
        return None if vk == "int" else f"parameter {name!r} must be int like the default {default!r}, got {vk} {value!r}"
    if not isinstance(value, type(default)):
        return (f"parameter {name!r} must be {type(default).__name__} like the default {default!r}, "
                f"got {vk} {value!r}")
    return None


def _rule_problems(name: str, rule: Rule, value: Any, ctx: Mapping[str, Any], stem: str) -> list[str]:
    if value is None:
        return [] if rule.optional or ctx["defaults"].get(name, 0) is None else [
            f"parameter {name!r} must not be null; allowed: {rule.allowed()}"]
    items = value if isinstance(value, list) else [value]
    if isinstance(value, list) and rule.nonempty and not value:
        return [f"parameter {name!r} is an empty list; allowed: a non-empty list, each element {rule.allowed()}"]
    problems = []
    known = None
    for v in items:
        if v is None and rule.optional:
            continue
        if not _element_ok(rule.element, v):
            problems.append(f"parameter {name!r}: {_kind(v)} {v!r} is not {rule.allowed()}")
            continue
        if rule.minimum is not None and v < rule.minimum:
            problems.append(f"parameter {name!r}: {v!r} is below the minimum; allowed: {rule.allowed()}")
        if rule.known is not None:
            known = rule.known(ctx) if known is None else known
            base = v[: -len(":val")] if v.endswith(":val") else v  # a protocol's validation split
            if v not in known and base not in known and not (rule.accepts and rule.accepts(v)):
                problems.append(f"parameter {name!r}: unknown {v!r}; allowed: {', '.join(known) or '(none)'}")
    if name in DSHC_BITS and _DSHC_NOTEBOOK.search(stem) and not problems:
        c = _num_classes_dshc()
        bad = [v for v in items if isinstance(v, int) and v % c]
        if bad:
            problems.append(f"parameter {name!r}: {bad} bits; DSHC's CPBC centres need a multiple of the "
                            f"{c} classes (Luo et al., DSHC: CPBC's code length is C x H); allowed: "
                            f"{', '.join(str(c * k) for k in range(1, 7))}, ...")
    return problems


def check_parameters(stem: str, defaults: Mapping[str, Any], params: Mapping[str, Any]) -> list[str]:
    """Every problem of ``params`` for the notebook ``stem`` whose ``parameters`` cell has
    ``defaults`` (unknown names, types, element types, semantic rules), as messages."""
    problems = []
    for name in params:
        if name not in defaults:
            problems.append(f"unknown parameter {name!r} (the notebook takes: {', '.join(sorted(defaults))})")
    ctx = {"profile": params.get("profile", defaults.get("profile", "cpu")), "defaults": defaults}
    for name, default in defaults.items():
        if name not in params:
            continue
        value = params[name]
        typed = _type_problem(name, default, value)
        if typed:
            problems.append(typed)
            continue
        if name in RULES:
            problems.extend(_rule_problems(name, RULES[name], value, ctx, stem))
    return problems


def format_problems(source: str | Path, problems: Iterable[str]) -> str:
    return f"{source}:\n  - " + "\n  - ".join(problems)
