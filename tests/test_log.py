"""Both log formatters show every extra field, whether passed in ``fields`` or as plain extras."""

from __future__ import annotations

import json
import logging

import pytest

from shugu.log import JsonFormatter, TextFormatter


def _record(**extra: object) -> logging.LogRecord:
    logger = logging.getLogger("shugu.test")
    return logger.makeRecord(
        "shugu.test", logging.INFO, __file__, 1, "pep.setup_deferred", (), None, extra=extra
    )


@pytest.mark.parametrize(
    "extra",
    [
        {"reason": "server down"},
        {"fields": {"reason": "server down"}},
        {"fields": {"code": "x"}, "reason": "server down"},
    ],
    ids=["plain", "fields", "both"],
)
def test_the_json_formatter_keeps_every_field(extra: dict[str, object]) -> None:
    event = json.loads(JsonFormatter().format(_record(**extra)))
    assert event["event"] == "pep.setup_deferred"
    assert event["reason"] == "server down"


def test_the_json_formatter_never_lets_a_field_replace_the_event() -> None:
    event = json.loads(JsonFormatter().format(_record(fields={"event": "forged", "level": "x"})))
    assert event["event"] == "pep.setup_deferred" and event["level"] == "info"


def test_the_text_formatter_keeps_every_field() -> None:
    line = TextFormatter().format(_record(transcryptors=["a", "b"], fields={"code": "c"}))
    assert "transcryptors=['a', 'b']" in line and "code=c" in line
