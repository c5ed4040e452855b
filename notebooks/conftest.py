"""One smoke definition: nbval runs each notebook with ``params/<notebook>/<profile>.yaml`` injected
after its ``parameters`` cell, exactly as ``make reproduce`` (papermill) does, so what CI checks is
what the smoke parameter file says — no profile branches inside the notebooks.

nbval reads a notebook with ``nbformat.read``; the reader below is nbformat with the parameter
cell injected by papermill's own ``parameterize_notebook``. Without ``HASHLIB_PROFILE`` the notebook
runs with its own defaults.
"""
import os
from pathlib import Path

import nbformat
import nbval.plugin
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

from hashlib_core.reproduce import resolve


class _ParameterisedReader:
    def __getattr__(self, name):
        return getattr(nbformat, name)

    @staticmethod
    def read(path, as_version, **kwargs):
        profile = os.environ.get("HASHLIB_PROFILE")
        if not profile:
            return nbformat.read(path, as_version=as_version, **kwargs)
        ((_, params),) = resolve(profile, [Path(path).stem])  # validated like `make reproduce`
        return parameterize_notebook(load_notebook_node(str(path)), params)


nbval.plugin.nbformat = _ParameterisedReader()
