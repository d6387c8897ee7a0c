"""Structured logging: one JSON object per event on stderr, never a secret.

Loggers are stdlib `logging` loggers named after their module; `configure_logging` installs the
JSON formatter once at the edge (the hub server, the CLI). Extra fields are passed with
`log.info("event.name", extra={"fields": {...}})` or as plain extras
(`extra={"reason": ...}`); both formatters show every one of them. Callers log identifiers and
counts, never keys, signatures, request bodies or personal data.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The extra fields of `record`: its ``fields`` dict and any other extra attribute."""
    found = {
        key: value
        for key, value in record.__dict__.items()
        if key not in _STANDARD and key != "fields" and not key.startswith("_")
    }
    fields = getattr(record, "fields", None)
    if isinstance(fields, dict):
        found.update(fields)
    elif fields is not None:
        found["fields"] = fields
    return found


class JsonFormatter(logging.Formatter):
    """Format a record as a single-line JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        event.update({k: v for k, v in record_fields(record).items() if k not in event})
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        return json.dumps(event, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Human-readable lines with the extra fields as key=value pairs."""

    def format(self, record: logging.LogRecord) -> str:
        extra = " ".join(f"{k}={v}" for k, v in record_fields(record).items())
        line = f"{record.levelname.lower():7} {record.name}: {record.getMessage()} {extra}".rstrip()
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(level: str = "INFO", *, json_lines: bool = True) -> None:
    """Send shugu's logs to stderr in the chosen format (idempotent)."""
    root = logging.getLogger("shugu")
    root.setLevel(level.upper())
    for handler in list(root.handlers):
        if getattr(handler, "_shugu", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    handler._shugu = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.propagate = False
