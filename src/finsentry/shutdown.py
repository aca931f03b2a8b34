"""Graceful shutdown of a long-running process on SIGTERM or SIGINT."""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType


class GracefulStop:
    """SIGTERM/SIGINT: finish the batch in hand, flush, commit, close. A second signal exits now."""

    def __init__(self) -> None:
        self.requested = False
        self._signals = 0

    def request(self) -> None:
        self.requested = True

    def install(self) -> None:
        """Install the handlers (call from the main thread of an entry point)."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self._signals += 1
        if self._signals > 1:
            sys.stderr.write("finsentry: second signal, exiting at once\n")
            os._exit(128 + signum)
        self.requested = True
        sys.stderr.write(
            f"finsentry: {signal.Signals(signum).name} received: finishing the current batch "
            "(send it again to exit at once)\n"
        )
