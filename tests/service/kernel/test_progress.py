"""Progress of long command-line work (issue 32): a bar on a terminal, plain lines in logs."""

from __future__ import annotations

import io
import re

from service.kernel import progress

CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")  # anything but a line feed


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _run(stream: io.StringIO | None, total: int) -> None:
    with progress.task("Checking rows", total) as shown:
        for _ in range(total):
            shown.advance()


def test_outside_a_command_nothing_is_shown() -> None:
    _run(None, 30_000)  # the service and the worker: nowhere to print, nothing printed


def test_a_log_gets_a_plain_line_at_each_tenth_of_large_work() -> None:
    log = io.StringIO()
    with progress.reporting(log):
        _run(log, 25_000)

    lines = log.getvalue().splitlines()
    assert lines[0] == "Checking rows: 2,500 of 25,000 (10%)"
    assert lines[4] == "Checking rows: 12,500 of 25,000 (50%)"
    assert lines[-1] == "Checking rows: 25,000 of 25,000 (100%)"
    assert len(lines) == 10
    assert not CONTROL.search(log.getvalue())


def test_a_log_gets_nothing_for_small_work() -> None:
    log = io.StringIO()
    with progress.reporting(log):
        _run(log, progress.PLAIN_MIN_TOTAL - 1)
    assert log.getvalue() == ""


def test_a_terminal_gets_a_bar_and_nested_work_no_second_one() -> None:
    screen = Terminal()
    with progress.reporting(screen), progress.task("Demo city", 2) as outer:
        _run(screen, 1_000)  # inside: shown by the outer bar only
        outer.advance(2)

    shown = screen.getvalue()
    assert "Demo city" in shown and "2/2" in shown
    assert "Checking rows" not in shown
