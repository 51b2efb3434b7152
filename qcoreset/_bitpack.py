"""Exact bit packing of unsigned integer codes (MSB first, no padding between values).

A section of ``N`` codes of ``nbits`` bits occupies exactly ``N * nbits`` bits; the
payload pads only once, at the end of the whole body, to a byte boundary.
"""

from __future__ import annotations

import numpy as np

__all__ = ["codes_to_bits", "bits_to_codes", "pack_sections", "unpack_sections"]

# Codes per chunk when expanding to one byte per bit.
_CHUNK = 1 << 20
# Widths with a native big-endian unsigned dtype: packed by a plain byte view.
_NATIVE = {8: ">u1", 16: ">u2", 32: ">u4", 64: ">u8"}


def codes_to_bits(codes: np.ndarray, nbits: int) -> np.ndarray:
    """Expand unsigned codes to a flat uint8 array of 0/1 bits, ``nbits`` per code.

    Parameters
    ----------
    codes : ndarray of unsigned int
        Values in ``[0, 2**nbits)``; any shape, read in C order.
    nbits : int
        Bits per code, 0 to 64.

    Returns
    -------
    ndarray of uint8, shape (codes.size * nbits,)
    """
    flat = np.ascontiguousarray(codes, dtype=np.uint64).ravel()
    if nbits == 0 or flat.size == 0:
        return np.zeros(0, dtype=np.uint8)
    nbytes = (nbits + 7) // 8
    out = np.empty(flat.size * nbits, dtype=np.uint8)
    for start in range(0, flat.size, _CHUNK):
        block = flat[start : start + _CHUNK]
        as_bytes = block.astype(">u8").view(np.uint8).reshape(-1, 8)[:, 8 - nbytes :]
        bits = np.unpackbits(as_bytes, axis=1)[:, 8 * nbytes - nbits :]
        out[start * nbits : (start + block.size) * nbits] = bits.ravel()
    return out


def bits_to_codes(bits: np.ndarray, count: int, nbits: int) -> np.ndarray:
    """Inverse of :func:`codes_to_bits`: read ``count`` codes of ``nbits`` bits.

    Returns
    -------
    ndarray of uint64, shape (count,)
    """
    if nbits == 0 or count == 0:
        return np.zeros(count, dtype=np.uint64)
    bits = np.asarray(bits, dtype=np.uint8)[: count * nbits].reshape(count, nbits)
    nbytes = (nbits + 7) // 8
    weights = np.uint64(1) << (8 * np.arange(nbytes - 1, -1, -1, dtype=np.uint64))
    out = np.empty(count, dtype=np.uint64)
    for start in range(0, count, _CHUNK):
        block = bits[start : start + _CHUNK]
        padded = np.zeros((block.shape[0], 8 * nbytes), dtype=np.uint8)
        padded[:, 8 * nbytes - nbits :] = block
        packed = np.packbits(padded, axis=1).astype(np.uint64)
        out[start : start + block.shape[0]] = packed @ weights if nbytes > 1 else packed[:, 0]
    return out


def pack_sections(sections: list[tuple[np.ndarray, int]]) -> bytes:
    """Pack ``(codes, nbits)`` sections back to back and pad the end to a whole byte."""
    if all(nbits in _NATIVE or nbits == 0 for _, nbits in sections):
        # every section is whole bytes: a byte view is the same MSB-first bit stream
        return b"".join(
            np.ascontiguousarray(codes, dtype=np.uint64).astype(_NATIVE[nbits]).tobytes()
            for codes, nbits in sections if nbits
        )
    parts = [codes_to_bits(codes, nbits) for codes, nbits in sections]
    allbits = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint8)
    return np.packbits(allbits).tobytes()


def unpack_sections(data: bytes, layout: list[tuple[int, int]]) -> list[np.ndarray]:
    """Read sections of ``(count, nbits)`` codes packed by :func:`pack_sections`."""
    if all(nbits in _NATIVE or nbits == 0 for _, nbits in layout):
        out, pos = [], 0
        for count, nbits in layout:
            if nbits == 0:
                out.append(np.zeros(count, dtype=np.uint64))
                continue
            out.append(np.frombuffer(data, dtype=_NATIVE[nbits], count=count, offset=pos)
                       .astype(np.uint64))
            pos += count * nbits // 8
        return out
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
    out = []
    pos = 0
    for count, nbits in layout:
        out.append(bits_to_codes(bits[pos : pos + count * nbits], count, nbits))
        pos += count * nbits
    return out
