"""The multi-part ``.qcs`` container: the ranks' payloads, byte for byte, in one file.

A distributed reduction ends with N payloads, one per rank, each encoded by its rank with
its own quantizer grid, bit depth, weight encoding and class table. Merging them into one
re-encoded payload would either requantize the values (changing them) or put them on a
common grid (costing bits the ranks never budgeted for). The container keeps every rank's
payload exactly as it was sent, so "rank i's payload is at most its allocation ``B_i``
and the payloads sum to at most ``B``" holds for the very bytes on the wire, and the file
decodes to the union of the ranks' coresets with their own labels.

Layout (little-endian)::

    magic b"\\x89QCM" | version u8 | n_parts u32
    | per part: payload length u64 | rows summarised u64
    | the parts' .qcs payloads, concatenated (a part of length 0 is an empty rank)
    | crc32 u32 of everything before it

The framing costs :func:`container_overhead_bits` ``(n_parts) = 8 * (13 + 16 n_parts)``
bits; the distributed reduction takes it off the budget before splitting the rest, so the
whole file never exceeds the budget either. Each part keeps its own CRC32.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from qcoreset._errors import PayloadError
from qcoreset.payload import DecodedPayload, decode_payload, read_header

__all__ = [
    "CONTAINER_MAGIC",
    "CONTAINER_VERSION",
    "container_overhead_bits",
    "encode_container",
    "split_container",
    "is_container",
    "decode_container",
    "read_container_header",
]

CONTAINER_MAGIC = b"\x89QCM"
CONTAINER_VERSION = 1
_HEAD = struct.Struct("<4sBI")
_PART = struct.Struct("<QQ")


def container_overhead_bits(n_parts: int) -> int:
    """Bits of framing a container of ``n_parts`` payloads adds to them.

    Examples
    --------
    >>> container_overhead_bits(4)
    616
    """
    return 8 * (_HEAD.size + _PART.size * int(n_parts) + 4)


def is_container(data: bytes) -> bool:
    """Whether ``data`` starts with the container's magic bytes."""
    return bytes(data[: len(CONTAINER_MAGIC)]) == CONTAINER_MAGIC


def encode_container(payloads, n_rows=None) -> bytes:
    """Frame ``payloads`` (one ``.qcs`` bytes object per part, possibly empty) as one file.

    Parameters
    ----------
    payloads : sequence of bytes
        The parts' payloads, in rank order; ``b""`` for a part that sent nothing.
    n_rows : sequence of int or None
        Rows of data each part summarises (default: each payload's own ``n_total``).

    Returns
    -------
    bytes
        ``len(result) * 8 == sum(8 * len(p)) + container_overhead_bits(len(payloads))``.
    """
    payloads = [bytes(p) for p in payloads]
    if n_rows is None:
        n_rows = [read_header(p)["n_total"] if p else 0 for p in payloads]
    if len(n_rows) != len(payloads):
        raise ValueError(f"{len(n_rows)} row counts for {len(payloads)} payloads")
    head = [_HEAD.pack(CONTAINER_MAGIC, CONTAINER_VERSION, len(payloads))]
    head += [_PART.pack(len(p), int(r)) for p, r in zip(payloads, n_rows, strict=True)]
    data = b"".join(head + payloads)
    return data + struct.pack("<I", zlib.crc32(data))


def split_container(data: bytes) -> tuple[list[bytes], list[int], bool]:
    """The parts of a container: ``(payloads, n_rows, crc_ok)``.

    Raises
    ------
    PayloadError
        If the bytes are not a container or the framing is truncated or inconsistent.
    """
    data = bytes(data)
    if len(data) < _HEAD.size + 4 or not is_container(data):
        raise PayloadError("not a qcoreset multi-part container (bad magic bytes)")
    _, version, n = _HEAD.unpack_from(data, 0)
    if version != CONTAINER_VERSION:
        raise PayloadError(
            f"container version {version} is not supported (this reader: {CONTAINER_VERSION})"
        )
    off = _HEAD.size
    if off + _PART.size * n + 4 > len(data):
        raise PayloadError(f"container is truncated inside the table of its {n} parts")
    table = [_PART.unpack_from(data, off + _PART.size * i) for i in range(n)]
    off += _PART.size * n
    expected = off + sum(length for length, _ in table) + 4
    if expected != len(data):
        raise PayloadError(
            f"container is {len(data)} bytes but its part table announces {expected} "
            "(truncated or corrupted file)"
        )
    payloads = []
    for length, _ in table:
        payloads.append(data[off : off + length])
        off += length
    (crc,) = struct.unpack("<I", data[-4:])
    return payloads, [int(r) for _, r in table], zlib.crc32(data[:-4]) == crc


def _merged_header(headers: list[dict], n_rows: list[int], nbytes: int) -> dict:
    """One header describing the union of the parts (the single-payload keys, merged)."""
    live = [h for h in headers if h is not None]
    if not live:
        raise PayloadError("container holds no non-empty part")

    def common(key):
        values = {h[key] for h in live}
        return values.pop() if len(values) == 1 else "mixed"

    d = {h["n_features"] for h in live}
    if len(d) != 1:
        raise PayloadError(f"container parts have different feature counts {sorted(d)}")
    mass = [h["total_weight"] for h in live]
    total = float(sum(mass))

    def weighted(key):  # per-unit-weight errors of the parts combine by their mass
        return float(sum(h[key] * w for h, w in zip(live, mass, strict=True)) / total) \
            if total > 0 else float("nan")

    labelled = [h for h in live if h["n_classes"]]
    classes, counts = None, []
    if labelled:
        tally: dict = {}
        for h in labelled:
            for c, k in zip(h["classes"], h["class_counts"], strict=True):
                tally[c] = tally.get(c, 0) + int(k)
        classes = sorted(tally, key=lambda c: (str(type(c)), c))
        counts = [tally[c] for c in classes]
    return {
        "version": CONTAINER_VERSION,
        "container": True,
        "n_parts": len(headers),
        "n_total": int(sum(n_rows)),
        "total_weight": total,
        "n_features": d.pop(),
        "coreset_size": int(sum(h["coreset_size"] for h in live)),
        "quantizer": common("quantizer"),
        "bits_per_value": int(max(h["bits_per_value"] for h in live)),
        "bits": int(max(h["bits"] for h in live)),
        "weight_encoding": common("weight_encoding"),
        "source_dtype": common("source_dtype"),
        "cs_error": weighted("cs_error"),
        "quantization_error": weighted("quantization_error"),
        "error_bound": weighted("error_bound"),
        "method": common("method"),
        "n_classes": 0 if classes is None else len(classes),
        "classes": classes,
        "class_counts": counts,
        "payload_bytes": int(nbytes),
        "payload_bits": 8 * int(nbytes),
        "part_payload_bits": [0 if h is None else int(h["payload_bits"]) for h in headers],
        "part_rows": list(n_rows),
        "parts": headers,
    }


def read_container_header(data: bytes) -> dict:
    """Merged header of a container plus ``crc_ok``/``size_ok`` over the framing and parts.

    ``parts`` lists every part's own header (None for an empty part).

    Raises
    ------
    PayloadError
        If the framing or a part's header is unreadable.
    """
    payloads, n_rows, crc_ok = split_container(data)
    headers = []
    for i, p in enumerate(payloads):
        if not p:
            headers.append(None)
            continue
        try:
            headers.append(read_header(p))
        except PayloadError as exc:
            raise PayloadError(f"container part {i}: {exc}") from None
    header = _merged_header(headers, n_rows, len(data))
    live = [h for h in headers if h is not None]
    header["crc_ok"] = bool(crc_ok and all(h["crc_ok"] for h in live))
    header["size_ok"] = all(h["size_ok"] for h in live)
    return header


def decode_container(data: bytes) -> DecodedPayload:
    """Decode a container into the union of its parts' coresets.

    Returns
    -------
    DecodedPayload
        ``points``, ``weights`` and ``labels`` are the parts' decoded rows concatenated in
        part order (each part dequantized with its own grid, labelled with its own class
        table); ``header`` is the merged header (see :func:`read_container_header`, with
        ``parts`` holding each part's header); ``quantizer`` is the part's quantizer when
        there is one non-empty part, else None (the parts have different grids).

    Raises
    ------
    PayloadError
        If the framing or any part is truncated or corrupted (the message names the part).
    """
    payloads, n_rows, crc_ok = split_container(data)
    if not crc_ok:
        raise PayloadError("container CRC32 mismatch: the file is corrupted")
    decoded = []
    for i, p in enumerate(payloads):
        if not p:
            decoded.append(None)
            continue
        try:
            decoded.append(decode_payload(p))
        except PayloadError as exc:
            raise PayloadError(f"container part {i}: {exc}") from None
    live = [dp for dp in decoded if dp is not None]
    headers = [None if dp is None else dp.header for dp in decoded]
    header = _merged_header(headers, n_rows, len(data))
    points = np.concatenate([dp.points for dp in live])
    weights = np.concatenate([dp.weights for dp in live])
    labels = None
    if header["n_classes"]:
        if any(dp.labels is None for dp in live):
            raise PayloadError("container mixes labelled and unlabelled parts")
        labels = np.concatenate([dp.labels for dp in live])
    quantizer = live[0].quantizer if len(live) == 1 else None
    return DecodedPayload(points, weights, labels, header, quantizer)
