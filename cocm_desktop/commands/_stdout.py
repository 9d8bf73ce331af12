"""Standard output that a reader may close early (`cocm-desktop registry | head`).

Python ignores SIGPIPE, so the next write to a closed pipe raises BrokenPipeError, and the final
flush at exit raises it again ("Exception ignored … BrokenPipeError"). A reader that has seen
enough is not an error: the command ends quietly with exit 0.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

__all__ = ["stdout_may_close"]


@contextlib.contextmanager
def stdout_may_close() -> Iterator[None]:
    """Run the body; if its reader closed standard output, stop writing there without a traceback."""
    try:
        yield
        sys.stdout.flush()  # buffered output meets the closed pipe here, not at interpreter exit
    except BrokenPipeError:
        _stdout_to_devnull()


def _stdout_to_devnull() -> None:
    # What is still buffered goes nowhere instead of raising again at exit.
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
