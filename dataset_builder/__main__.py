"""`python -m dataset_builder`: the same as the `dataset-builder` command, whose entry point is `main`.

Nothing heavy is imported before the stop handlers are in place: importing the libraries takes a
second, and a Ctrl-C (or SIGTERM, SIGHUP) then must be one line and exit 128 + the signal, not a
traceback or a silent death. Once a command runs, `cli` handles stops itself (runner.stop_on_signals).
"""

import os
import signal
import sys

from dataset_builder.errors import STOP_SIGNALS  # light: the package's errors and rule registry


def _stopped_while_starting(signum: int, frame: object) -> None:
    sys.stderr.write(
        f"Interrupted ({signal.Signals(signum).name}): stopped while starting; nothing was done.\n"
    )
    sys.stderr.flush()
    os._exit(128 + signum)  # nothing was started that needs cleaning up


def main() -> None:
    """Console-script entry point."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, _stopped_while_starting)
    from dataset_builder.cli import main as run

    run()


if __name__ == "__main__":
    main()
