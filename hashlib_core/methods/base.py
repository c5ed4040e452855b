"""What a method is: a declared set of parts, registered once.

A :class:`Method` names

* ``family`` — how it learns: ``"deep"`` (a network trained by :func:`hashlib_core.train.fit`) or
  ``"shallow"`` (a numpy / scikit-learn model fitted on image descriptors);
* ``build_model(config, split)`` — the network (deep) or the shallow model (``fit`` / ``project``);
* ``build_criterion(config, split)`` — deep only: ``criterion(output, batch) -> (loss, {term: float})``,
  reading the model output by name (``output.u``, ``output.logits``) and the batch as a
  :class:`~hashlib_core.train.Batch` (``inputs``, ``labels``, ``index``), so reconstruction losses see the inputs;
* ``encode_output(output)`` — deep only: the continuous code the quantizer sees;
* ``build_quantizer(config, split)`` — the encoding rule: ``encode(continuous) -> {-1,+1}``, after
  ``fit(training outputs)`` when ``needs_fit`` (a threshold learned on the training images);
* ``input_spec`` — what the network is fed (:class:`~hashlib_core.data.transforms.InputSpec`:
  channels, normalisation); the trainer, the encoder and the trunk cache all use it;
* ``extra_metrics`` — ``fn(query_codes, db_codes, split) -> {name: value}`` computed inside the run
  and cached with it, beside the standard :func:`hashlib_core.metrics.evaluate` metrics;
* ``network_metrics`` — ``fn(model, quantizer, config, split) -> {name: value}``, metrics of the
  trained network (or fitted shallow model) itself (paper 003's reconstruction error and code
  stability), computed after the codes and cached with the run;
* ``defaults`` — the method's own ``model`` / ``loss`` settings;
* ``profile_keys`` — which profile settings reach it: model keys (e.g. ``width``, ``weights``) and
  whether the profile's training schedule applies. A setting a method does not declare never
  reaches its builder (the cpu profile's ``width`` does not reach a shallow method);
* ``version`` — bumped when the method's code changes its results; part of the run's cache key
  (``tests/test_method_versions.py`` fails when a method's source changes without a bump).

:func:`register_method` refuses a second method of the same name.

A protocol may add readings of its own that every method run on it should report (paper 003's
Table I / II readings and code stability on ``cifar10-selfsup``): :class:`ProtocolReadings`,
registered once per protocol by the module that defines them (:func:`register_protocol_readings`)
and looked up by a method's parts (:func:`protocol_readings`), e.g. the shallow methods'.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping, Optional, Sequence

from hashlib_core.quantizers import SignQuantizer
from hashlib_core.data.transforms import RGB_IMAGENET, InputSpec
from hashlib_core.train import Batch

__all__ = ["Method", "InputSpec", "Batch", "SignQuantizer", "ProfileKeys", "METHODS", "register_method",
           "get_method", "ProtocolReadings", "PROTOCOL_READINGS", "register_protocol_readings", "protocol_readings",
           "sign_quantizer", "DEEP_PROFILE_KEYS", "NO_PROFILE_KEYS"]


def sign_quantizer(config, split) -> SignQuantizer:
    return SignQuantizer()


@dataclasses.dataclass(frozen=True)
class ProfileKeys:
    """Which profile settings reach a method: model keys copied from the profile (``width``,
    ``weights``), whether the profile's training schedule and input size apply, and whether its
    named recipes (e.g. ``lite0``: a pretrained backbone with a frozen trunk) do."""

    model: Sequence[str] = ()
    train: bool = False
    input_size: bool = False
    recipes: bool = False


DEEP_PROFILE_KEYS = ProfileKeys(model=("width", "weights"), train=True, input_size=True, recipes=True)
NO_PROFILE_KEYS = ProfileKeys()


@dataclasses.dataclass(frozen=True)
class Method:
    name: str
    family: str
    build_model: Callable[[Any, Any], Any]
    build_criterion: Optional[Callable[[Any, Any], Callable]] = None
    encode_output: Optional[Callable[[Any], Any]] = None
    build_quantizer: Callable[[Any, Any], Any] = sign_quantizer
    input_spec: InputSpec = RGB_IMAGENET
    extra_metrics: Sequence[Callable] = ()
    network_metrics: Sequence[Callable] = ()
    defaults: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    profile_keys: ProfileKeys = DEEP_PROFILE_KEYS
    paper: str = ""          # the paper that defines it ("000", ...), "" for a baseline
    version: int = 1

    def __post_init__(self):
        if self.family not in ("deep", "shallow"):
            raise ValueError(f"method {self.name!r}: family must be 'deep' or 'shallow', got {self.family!r}")
        if self.family == "deep" and (self.build_criterion is None or self.encode_output is None):
            raise ValueError(f"deep method {self.name!r} needs build_criterion and encode_output")


#: every registered method by name (filled by the family modules of this package on import)
METHODS: dict[str, Method] = {}


def register_method(method: Method) -> Method:
    """Add ``method`` to :data:`METHODS`; a second method of the same name is refused."""
    if method.name in METHODS:
        raise ValueError(f"method {method.name!r} is already registered")
    METHODS[method.name] = method
    return method


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; known: {sorted(METHODS)}")
    return METHODS[name]


@dataclasses.dataclass(frozen=True)
class ProtocolReadings:
    """A protocol's own readings beyond the standard metrics.

    ``code_metrics``: ``fn(query_codes, db_codes, split) -> {name: value}``;
    ``stability_queries``: how many of the first queries' codes are also measured under the
    perturbations of :mod:`hashlib_core.robustness` (0: none)."""

    code_metrics: Callable
    stability_queries: int = 0


#: protocol name (without ``:val``) -> its readings
PROTOCOL_READINGS: dict[str, ProtocolReadings] = {}


def register_protocol_readings(protocol: str, readings: ProtocolReadings) -> ProtocolReadings:
    """Declare ``protocol``'s own readings; a second declaration for one protocol is refused."""
    if protocol in PROTOCOL_READINGS:
        raise ValueError(f"protocol {protocol!r} already has readings registered")
    PROTOCOL_READINGS[protocol] = readings
    return readings


def protocol_readings(split) -> Optional[ProtocolReadings]:
    """The readings registered for ``split``'s protocol (its validation split's too), or None."""
    return PROTOCOL_READINGS.get(str(split.name).partition(":")[0])
