"""Baselines run by us at equal settings (issue 6).

* :mod:`hashlib_core.baselines.deep` -- DPSH, HashNet, DHN, DCH, CSQ, DSDH as losses (+ encoding
  rules) on the shared model family, registered in :data:`hashlib_core.methods.METHODS` and run
  by the one trainer / runner.
* :mod:`hashlib_core.baselines.shallow` -- LSH, PCAH, ITQ, SH, SDH, KSH (numpy / scikit-learn)
  on hand-crafted features (:mod:`hashlib_core.baselines.features`), run and cached by
  :func:`hashlib_core.baselines.shallow.run_shallow`.

Nothing heavy is imported here; import the submodules.
"""

SHALLOW_METHODS = ("lsh", "pcah", "itq", "sh", "sdh", "ksh")
DEEP_METHODS = ("dpsh", "hashnet", "dhn", "dch", "csq", "dsdh")

__all__ = ["SHALLOW_METHODS", "DEEP_METHODS"]
