"""Losses as small parts, one module per objective family.

* :mod:`~hashlib_core.losses.dshfmdf` — paper 000's J1 (pairwise likelihood), J2 (quantization),
  J3 (classification) and their weighted sum; the code memory;
* :mod:`~hashlib_core.losses.memory` — batch-or-memory pairing shared by the pairwise losses;
* :mod:`~hashlib_core.losses.dshc` — paper 004's sub-class cross-entropy and soft margin.

The deep baselines' objectives are in :mod:`hashlib_core.baselines.deep`.
"""
from .dshfmdf import *  # noqa: F401,F403
from .dshfmdf import __all__ as _dshfmdf_all
from .dshc import DSHCLoss, SoftMarginMultiLabelLoss
from .memory import PAIRS, MemoryPairs

__all__ = list(_dshfmdf_all) + ["DSHCLoss", "SoftMarginMultiLabelLoss", "MemoryPairs", "PAIRS"]
