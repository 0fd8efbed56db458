"""CRC-32C (Castagnoli), vectorised with numpy, and TFRecord's masked variant. No dependencies.

CRC is linear over GF(2), so a long buffer is cut into 64-byte lanes whose CRCs are computed side by
side (one numpy step per byte position), then merged pairwise in a tree: crc(A || B) =
zeros(crc(A), len(B)) ^ crc(B), where ``zeros(x, n)`` (feeding n zero bytes) is itself linear and kept
as four 256-entry lookup tables. About 100x faster than a byte loop in Python on 700 kB records.
"""
from __future__ import annotations

import functools

import numpy as np

try:  # optional C implementation (PyPI ``google-crc32c``); the numpy path below is the fallback
    import google_crc32c as _google

    _FAST = _google.value if getattr(_google, "implementation", "") == "c" else None
except ImportError:
    _FAST = None

POLY = 0x82F63B78  # reflected Castagnoli polynomial
LANE = 64          # bytes per lane (a power of two)
MASK_DELTA = 0xA282EAD8


def _byte_table() -> np.ndarray:
    t = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        t = np.where(t & 1, (t >> 1) ^ np.uint32(POLY), t >> 1).astype(np.uint32)
    return t


TABLE = _byte_table()
_TABLE_LIST = TABLE.tolist()


def _apply(op: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Apply a linear 32-bit operator stored as tables [4, 256] to uint32 values."""
    return op[0][x & 0xFF] ^ op[1][(x >> 8) & 0xFF] ^ op[2][(x >> 16) & 0xFF] ^ op[3][x >> 24]


def _tables_from_basis(basis: np.ndarray) -> np.ndarray:
    """Lookup tables [4, 256] of the operator whose image of bit i is basis[i]."""
    v = np.arange(256, dtype=np.uint32)
    op = np.zeros((4, 256), np.uint32)
    for k in range(4):
        for b in range(8):
            op[k] ^= np.where((v >> b) & 1, basis[8 * k + b], 0).astype(np.uint32)
    return op


@functools.lru_cache(maxsize=64)
def _zeros_op(log2_n: int) -> np.ndarray:
    """The operator 'feed 2**log2_n zero bytes' as tables [4, 256]."""
    if log2_n == 0:
        basis = np.uint32(1) << np.arange(32, dtype=np.uint32)
        return _tables_from_basis(TABLE[basis & 0xFF] ^ (basis >> 8))
    half = _zeros_op(log2_n - 1)
    basis = np.uint32(1) << np.arange(32, dtype=np.uint32)
    return _tables_from_basis(_apply(half, _apply(half, basis)))


def _feed_zeros(x: int, n: int) -> int:
    v = np.array([x], np.uint32)
    k = 0
    while n:
        if n & 1:
            v = _apply(_zeros_op(k), v)
        n >>= 1
        k += 1
    return int(v[0])


def _raw_small(data: bytes, crc: int) -> int:
    t = _TABLE_LIST
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


def _raw_lanes(buf: np.ndarray) -> int:
    """CRC register (init 0, no final xor) of a long uint8 buffer via lanes and a tree merge."""
    lanes = 1 << int(np.ceil(np.log2(-(-len(buf) // LANE))))
    padded = np.zeros(lanes * LANE, np.uint8)
    padded[len(padded) - len(buf):] = buf  # leading zeros leave a zero-initialised register at 0
    cols = padded.reshape(lanes, LANE).T.copy()
    crc = np.zeros(lanes, np.uint32)
    for col in cols:
        crc = TABLE[(crc ^ col) & 0xFF] ^ (crc >> 8)
    level = int(np.log2(LANE))
    while len(crc) > 1:
        crc = _apply(_zeros_op(level), crc[0::2]) ^ crc[1::2]
        level += 1
    return int(crc[0])


def crc32c_numpy(data: bytes) -> int:
    """The dependency-free path (also used to test the optional C one)."""
    if len(data) < 4096:
        return _raw_small(data, 0xFFFFFFFF) ^ 0xFFFFFFFF
    raw = _raw_lanes(np.frombuffer(data, np.uint8))
    return raw ^ _feed_zeros(0xFFFFFFFF, len(data)) ^ 0xFFFFFFFF


def crc32c(data: bytes | bytearray | memoryview) -> int:
    """Standard CRC-32C of ``data`` (crc32c(b"123456789") == 0xE3069283)."""
    data = bytes(data)
    if _FAST is not None:
        return int(_FAST(data))
    return crc32c_numpy(data)


def masked_crc32c(data: bytes | bytearray | memoryview) -> int:
    """TFRecord's masked CRC: rotate right by 15 and add a constant (mod 2**32)."""
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + MASK_DELTA) & 0xFFFFFFFF
