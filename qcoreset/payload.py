"""The ``.qcs`` payload: a quantized weighted coreset in an exact number of bytes.

Layout (little-endian; DESIGN §4)::

    magic b"\\x89QCS" | version u8 | header
    header  = n_total u64 | total_weight f64 | d u32 | m u32 | quantizer id u8 | bits u8
              | weight encoding u8 | weight bits u8 | source dtype u8
              | cs_error f64 | quantization_error f64 (the sender's error bound terms)
              | method: u8 length + ASCII
              | n_classes u32 | class table: u32 length + UTF-8 JSON list | class counts u32 each
              | constant weights f64 (one per class, or one) when the weight encoding is "constant"
              | quantizer parameters (constant-column bitmap and values, then its own;
                the ``pca`` quantizer's are its rank, mean, quantized basis and
                coefficient ranges)
    body    = values (m x k codes of b bits; k = d_var, or the rank for pca)
              | weights (m codes of b_w bits), padded to a byte
    crc32 u32 of everything before it

Rows are stored grouped by class (in class-table order), so labels cost no bits per
point: the header's class counts say which rows carry which label. The size of a
payload is known before encoding (:func:`payload_nbytes`) and equals the encoder's.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
import zlib
from dataclasses import dataclass

import numpy as np

from ._bitpack import pack_sections, unpack_sections
from ._errors import BudgetError, PayloadError
from .quantizers import Quantizer, quantizer_by_code

__all__ = [
    "MAGIC",
    "VERSION",
    "WEIGHT_ENCODINGS",
    "DecodedPayload",
    "choose_weight_encoding",
    "payload_nbytes",
    "encode_payload",
    "decode_payload",
    "read_header",
    "write_atomic",
]

MAGIC = b"\x89QCS"
#: magic of qcoreset.distributed's multi-part container, which both readers also accept
_CONTAINER_MAGIC = b"\x89QCM"
VERSION = 1
#: weight encodings: id -> name
WEIGHT_ENCODINGS = {0: "float32", 1: "constant", 2: "counts"}
_WENC_ID = {v: k for k, v in WEIGHT_ENCODINGS.items()}
_DTYPES = {0: "float32", 1: "float64", 2: "other"}
_FIXED = struct.Struct("<QdIIBBBBBdd")


@dataclass
class DecodedPayload:
    """What a ``.qcs`` payload holds, as decoded.

    Attributes
    ----------
    points : ndarray of shape (m, d)
        Dequantized coreset rows.
    weights : ndarray of shape (m,)
        Coreset weights.
    labels : ndarray of shape (m,) or None
        Labels of the rows when the payload is labelled.
    header : dict
        Header fields (see :func:`read_header`).
    quantizer : Quantizer
        The fitted quantizer rebuilt from the header.
    """

    points: np.ndarray
    weights: np.ndarray
    labels: np.ndarray | None
    header: dict
    quantizer: Quantizer


def _class_table_bytes(classes) -> bytes:
    if classes is None:
        return b""
    return json.dumps([c.item() if hasattr(c, "item") else c for c in classes]).encode()


def choose_weight_encoding(weights: np.ndarray, labels_codes: np.ndarray | None, n_groups: int):
    """Cheapest exact encoding of ``weights``: ("constant"|"counts"|"float32", bits).

    * ``constant``: every weight of a class (or all, unlabelled) is the same:
      one float64 per class in the header, 0 bits per row;
    * ``counts``: whole numbers below 2**32: ``bit_length(max)`` bits per row;
    * ``float32``: 32 bits per row (weights rounded to float32).
    """
    w = np.asarray(weights, dtype=np.float64)
    codes = np.zeros(w.size, dtype=np.int64) if labels_codes is None else labels_codes
    constant = True
    for g in range(max(1, n_groups)):
        wg = w[codes == g]
        if wg.size and not (wg == wg[0]).all():
            constant = False
            break
    if constant:
        return "constant", 0
    if w.size and (w == np.floor(w)).all() and w.max() < 2**32:
        return "counts", max(1, int(w.max()).bit_length())
    return "float32", 32


def payload_nbytes(
    *,
    d: int,
    m: int,
    quantizer: Quantizer,
    weight_encoding: str,
    weight_bits: int,
    classes=None,
    method: str = "",
) -> int:
    """Exact size in bytes of a payload with these parameters.

    Parameters
    ----------
    d, m : int
        Columns and rows of the coreset.
    quantizer : Quantizer
        The fitted quantizer (its parameters go into the header).
    weight_encoding : {"float32", "constant", "counts"}
    weight_bits : int
        Bits per weight (0 for constant, 32 for float32).
    classes : sequence or None
        Class table of a labelled payload.
    method : str
        Constructor name stored in the header.
    """
    n_classes = 0 if classes is None else len(classes)
    header = len(MAGIC) + 1 + _FIXED.size + 1 + len(method.encode("ascii"))
    header += 4 + 4 + len(_class_table_bytes(classes)) + 4 * n_classes
    if weight_encoding == "constant":
        header += 8 * max(1, n_classes)
    header += quantizer.params_nbytes()
    body_bits = m * (quantizer.value_bits_per_row_ + weight_bits)
    return header + (body_bits + 7) // 8 + 4


def _dtype_code(dtype) -> int:
    name = np.dtype(dtype).name if dtype is not None else "other"
    return {"float32": 0, "float64": 1}.get(name, 2)


def encode_payload(
    points: np.ndarray,
    weights: np.ndarray,
    quantizer: Quantizer,
    *,
    labels=None,
    classes=None,
    n_total: int,
    total_weight: float,
    method: str = "",
    source_dtype=None,
    budget_bits: int | None = None,
    rng=None,
    cs_error: float = float("nan"),
    quantization_error: float = float("nan"),
) -> bytes:
    """Encode a coreset into ``.qcs`` bytes.

    Parameters
    ----------
    points : ndarray of shape (m, d)
        Coreset rows (before quantization).
    weights : ndarray of shape (m,)
        Non-negative weights.
    quantizer : Quantizer
        Fitted quantizer; rows are quantized with it.
    labels : array-like of shape (m,) or None
        Labels; every label must be in ``classes``.
    classes : sequence or None
        Class table (defaults to the sorted unique labels).
    n_total, total_weight : int, float
        Rows and total weight of the data the coreset summarises.
    method : str
        Constructor name stored in the header.
    source_dtype : dtype or None
        dtype of the original data, recorded in the header.
    budget_bits : int or None
        If given, raise :class:`BudgetError` rather than return a larger payload.
    rng : RandomState or None
        Randomness of a stochastic quantizer.
    cs_error, quantization_error : float
        Per-unit-weight error terms recorded in the header for the receiver.

    Returns
    -------
    bytes
        The payload; ``len(result) == payload_nbytes(...)``.
    """
    points = np.asarray(points, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    m, d = points.shape
    if labels is not None:
        labels = np.asarray(labels)
        if classes is None:
            classes = np.unique(labels)
        classes = list(np.asarray(classes).tolist())
        index = {c: i for i, c in enumerate(classes)}
        codes = np.array([index[c] for c in labels.tolist()], dtype=np.int64)
        order = np.argsort(codes, kind="stable")
        points, weights, codes = points[order], weights[order], codes[order]
        counts = np.bincount(codes, minlength=len(classes))
    else:
        classes, codes, counts = None, None, np.zeros(0, dtype=np.int64)
    n_classes = 0 if classes is None else len(classes)
    wenc, wbits = choose_weight_encoding(weights, codes, n_classes)
    predicted = payload_nbytes(
        d=d, m=m, quantizer=quantizer, weight_encoding=wenc, weight_bits=wbits,
        classes=classes, method=method,
    )
    if budget_bits is not None and predicted * 8 > budget_bits:
        raise BudgetError(
            f"the payload needs {predicted * 8} bits but the budget is {budget_bits} bits"
        )
    mb = method.encode("ascii")
    table = _class_table_bytes(classes)
    head = [
        MAGIC,
        struct.pack("<B", VERSION),
        _FIXED.pack(
            int(n_total), float(total_weight), d, m, quantizer.code,
            int(quantizer.bits_per_value_ if not quantizer.uses_bits else quantizer.bits),
            _WENC_ID[wenc], wbits, _dtype_code(source_dtype),
            float(cs_error), float(quantization_error),
        ),
        struct.pack("<B", len(mb)) + mb,
        struct.pack("<I", n_classes),
        struct.pack("<I", len(table)) + table,
        counts.astype("<u4").tobytes(),
    ]
    if wenc == "constant":
        groups = max(1, n_classes)
        cw = np.zeros(groups)
        gcodes = np.zeros(m, dtype=np.int64) if codes is None else codes
        for g in range(groups):
            sel = weights[gcodes == g]
            cw[g] = sel[0] if sel.size else 0.0
        head.append(cw.astype("<f8").tobytes())
    head.append(quantizer.params_bytes())
    sections = [(quantizer._codes(points, rng if rng is not None else quantizer._rng()),
                 quantizer.bits_per_value_)]
    if wenc == "float32":
        sections.append((weights.astype("<f4").view("<u4"), 32))
    elif wenc == "counts":
        sections.append((weights.astype(np.uint64), wbits))
    body = pack_sections(sections)
    data = b"".join(head) + body
    data += struct.pack("<I", zlib.crc32(data))
    assert len(data) == predicted, (len(data), predicted)
    return data


def _parse_header(data: bytes) -> tuple[dict, Quantizer, int]:
    if len(data) < len(MAGIC) + 1 or data[: len(MAGIC)] != MAGIC:
        raise PayloadError("not a qcoreset payload (bad magic bytes); pass a .qcs file")
    version = data[len(MAGIC)]
    if version != VERSION:
        raise PayloadError(f"payload version {version} is not supported (this reader: {VERSION})")
    off = len(MAGIC) + 1
    try:
        (n_total, total_weight, d, m, qid, bits, wenc, wbits, dt, e_cs, e_qt) = _FIXED.unpack_from(
            data, off
        )
        off += _FIXED.size
        (lm,) = struct.unpack_from("<B", data, off)
        method = data[off + 1 : off + 1 + lm].decode("ascii")
        off += 1 + lm
        (n_classes,) = struct.unpack_from("<I", data, off)
        (lt,) = struct.unpack_from("<I", data, off + 4)
        off += 8
        if off + lt > len(data):
            raise PayloadError("file is truncated inside the class table")
        classes = json.loads(data[off : off + lt].decode()) if n_classes else None
        off += lt
        if n_classes and (not isinstance(classes, list) or len(classes) != n_classes):
            raise PayloadError("class table does not match the class count (corrupted file?)")
        if off + 4 * n_classes > len(data):
            raise PayloadError("file is truncated inside the class counts")
        counts = np.frombuffer(data, dtype="<u4", count=n_classes, offset=off).astype(np.int64)
        off += 4 * n_classes
        if wenc not in WEIGHT_ENCODINGS:
            raise PayloadError(f"unknown weight encoding id {wenc} (corrupted file?)")
        wname = WEIGHT_ENCODINGS[wenc]
        const_w = None
        if wname == "constant":
            groups = max(1, n_classes)
            if off + 8 * groups > len(data):
                raise PayloadError("file is truncated inside the weights")
            const_w = np.frombuffer(data, dtype="<f8", count=groups, offset=off).copy()
            off += 8 * groups
        if d == 0 or (n_classes and int(counts.sum()) != m):
            raise PayloadError("header fields are inconsistent (corrupted file?)")
        qcls = quantizer_by_code(qid)
        quantizer, off = qcls.from_params(bits, d, data, off)
    except (struct.error, UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
        if isinstance(exc, PayloadError):
            raise
        raise PayloadError(f"payload header is truncated or corrupted ({exc})") from None
    header = {
        "version": version,
        "n_total": int(n_total),
        "total_weight": float(total_weight),
        "n_features": int(d),
        "coreset_size": int(m),
        "quantizer": qcls.name,
        "bits_per_value": int(quantizer.bits_per_value_),
        "bits": int(bits),
        "value_bits_per_row": int(quantizer.value_bits_per_row_),
        "constant_columns": int(quantizer.constant_.sum()),
        "weight_encoding": wname,
        "weight_bits": int(wbits),
        "source_dtype": _DTYPES.get(dt, "other"),
        "cs_error": float(e_cs),
        "quantization_error": float(e_qt),
        "error_bound": float(e_cs + e_qt),
        "method": method,
        "n_classes": int(n_classes),
        "classes": classes,
        "class_counts": counts.tolist(),
        "header_bytes": off,
        "payload_bytes": len(data),
        "payload_bits": 8 * len(data),
    }
    if hasattr(quantizer, "rank_"):  # projection: coefficients per row
        header["rank"] = int(quantizer.rank_)
    header["_const_w"] = const_w
    return header, quantizer, off


def read_header(data: bytes) -> dict:
    """Parse a payload header without decoding the body.

    Returns
    -------
    dict
        Header fields plus ``crc_ok`` (whether the CRC32 matches) and
        ``size_ok`` (whether the length matches the header's).

    Raises
    ------
    PayloadError
        If the bytes are not a qcoreset payload or the header is unreadable.
    """
    if bytes(data[:4]) == _CONTAINER_MAGIC:  # multi-part file of a distributed reduction
        from qcoreset.distributed.container import read_container_header

        return read_container_header(data)
    header, quantizer, off = _parse_header(data)
    header.pop("_const_w")
    expected = off + (header["coreset_size"] * (quantizer.value_bits_per_row_
                      + header["weight_bits"]) + 7) // 8 + 4
    header["size_ok"] = expected == len(data)
    header["crc_ok"] = len(data) >= 4 and zlib.crc32(data[:-4]) == struct.unpack(
        "<I", data[-4:]
    )[0]
    return header


def decode_payload(data: bytes) -> DecodedPayload:
    """Decode ``.qcs`` bytes into points, weights and labels.

    Raises
    ------
    PayloadError
        If the data are truncated, corrupted (CRC mismatch) or not a qcoreset payload;
        the message says which.
    """
    data = bytes(data)
    if data[:4] == _CONTAINER_MAGIC:  # multi-part file: the union of its parts
        from qcoreset.distributed.container import decode_container

        return decode_container(data)
    header, quantizer, off = _parse_header(data)
    const_w = header.pop("_const_w")
    m = header["coreset_size"]
    wbits = header["weight_bits"]
    body_bytes = (m * (quantizer.value_bits_per_row_ + wbits) + 7) // 8
    expected = off + body_bytes + 4
    if len(data) < expected:
        raise PayloadError(
            f"payload is truncated: {len(data)} bytes, the header announces {expected}"
        )
    if len(data) > expected:
        raise PayloadError(
            f"payload has {len(data) - expected} trailing bytes after the CRC (corrupted file?)"
        )
    (crc,) = struct.unpack("<I", data[-4:])
    if zlib.crc32(data[:-4]) != crc:
        raise PayloadError("payload CRC32 mismatch: the file is corrupted")
    nvar = quantizer.codes_per_row_
    layout = [(m * nvar, quantizer.bits_per_value_)]
    wname = header["weight_encoding"]
    if wname in ("float32", "counts"):
        layout.append((m, wbits))
    sections = unpack_sections(data[off : off + body_bytes], layout)
    points = quantizer._values(sections[0].reshape(m, nvar))
    n_classes = header["n_classes"]
    counts = np.asarray(header["class_counts"], dtype=np.int64)
    group = np.repeat(np.arange(n_classes), counts) if n_classes else np.zeros(m, dtype=np.int64)
    if wname == "float32":
        weights = sections[1].astype("<u4").view("<f4").astype(np.float64)
    elif wname == "counts":
        weights = sections[1].astype(np.float64)
    else:
        weights = const_w[group] if m else np.zeros(0)
    if not (np.isfinite(weights).all() and (weights >= 0).all()):
        raise PayloadError("payload holds invalid weights (corrupted file?)")
    labels = None
    if n_classes:
        labels = np.asarray(header["classes"])[group]
    return DecodedPayload(points, weights, labels, header, quantizer)


def write_atomic(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder, then rename.

    A failure leaves no partial file behind (an existing file at ``path`` is untouched).
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".qcs-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
