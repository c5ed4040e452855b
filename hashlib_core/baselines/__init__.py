"""Baselines run by us at equal settings.

* :mod:`hashlib_core.baselines.deep` -- the objectives of DPSH, HashNet, DHN, DCH, CSQ, DSDH
  (registered as methods in :mod:`hashlib_core.methods.deep_baselines`);
* :mod:`hashlib_core.baselines.shallow` -- LSH, PCAH, ITQ, SH, SDH, KSH (numpy / scikit-learn;
  registered in :mod:`hashlib_core.methods.shallow`);
* :mod:`hashlib_core.baselines.features` -- the image descriptors the shallow ones are fitted on;
* :mod:`hashlib_core.baselines.tables` -- running them for a table and laying the rows out.

Nothing heavy is imported here; import the submodules.
"""
