"""Exception hierarchy of qcoreset.

Every error a user can cause derives from :class:`QCoresetError` and from the
matching built-in exception, so ``except ValueError`` keeps working. The command
line turns a :class:`QCoresetError` into one line on stderr and exit code 2.
"""

__all__ = [
    "QCoresetError",
    "InputError",
    "BudgetError",
    "PayloadError",
    "EstimatorError",
]


class QCoresetError(Exception):
    """Base class of every error qcoreset raises for bad input or usage."""


class InputError(QCoresetError, ValueError):
    """The data, labels, weights or a parameter are invalid."""


class BudgetError(QCoresetError, ValueError):
    """The bit budget cannot hold the requested payload."""


class PayloadError(QCoresetError, ValueError):
    """A ``.qcs`` payload is truncated, corrupted or not a qcoreset payload."""


class EstimatorError(QCoresetError, TypeError):
    """A wrapped estimator cannot be used as asked (e.g. it takes no sample_weight)."""
