"""Paper 001 (MDFF-SH: Redaoui et al., *Multiscale Deep Feature Fusion for High-Precision Image
Retrieval through Supervised Hashing*, J. Imaging 11(1):20, 2025, preprint Nov. 2024) and its precursor 002 (DMSH, ICAITA 2022,
doi:10.1007/978-3-031-28540-0_4): its tables laid out beside our runs (notebooks 30–33).

Runs go through :func:`sweep`, which is :func:`hashlib_core.runner.sweep` plus one rule: a run of
``mdffsh`` / ``dmsh`` whose resolved config equals, in everything but the method's name, the config
DSHFMDF's own notebooks resolve for the same profile, recipe and overrides *is* DSHFMDF's run (the
same network builder, criterion and seeds: :mod:`hashlib_core.methods.mdffsh`), and is fetched
under DSHFMDF's config so the run cache serves one run to both papers (on this machine: the
pretrained Lite0 path, and DMSH = DSHFMDF's ``conv3-5`` ablation). docs/decisions.md, "MDFF-SH
(paper 001) and DMSH (paper 002)". Computation lives in the package; this module only assembles.
"""
from __future__ import annotations

import dataclasses
from typing import Iterable, Mapping, Sequence

import pandas as pd

from hashlib_core.claims import not_run, ordering_claim
from hashlib_core.names import PAPER_DATASET, paper_method_name
from hashlib_core.papers.p000_dshfmdf import table2_layout
from hashlib_core.runner import RunConfig, make_config, run_many
from hashlib_core.tables import results_frame

__all__ = ["TABLE2_ORDER", "TABLE3_ORDER", "TWIN_METHOD", "STAND_INS", "OBJECTIVES", "run_config", "scratch_overrides",
           "shared_with_dshfmdf", "sweep", "runs_frame", "method_rows", "stand_in_columns", "table_layout", "objectives",
           "scale_claims", "objective_claims", "backbone_claim"]

#: the row order of paper 001's Table 2 (CIFAR-10, NUS-WIDE) and Table 3 (MS-COCO)
TABLE2_ORDER = ["SH", "ITQ", "KSH", "SDH", "CNNH", "DNNH", "DHN", "HashNet", "DPH", "LRH", "MFLH", "DSHFMDF",
                "MDFF-SH"]
TABLE3_ORDER = ["SGH", "SH", "PCAH", "LSH", "ITQ", "DHN", "HashNet", "DCH", "DHDW", "DSHFMDF", "MDFF-SH"]
#: our stand-in protocols and the paper dataset whose column each fills (docs/data.md)
STAND_INS = {"cifar10-mosaic": "nuswide21", "cifar10-mosaic-coco": "mscoco"}
#: paper 001 Table 5's arms in reported.csv's names: MDFF-SH-J2 = without J3 (γ = 0), MDFF-SH-J3 =
#: without J2 (β = 0) (docs/decisions.md); ``objectives(beta, gamma)`` gives their loss settings
OBJECTIVES = ("J1+J2 (gamma=0)", "J1+J3 (beta=0)", "J1+J2+J3")
#: methods whose runs may be DSHFMDF's (their parts are DSHFMDF's, only the network defaults differ)
TWIN_METHOD = {"mdffsh": "dshfmdf", "dmsh": "dshfmdf"}

_SAME = ("protocol", "bits", "seed", "profile", "model", "loss", "train", "input_size", "subset", "device",
         "num_threads")


def scratch_overrides(setting: Mapping | None) -> dict:
    """Notebook 30's ``scratch_setting`` (the from-scratch rows' change to the profile's network,
    chosen on a validation split: docs/mdffsh_scratch_recipe.md) as :func:`sweep` keyword arguments
    ``recipe`` / ``model`` / ``train``; one ValueError naming what is allowed, before any run."""
    setting = dict(setting or {})
    unknown = sorted(set(setting) - {"recipe", "model", "train"})
    if unknown:
        raise ValueError(f"scratch_setting has unknown key(s) {unknown}; allowed: recipe (a recipe name of the "
                         "profile), model (dict), train (dict)")
    recipe = setting.get("recipe")
    if recipe is not None and not isinstance(recipe, str):
        raise ValueError(f"scratch_setting['recipe'] must be a recipe name or None, got {recipe!r}")
    for key in ("model", "train"):
        if not isinstance(setting.get(key) or {}, Mapping):
            raise ValueError(f"scratch_setting[{key!r}] must be a dict of {key} settings, got {setting[key]!r}")
    return {"recipe": recipe, "model": dict(setting.get("model") or {}) or None,
            "train": dict(setting.get("train") or {}) or None}


def shared_with_dshfmdf(config: RunConfig, twin: RunConfig) -> bool:
    """Whether ``config`` (an mdffsh / dmsh run) and ``twin`` (DSHFMDF's) are one computation:
    every field but the method's name and code version equal."""
    a, b = config.to_dict(), twin.to_dict()
    return all(a[k] == b[k] for k in _SAME)


def run_config(profile, method: str, protocol: str, bits: int, seed: int, model: Mapping | None = None,
               loss: Mapping | None = None, train: Mapping | None = None, recipe: str | None = None) -> RunConfig:
    """:func:`hashlib_core.runner.make_config`, or DSHFMDF's config for the same settings when the
    two are one computation (:func:`shared_with_dshfmdf`); DSHFMDF's is resolved with the method's
    own ``variant`` and the caller's overrides, as notebooks 01/04/05 resolve theirs."""
    config = make_config(profile, method, protocol, bits, seed, model=model, loss=loss, train=train, recipe=recipe)
    twin_name = TWIN_METHOD.get(method)
    if twin_name is None:
        return config
    twin = make_config(profile, twin_name, protocol, bits, seed,
                       model={"variant": config.model.get("variant", "fused"), **dict(model or {})},
                       loss=loss, train=train, recipe=recipe)
    return twin if shared_with_dshfmdf(config, twin) else config


def sweep(profile, method: str, protocol: str, bits: Iterable[int], seeds: Iterable[int],
          model: Mapping | None = None, loss: Mapping | None = None, train: Mapping | None = None,
          recipe: str | None = None, progress: bool = True, **kwargs) -> list:
    """Every (bits, seed) run of ``method`` on ``protocol`` (:func:`hashlib_core.runner.run_many`),
    DSHFMDF's cached run wherever it is the same computation (:func:`run_config`), labelled
    ``asked_as=method`` so a table counts it as ``method``."""
    configs = [run_config(profile, method, protocol, b, s, model=model, loss=loss, train=train, recipe=recipe)
               for b in bits for s in seeds]
    return [r if r.config.method == method else dataclasses.replace(r, asked_as=method)
            for r in run_many(configs, progress=progress, **kwargs)]


def runs_frame(results: Sequence, method: str | Sequence[str]) -> pd.DataFrame:
    """:func:`hashlib_core.tables.results_frame` plus ``as`` (the method each run was asked for: a
    run of DSHFMDF's config asked for as ``mdffsh`` counts as MDFF-SH), ``run of`` (the method whose
    config the cache holds it under), ``paper_method`` and ``dataset``."""
    results = list(results)
    asked = [method] * len(results) if isinstance(method, str) else list(method)
    if len(asked) != len(results):
        raise ValueError(f"{len(results)} runs but {len(asked)} method names")
    df = results_frame(results)
    df["as"] = asked
    df["run of"] = [r.config.method for r in results]
    df["paper_method"] = [paper_method_name(m) for m in asked]
    df["dataset"] = df["protocol"].map(PAPER_DATASET)
    return df


def method_rows(ours: pd.DataFrame) -> pd.DataFrame:
    """Summary rows (:func:`hashlib_core.tables.summarise` by at least ``paper_method, as, run of,
    setting, dataset, bits``) in the shape :func:`table_layout` takes: the network setting as the
    row's ``inputs``, saying so where the run is DSHFMDF's (the same network)."""
    shared = ours["run of"] != ours["as"]
    return ours.assign(inputs=ours["setting"].where(~shared, ours["setting"] + " (DSHFMDF's run: the same network)"))


def stand_in_columns(protocols: Iterable[str]) -> dict:
    """{paper dataset: column title} for the stand-in protocols among ``protocols``."""
    return {STAND_INS[p]: f"{STAND_INS[p]} (ours: {p})" for p in protocols if p in STAND_INS}


def table_layout(ours: pd.DataFrame, paper: pd.DataFrame, order: Sequence[str], protocols: Iterable[str] = (),
                 digits: int = 3) -> pd.DataFrame:
    """Paper 001's layout (methods × dataset@bits): ``paper`` / ``ours`` / ``diff`` rows per method we
    ran, reported-only rows for the rest (:func:`hashlib_core.papers.p000_dshfmdf.table2_layout`),
    the columns a stand-in protocol fills named as such."""
    return table2_layout(ours, paper, order=order, stand_in=stand_in_columns(protocols), digits=digits)


def objectives(beta: float, gamma: float) -> dict:
    """Table 5's arms (:data:`OBJECTIVES`) -> their loss settings."""
    return dict(zip(OBJECTIVES, ({"beta": beta, "gamma": 0.0}, {"beta": 0.0, "gamma": gamma},
                                 {"beta": beta, "gamma": gamma})))


def scale_claims(runs: pd.DataFrame) -> list:
    """Paper 001 §3.5 (1), Table 4: fused > fc1 > conv3-5 (column ``variant``)."""
    return [ordering_claim(runs, "variant", ["fused", "fc1", "conv3-5"], "fused > fc1 > conv3-5 (001 Table 4)")]


def objective_claims(runs: pd.DataFrame) -> list:
    """Paper 001 §3.5 (2), Table 5: the full objective beats either ablation (column ``variant``)."""
    return [ordering_claim(runs, "variant", ["J1+J2+J3", "J1+J2 (gamma=0)"], "full > MDFF-SH-J2 (no J3; 001 Table 5)"),
            ordering_claim(runs, "variant", ["J1+J2+J3", "J1+J3 (beta=0)"], "full > MDFF-SH-J3 (no J2; 001 Table 5)")]


def backbone_claim(runs: pd.DataFrame, protocol: str) -> dict:
    """The analogue of 001's cross-paper claim (MDFF-SH on ResNet-50 beats DSHFMDF on VGG-19 at
    every length, 001 Table 2 vs 000 Table 2) that one setting can test: the same head, objective,
    schedule and protocol on the two backbones (column ``model.backbone``), paired by (bits, seed)."""
    claim = f"ResNet-50 head > VGG-19-BN head, same setting ({protocol})"
    sub = runs[(runs["protocol"] == protocol) & (runs["model.variant"] == "fused")] if len(runs) else runs
    have = set(sub["model.backbone"]) if len(sub) else set()
    if not {"resnet50", "vgg19_bn"} <= have:
        return not_run(claim, f"needs fused runs on both backbones on {protocol}; have {sorted(have)}",
                       ["resnet50", "vgg19_bn"])
    settings = {b: set(sub.loc[sub["model.backbone"] == b, "setting"]) for b in ("resnet50", "vgg19_bn")}
    row = ordering_claim(sub, "model.backbone", ["resnet50", "vgg19_bn"], claim)
    row["settings"] = " vs ".join("/".join(sorted(v)) for v in settings.values())
    return row
