"""Appenders for `test_crash.py` to SIGKILL: processes that append to the ledger until killed.

Usage::

    SHUGU_SECRET_KEY=... python _appender.py HOME DATABASE_URL

Importing shugu takes seconds, so this program imports it once and then forks one appender per
command read from stdin, one at a time:

``start RUN THREADS ACK_LOG``
    fork an appender and reply with its pid. It opens the hub (`Hub.open`, which initialises the
    database on the first run), writes ``ready`` to ACK_LOG, then each of THREADS threads appends
    1 to 3 events at a time, each carrying a unique token in its payload, and after every append
    that returned writes one line ``{"indices": [...], "tokens": [...]}`` to ACK_LOG, flushed and
    fsynced before its next append: what ACK_LOG holds was acknowledged by the ledger. Any failure
    ends the appender with status 1.
``reap``
    wait for that appender to end (the caller kills it) and reply with its exit code (``-9``
    when SIGKILL ended it).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import traceback
from pathlib import Path
from typing import IO, NoReturn

from shugu.ledger import Event
from shugu.runtime import Hub
from shugu.settings import Settings

EVENT_TYPE = "test.crash.appended"


class AckLog:
    """The acknowledgement file: one fsynced line per returned append."""

    def __init__(self, file: IO[str]) -> None:
        self._file = file
        self._lock = threading.Lock()

    def write(self, line: str) -> None:
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()
            os.fsync(self._file.fileno())


def fail() -> NoReturn:
    traceback.print_exc()
    sys.stderr.flush()
    os._exit(1)


def append_forever(hub: Hub, acks: AckLog, run: int, thread: int) -> None:
    """Append batches of 1-3 events forever; log each acknowledged batch."""
    try:
        for n in range(sys.maxsize):
            tokens = [f"{run}.{thread}.{n}.{k}" for k in range(n % 3 + 1)]
            indices = hub.ledger.append([Event(EVENT_TYPE, None, (), {"token": t}) for t in tokens])
            acks.write(json.dumps({"indices": indices, "tokens": tokens}))
    except BaseException:
        fail()


def append_until_killed(settings: Settings, run: int, threads: int, ack_log: Path) -> NoReturn:
    """The forked appender's whole life."""
    try:
        hub = Hub.open(settings)
        with ack_log.open("w", encoding="utf-8") as file:
            acks = AckLog(file)
            acks.write("ready")
            workers = [
                threading.Thread(target=append_forever, args=(hub, acks, run, t), daemon=True)
                for t in range(threads)
            ]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
    except BaseException:
        fail()
    os._exit(1)


def reply(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def serve(home: str, database_url: str) -> None:
    """Fork appenders on command (see the module docstring) until stdin closes."""
    settings = Settings(
        home=Path(home), database_url=database_url, secret_key=os.environ["SHUGU_SECRET_KEY"]
    )
    child = 0
    for line in sys.stdin:
        command, *args = line.rstrip("\n").split(" ", 3)
        if command == "start":
            child = os.fork()
            if child == 0:
                append_until_killed(settings, int(args[0]), int(args[1]), Path(args[2]))
            reply(str(child))
        elif command == "reap":
            _, status = os.waitpid(child, 0)
            reply(str(os.waitstatus_to_exitcode(status)))


if __name__ == "__main__":
    serve(*sys.argv[1:])
