"""A cancellation Python 3.11 may lose, honoured.

psycopg_pool waits for a free connection with asyncio.wait_for, which on Python 3.11 loses a
cancellation that arrives just as the connection is handed over (CPython gh-86296, fixed in
3.12): the cancelled task runs on as if nothing had happened. A loop that reads through the
pool and is stopped by cancelling it (a server's watchers, the feed's tail and subscribers)
would then run for ever, and whoever awaits it with it. The request stays counted on the task
(Task.cancelling), so such a loop checks it after each read.
"""

import asyncio


def honour_lost_cancellation() -> None:
    """Raises CancelledError if the current task was asked to cancel and has not."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
