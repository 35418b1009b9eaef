"""Transactions that lost a race with another one are run again instead of answering 500."""

import functools
import logging
import random
import time

from django.db import OperationalError, connection

# PostgreSQL's SQLSTATE for a deadlock the server broke, and for a serialisation failure.
RETRYABLE = {"40P01", "40001"}
ATTEMPTS = 4
logger = logging.getLogger("intimacy.db")


def lost_a_race(error: OperationalError) -> bool:
    cause = error.__cause__
    sqlstate = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    if sqlstate in RETRYABLE:
        return True
    # SQLite: a writer that waited longer than the timeout.
    return connection.vendor == "sqlite" and "database is locked" in str(error)


def retry_on_conflict(function):
    """Runs the whole transaction again (up to ATTEMPTS times, with a short random pause) when
    the database aborted it to break a deadlock or a serialisation conflict. Only at the
    outermost level: inside a caller's transaction the caller's work is aborted too, so the error
    goes up to whoever opened it."""

    @functools.wraps(function)
    def wrapped(*args, **kwargs):
        for attempt in range(1, ATTEMPTS + 1):
            if connection.in_atomic_block:
                return function(*args, **kwargs)
            try:
                return function(*args, **kwargs)
            except OperationalError as error:
                if attempt == ATTEMPTS or not lost_a_race(error):
                    raise
                logger.warning("%s lost a race (%s); running it again", function.__name__, error)
                time.sleep(random.uniform(0.005, 0.05) * attempt)
        raise AssertionError("unreachable")

    return wrapped
