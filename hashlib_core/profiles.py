"""Profiles: the named sets of sizes and training settings in ``params/profiles/*.yaml``.

A profile is loaded once, checked against :data:`PROFILE_SCHEMA` (unknown keys and wrong types
fail before any work starts) and returned as a plain frozen :class:`Profile`.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping

import yaml

from hashlib_core.paths import repo_root

PROFILES_DIR_NAME = "params/profiles"


@dataclasses.dataclass(frozen=True)
class Profile:
    name: str
    description: str
    device: str
    num_threads: int
    input_size: int
    width: float
    epochs: int
    batch_size: int
    lr: float
    backbone_lr: float
    weight_decay: float
    seeds: tuple[int, ...]
    subset: Mapping[str, int] | None
    weights: str | None = None
    # per-method config overrides the profile needs, e.g. {"dshfmdf": {"loss": {"pairs": "batch"}}}
    method_overrides: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None
    # named alternative recipes within the profile, e.g. the pretrained Lite0 row of paper 000's
    # Table 2: {"lite0": {"description": ..., "input_size": 224, "model": {...}, "train": {...}}}
    recipes: Mapping[str, Mapping[str, Any]] | None = None

    def recipe(self, name: str | None) -> dict[str, Any]:
        """The named recipe's overrides ({} for None); one clear error for an unknown name."""
        if name is None:
            return {}
        if name not in (self.recipes or {}):
            raise ValueError(f"profile {self.name!r} has no recipe {name!r}; it has {sorted(self.recipes or {})}")
        return dict(self.recipes[name])

    def training(self) -> dict[str, Any]:
        """The optimiser/schedule settings that enter a run's config (and so its cache key)."""
        return {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "lr": self.lr,
            "backbone_lr": self.backbone_lr,
            "weight_decay": self.weight_decay,
        }


# key -> accepted python types; int is accepted where a float is expected.
PROFILE_SCHEMA: dict[str, tuple[type, ...]] = {
    "description": (str,),
    "device": (str,),
    "num_threads": (int,),
    "input_size": (int,),
    "width": (float, int),
    "epochs": (int,),
    "batch_size": (int,),
    "lr": (float, int),
    "backbone_lr": (float, int),
    "weight_decay": (float, int),
    "seeds": (list,),
    "subset": (dict, type(None)),
    "weights": (str, type(None)),
    "method_overrides": (dict, type(None)),
    "recipes": (dict, type(None)),
}
OPTIONAL_KEYS = {"weights", "method_overrides", "recipes"}
RECIPE_KEYS = {"description", "input_size", "model", "loss", "train"}


def profiles_dir() -> Path:
    return repo_root() / PROFILES_DIR_NAME


def available_profiles() -> list[str]:
    return sorted(p.stem for p in profiles_dir().glob("*.yaml"))


def validate_profile_dict(name: str, raw: Mapping[str, Any]) -> None:
    """Raise one ValueError listing every problem with a profile's raw mapping."""
    problems = []
    unknown = sorted(set(raw) - set(PROFILE_SCHEMA))
    if unknown:
        problems.append(f"unknown key(s) {unknown}; allowed: {sorted(PROFILE_SCHEMA)}")
    missing = sorted(set(PROFILE_SCHEMA) - set(raw) - OPTIONAL_KEYS)
    if missing:
        problems.append(f"missing key(s) {missing}")
    for key, types in PROFILE_SCHEMA.items():
        if key in raw and (not isinstance(raw[key], types) or isinstance(raw[key], bool)):
            names = " or ".join(t.__name__ for t in types)
            problems.append(f"{key!r} must be {names}, got {type(raw[key]).__name__} ({raw[key]!r})")
    if isinstance(raw.get("seeds"), list) and not all(isinstance(s, int) for s in raw["seeds"]):
        problems.append("'seeds' must be a list of integers")
    if isinstance(raw.get("subset"), dict):
        bad = set(raw["subset"]) - {"query", "database", "train"}
        if bad:
            problems.append(f"'subset' has unknown part(s) {sorted(bad)}; allowed: query, database, train")
    overrides = raw.get("method_overrides")
    if isinstance(overrides, dict):
        for method, parts in overrides.items():
            bad = set(parts or {}) - {"model", "loss", "train"} if isinstance(parts, dict) else {"<not a mapping>"}
            if bad:
                problems.append(f"'method_overrides.{method}' may only hold model / loss / train, got {sorted(bad)}")
    recipes = raw.get("recipes")
    if isinstance(recipes, dict):
        for rname, recipe in recipes.items():
            bad = set(recipe or {}) - RECIPE_KEYS if isinstance(recipe, dict) else {"<not a mapping>"}
            if bad:
                problems.append(f"'recipes.{rname}' may only hold {sorted(RECIPE_KEYS)}, got {sorted(bad)}")
            elif "input_size" in recipe and (not isinstance(recipe["input_size"], int)
                                             or isinstance(recipe["input_size"], bool)):
                problems.append(f"'recipes.{rname}.input_size' must be int, got {recipe['input_size']!r}")
    if problems:
        raise ValueError(f"profile {name!r} is invalid:\n  - " + "\n  - ".join(problems))


def load_profile(name: str = "cpu") -> Profile:
    """Load ``params/profiles/<name>.yaml`` as a validated :class:`Profile`."""
    if not isinstance(name, str):
        raise TypeError(f"profile name must be a string, got {type(name).__name__}")
    path = profiles_dir() / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"unknown profile {name!r}; available: {available_profiles()}")
    raw = yaml.safe_load(path.read_text()) or {}
    validate_profile_dict(name, raw)
    values = dict(raw)
    values["seeds"] = tuple(values["seeds"])
    for key in ("width", "lr", "backbone_lr", "weight_decay"):
        values[key] = float(values[key])
    return Profile(name=name, **values)
