"""Binary hash codes: binarisation, conversions, packing, Hamming distance and search.

Conventions used throughout :mod:`hashlib_core`
-----------------------------------------------
* A *code matrix* is a 2-D array of shape ``(N, L)`` whose entries are exactly
  ``-1`` or ``+1`` (stored as ``np.int8``); ``L`` is the number of bits.  Any
  numeric dtype whose values are exactly +-1 is accepted and converted.
* The ``{0, 1}`` form maps ``-1 -> 0`` and ``+1 -> 1`` (:func:`to_01`).
* The *packed* form is ``np.packbits`` of the ``{0, 1}`` form along the bit axis:
  shape ``(N, ceil(L / 8))``, ``np.uint8``, big-endian bit order inside a byte,
  and the padding bits of the last byte are **zero**.  Because padding bits are
  zero in every operand, XOR + popcount over the packed bytes is exactly the
  Hamming distance for any ``L`` (12, 21, 24, 30 bits ... all work).
* Hamming distances are returned as ``np.uint16`` (always, whatever ``L``; this
  supports codes up to 65535 bits), equal to ``(L - q . d) / 2`` for +-1 codes.
* Ranking / search order is *(Hamming distance ascending, database index
  ascending)*: ties are broken by the lower database index.
* No function in this module modifies its inputs in place.

Only numpy is required (``torch`` tensors are accepted by :func:`sign` and the
validators through ``.detach().cpu()``, but torch is never imported here).
"""

from __future__ import annotations

from typing import Iterator, Optional, Tuple

import numpy as np

__all__ = [
    "sign",
    "check_codes",
    "to_01",
    "from_01",
    "pack",
    "unpack",
    "popcount",
    "hamming_distance",
    "iter_hamming_batches",
    "DEFAULT_BATCH_ELEMENTS",
]

#: Default working-set size (in query x database pairs) of one query batch when
#: ``batch_size`` is ``None``.  ``2**21`` pairs (35 queries per batch for a
#: 59,000-item database) keeps the peak of a metric at about 12 bytes per pair
#: (~24 MiB); larger batches were not faster in benches/bench_metrics.py.
DEFAULT_BATCH_ELEMENTS = 1 << 21

# 256-entry popcount table, used when numpy has no ``np.bitwise_count`` (< 2.0).
_POPCOUNT_TABLE = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)
_HAS_BITWISE_COUNT = hasattr(np, "bitwise_count")


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #
def _to_numpy(x) -> np.ndarray:
    """``np.asarray`` that also accepts torch tensors (without importing torch)."""
    if hasattr(x, "detach"):  # torch.Tensor (possibly on GPU / requiring grad)
        t = x.detach().cpu()
        try:
            x = t.numpy()
        except TypeError:  # e.g. bfloat16, which numpy cannot hold
            x = t.float().numpy()
    return np.asarray(x)


def check_codes(codes, name: str = "codes", ndim: Optional[int] = 2) -> np.ndarray:
    """Validate a {-1,+1} code array and return it as ``np.int8``.

    Parameters
    ----------
    codes : array_like or torch.Tensor
        Values must be exactly ``-1`` or ``+1`` (any numeric dtype; booleans
        and ``{0, 1}`` arrays are rejected -- use :func:`from_01` for those).
    name : str
        Name used in error messages.
    ndim : int or None
        Required number of dimensions (2 by default: ``(N, L)``); ``None``
        accepts any shape.

    Returns
    -------
    np.ndarray of np.int8
        The input itself when it already is an int8 array (it is never written
        to), otherwise a converted copy.

    Raises
    ------
    ValueError
        Wrong number of dimensions, zero bits, or a value other than +-1.
    """
    arr = _to_numpy(codes)
    if ndim is not None and arr.ndim != ndim:
        if ndim == 2 and arr.ndim == 1:
            raise ValueError(
                f"{name} must be a 2-D (n_items, n_bits) array, got a 1-D array of "
                f"shape {arr.shape}; use {name}[None, :] for a single code"
            )
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise ValueError(f"{name} must be a numeric array of -1/+1 values, got dtype {arr.dtype}")
    if arr.ndim >= 2 and arr.shape[-1] == 0:
        raise ValueError(f"{name} has zero bits (shape {arr.shape})")
    if arr.size and not np.all((arr == 1) | (arr == -1)):
        bad = arr[(arr != 1) & (arr != -1)].ravel()[:5]
        raise ValueError(
            f"{name} must contain only -1 and +1 (found e.g. {bad.tolist()}); "
            "binarise with hashlib_core.codes.sign, or convert {0,1} bits with from_01"
        )
    if arr.dtype == np.int8:
        return arr
    return arr.astype(np.int8)


def _check_pair(query_codes, db_codes) -> Tuple[np.ndarray, np.ndarray]:
    q = check_codes(query_codes, "query_codes")
    d = check_codes(db_codes, "db_codes")
    if q.shape[1] != d.shape[1]:
        raise ValueError(
            f"bit lengths differ: query_codes has {q.shape[1]} bits, db_codes has {d.shape[1]}"
        )
    return q, d


def _auto_batch(batch_size: Optional[int], n_db: int, per_pair: int = 1) -> int:
    if batch_size is None:
        return max(1, DEFAULT_BATCH_ELEMENTS // max(1, n_db * per_pair))
    batch_size = int(batch_size)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    return batch_size


# --------------------------------------------------------------------------- #
# binarisation and conversions
# --------------------------------------------------------------------------- #
def sign_like(x):
    """``+1`` where ``x >= 0``, ``-1`` elsewhere, of the same kind as ``x``: a float numpy array
    (float64 for non-float input) or a torch tensor of ``x``'s dtype and device. For computations
    that keep codes real-valued (quantization losses, discrete coordinate descent); :func:`sign`
    is the one that makes stored int8 codes. Both map 0 to +1."""
    if isinstance(x, np.ndarray) or np.isscalar(x):
        arr = np.asarray(x)
        dtype = arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.float64
        return np.where(arr >= 0, 1.0, -1.0).astype(dtype, copy=False)
    return (x >= 0).to(x.dtype) * 2 - 1  # a torch tensor (torch is never imported here)


def sign(u, zero: int = 1) -> np.ndarray:
    """Binarise real-valued outputs into {-1,+1} codes.

    ``sign(u) = +1 if u > 0, -1 if u < 0`` and values exactly ``0`` map to
    ``zero`` (**0 -> +1 by default**; ``np.sign`` would give 0, which is not a
    valid bit).  Works for any shape.

    Parameters
    ----------
    u : array_like or torch.Tensor
        Real-valued network outputs (a torch tensor is moved to CPU and
        detached; torch is never imported by this module).
    zero : {+1, -1}
        Code assigned to exact zeros.

    Returns
    -------
    np.ndarray of np.int8, same shape as ``u``.

    Raises
    ------
    ValueError
        If ``zero`` is not +-1 or ``u`` contains NaN.
    """
    if zero not in (1, -1):
        raise ValueError(f"zero must be +1 or -1, got {zero!r}")
    arr = _to_numpy(u)
    if arr.dtype == np.bool_:
        raise ValueError("sign expects real values, got a boolean array")
    if np.issubdtype(arr.dtype, np.floating) and np.isnan(arr).any():
        raise ValueError("sign: input contains NaN")
    out = np.where(arr > 0, np.int8(1), np.int8(-1)).astype(np.int8, copy=False)
    if zero == 1:
        out[arr == 0] = 1
    return out


def to_01(codes) -> np.ndarray:
    """{-1,+1} codes -> {0,1} bits (``np.uint8``; -1 -> 0, +1 -> 1). Any shape."""
    c = check_codes(codes, ndim=None)
    return (c > 0).astype(np.uint8)


def from_01(bits) -> np.ndarray:
    """{0,1} bits -> {-1,+1} codes (``np.int8``; 0 -> -1, 1 -> +1). Any shape.

    Raises ValueError if a value is not 0 or 1 (booleans are accepted).
    """
    b = _to_numpy(bits)
    if b.size and not np.all((b == 0) | (b == 1)):
        raise ValueError("bits must contain only 0 and 1")
    return np.where(b.astype(bool), np.int8(1), np.int8(-1)).astype(np.int8, copy=False)


def pack(codes) -> np.ndarray:
    """Pack ``(N, L)`` {-1,+1} codes into ``(N, ceil(L/8))`` bytes.

    ``np.packbits`` of the {0,1} form along the bit axis (big-endian bit order);
    the ``8*ceil(L/8) - L`` padding bits of the last byte are zero, so packed
    codes of the same ``L`` can be compared with XOR + popcount exactly.
    """
    c = check_codes(codes)
    return np.packbits(c > 0, axis=1)


def unpack(packed, n_bits: int) -> np.ndarray:
    """Inverse of :func:`pack`: ``(N, ceil(n_bits/8))`` uint8 -> ``(N, n_bits)`` int8 {-1,+1}.

    Raises ValueError if the byte width does not match ``n_bits``, the array is
    not 2-D uint8, or a padding bit is set.
    """
    p = _to_numpy(packed)
    n_bits = int(n_bits)
    if n_bits < 1:
        raise ValueError(f"n_bits must be >= 1, got {n_bits}")
    if p.ndim != 2:
        raise ValueError(f"packed must be 2-D (n_items, n_bytes), got shape {p.shape}")
    if p.dtype != np.uint8:
        raise ValueError(f"packed must be uint8, got {p.dtype}")
    n_bytes = (n_bits + 7) // 8
    if p.shape[1] != n_bytes:
        raise ValueError(f"{n_bits} bits need {n_bytes} bytes per code, got {p.shape[1]}")
    pad = 8 * n_bytes - n_bits
    if pad and p.shape[0] and np.any(p[:, -1] & np.uint8((1 << pad) - 1)):
        raise ValueError("padding bits of packed codes must be zero")
    bits = np.unpackbits(p, axis=1, count=n_bits)
    return from_01(bits)


def popcount(x) -> np.ndarray:
    """Number of set bits of every element of an unsigned integer array (uint8 result).

    Uses ``np.bitwise_count`` (numpy >= 2.0) when available, otherwise a
    256-entry lookup table over the bytes.
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.unsignedinteger):
        raise ValueError(f"popcount expects an unsigned integer array, got {x.dtype}")
    if _HAS_BITWISE_COUNT:
        return np.bitwise_count(x)
    xc = np.ascontiguousarray(x)
    by = xc.view(np.uint8).reshape(xc.shape + (xc.dtype.itemsize,))
    return _POPCOUNT_TABLE[by].sum(axis=-1, dtype=np.uint8)


# --------------------------------------------------------------------------- #
# Hamming distance
# --------------------------------------------------------------------------- #
def _pack_words(codes_i8: np.ndarray) -> np.ndarray:
    """(N, L) int8 {-1,+1} -> (N, W) uint64 words, W = ceil(L/64), zero padded."""
    packed = np.packbits(codes_i8 > 0, axis=1)
    n, nb = packed.shape
    nw = (nb + 7) // 8
    buf = np.zeros((n, nw * 8), dtype=np.uint8)
    buf[:, :nb] = packed
    return buf.view(np.uint64)  # byte order irrelevant for XOR + popcount


def _hamming_words(qw: np.ndarray, dw: np.ndarray) -> np.ndarray:
    """Distances between packed-word rows: (b, W) x (N, W) -> (b, N) uint16."""
    out = None
    for w in range(qw.shape[1]):
        x = np.bitwise_xor(qw[:, w, None], dw[None, :, w])
        cnt = popcount(x)  # uint8, <= 64
        del x
        if out is None:
            out = cnt.astype(np.uint16)
        else:
            out += cnt
    return out


def iter_hamming_batches(
    query_codes, db_codes, batch_size: Optional[int] = None
) -> Iterator[Tuple[int, np.ndarray]]:
    """Yield ``(start, dist)`` for consecutive query batches.

    ``dist`` is the ``(b, N)`` ``np.uint16`` Hamming-distance matrix between
    ``query_codes[start:start+b]`` and all of ``db_codes``; the full ``Q x N``
    matrix is never materialised.  ``batch_size`` is a number of queries; by
    default it is chosen so that one batch holds about
    :data:`DEFAULT_BATCH_ELEMENTS` query-item pairs.  Each yielded array is a
    fresh array owned by the caller.
    """
    q, d = _check_pair(query_codes, db_codes)
    qw, dw = _pack_words(q), _pack_words(d)
    bs = _auto_batch(batch_size, d.shape[0], per_pair=qw.shape[1])
    for start in range(0, q.shape[0], bs):
        yield start, _hamming_words(qw[start : start + bs], dw)


def hamming_distance(query_codes, db_codes, batch_size: Optional[int] = None) -> np.ndarray:
    """Hamming distances between two sets of {-1,+1} codes.

    Parameters
    ----------
    query_codes : (Q, L) array of -1/+1
    db_codes : (N, L) array of -1/+1
    batch_size : int, optional
        Queries per batch (bounds the temporaries to ``batch_size x N`` words);
        see :func:`iter_hamming_batches`.

    Returns
    -------
    np.ndarray, shape (Q, N), dtype ``np.uint16`` (always)
        ``dist[i, j] = #bits where query i and item j differ = (L - q_i . d_j) / 2``,
        computed by XOR + popcount on packed 64-bit words.
    """
    q, d = _check_pair(query_codes, db_codes)
    out = np.empty((q.shape[0], d.shape[0]), dtype=np.uint16)
    for start, dist in iter_hamming_batches(q, d, batch_size):
        out[start : start + dist.shape[0]] = dist
    return out
