"""Damage a stored file the way a bad disk or a stray edit does, for the cache-verification tests."""
from pathlib import Path


def flip_middle_byte(path: Path) -> bytes:
    """Invert the middle byte of ``path`` in place; return the damaged contents."""
    data = bytearray(Path(path).read_bytes())
    data[len(data) // 2] ^= 0xFF
    Path(path).write_bytes(bytes(data))
    return bytes(data)
