"""Storage failures as Temporal sees them: retry an outage, stop at data the database refuses.

A step the database cannot take because of its *data* (PostgreSQL refusing a NUL character, a
number out of range, a value the driver cannot bind) fails the same way on every attempt:
retrying it forever wedges the case. Such a failure is non-retryable (``STEP_NOT_STORABLE``)
and the workflow halts the case visibly instead. Everything else (connection refused, a lock
timeout, a restarting server) is retried until the database is back.

Either way the failure Temporal records and the worker logs names the error's class and, for
an outage, the first line of the driver's message: never the statement's parameters or the
DETAIL lines that quote the row, which hold customer data.
"""

from __future__ import annotations

from sqlalchemy.exc import DataError, DBAPIError, StatementError
from temporalio.exceptions import ApplicationError

from activities.inputs import STEP_NOT_STORABLE, STORAGE_FAILED

_MESSAGE_LIMIT = 200


def is_data_fault(error: BaseException) -> bool:
    """Whether ``error`` comes from the data written rather than from the database's state."""
    if isinstance(error, DataError):
        return True  # PostgreSQL's class 22: invalid text, numeric overflow, bad encoding
    if isinstance(error, StatementError) and not isinstance(error, DBAPIError):
        return True  # a value failed to bind or serialise before the database saw it
    return isinstance(error, ValueError | TypeError | UnicodeError)


def _cause(error: BaseException) -> BaseException:
    orig = getattr(error, "orig", None)
    return orig if isinstance(orig, BaseException) else error


def describe_failure(error: BaseException) -> str:
    """The error's class, with the first line of an outage's message: no data, no parameters."""
    cause = _cause(error)
    name = type(cause).__name__
    if is_data_fault(error):
        code = getattr(cause, "sqlstate", None)
        return f"{name} (SQLSTATE {code})" if code else name
    lines = str(cause).strip().splitlines()
    first = lines[0][:_MESSAGE_LIMIT] if lines else ""
    return f"{name}: {first}" if first else name


def storage_failure(error: BaseException, what: str) -> ApplicationError:
    """``error`` as the activity's failure: non-retryable when the data is at fault."""
    if is_data_fault(error):
        kind = describe_failure(error)
        return ApplicationError(
            f"{what} cannot be stored: the database refuses its data ({kind})",
            kind,  # the details: what the halt's alert names as the failure
            type=STEP_NOT_STORABLE,
            non_retryable=True,
        )
    return ApplicationError(
        f"{what} not stored yet: {describe_failure(error)}", type=STORAGE_FAILED
    )
