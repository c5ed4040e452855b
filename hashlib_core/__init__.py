"""hashlib_core — data protocols, models, losses, codes, metrics and training for the
deep image-hashing papers this project reproduces. See docs/design.md for the data flow."""

__version__ = "0.1.0"
