"""Running calls at the same moment, each in its own thread and database connection, for the
race tests (real concurrent connections, never mocks)."""

import threading

from django.db import connections


def run_together(*calls) -> list:
    """Each call's result, or the exception it raised, in the order given."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def worker(i, call):
        try:
            barrier.wait()
            results[i] = call()
        except Exception as error:  # noqa: BLE001 - the test inspects what each side got
            results[i] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
