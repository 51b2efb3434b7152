"""qcoreset: quantized coresets that fit a bit budget.

A weighted coreset (few representative rows with weights) is quantized to few bits
per value and encoded into a ``.qcs`` payload that never exceeds the bit budget.

Main entry points
-----------------
QuantizedCoreset
    scikit-learn style reducer: ``fit``, ``fit_resample``, ``to_bytes``.
CoresetEstimator
    Fits any estimator that takes ``sample_weight`` on the coreset.
build_coreset, CONSTRUCTORS
    Coreset constructors (``uniform``, ``sensitivity``, ``lightweight``, ``rcc``,
    ``kcenter``).
get_quantizer, QUANTIZERS
    Quantizers (``fixed``, ``stochastic``, ``float``, ``none``).
encode_payload, decode_payload, read_header
    The ``.qcs`` codec.
load_input, parse_budget
    Inputs and budgets as the command line reads them.
StreamingCoreset, merge_reduce
    Merge-and-reduce coresets of data read in chunks (``partial_fit``).
"""

from ._errors import (
    BudgetError,
    EstimatorError,
    InputError,
    PayloadError,
    QCoresetError,
)
from .budget import parse_budget
from .constructors import CONSTRUCTORS, Coreset, build_coreset, register_constructor
from .datasets import load_input
from .estimator import CoresetEstimator, QuantizedCoreset
from .payload import decode_payload, encode_payload, payload_nbytes, read_header
from .quantizers import QUANTIZERS, get_quantizer, register_quantizer
from .streaming import StreamingCoreset, merge_reduce

__version__ = "0.1.0"

__all__ = [
    "QuantizedCoreset",
    "CoresetEstimator",
    "build_coreset",
    "Coreset",
    "CONSTRUCTORS",
    "register_constructor",
    "get_quantizer",
    "QUANTIZERS",
    "register_quantizer",
    "encode_payload",
    "decode_payload",
    "payload_nbytes",
    "read_header",
    "load_input",
    "parse_budget",
    "StreamingCoreset",
    "merge_reduce",
    "QCoresetError",
    "InputError",
    "BudgetError",
    "PayloadError",
    "EstimatorError",
]
