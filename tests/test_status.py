"""DLE EOT status bytes, decoded as the printer means them."""

from __future__ import annotations

import pytest

from appliance.printing.status import PrinterStatus, StatusError, encode, parse


def test_ready_printer() -> None:
    state = parse(bytes([0x12, 0x12, 0x12]))
    assert state == PrinterStatus(online=True, paper="ok", cover_open=False, error=False)
    assert state.ready and state.problem is None


@pytest.mark.parametrize(("answer", "problem", "paper"), [
    (bytes([0x1A, 0x16, 0x12]), "cover open", "ok"),
    (bytes([0x1A, 0x32, 0x72]), "out of paper", "out"),
    (bytes([0x1A, 0x52, 0x12]), "printer error (cutter or head)", "ok"),
    (bytes([0x1A, 0x12, 0x12]), "printer offline", "ok"),
])
def test_problems_a_person_must_fix(answer: bytes, problem: str, paper: str) -> None:
    state = parse(answer)
    assert not state.ready and state.problem == problem and state.paper == paper


def test_paper_near_end_still_prints() -> None:
    state = parse(bytes([0x12, 0x12, 0x1E]))
    assert state.paper == "near_end" and state.ready


@pytest.mark.parametrize("answer", [b"", b"\x12\x12", b"\x00\x12\x12", b"\x12\x12\x93", b"ABC"])
def test_garbage_is_not_a_status(answer: bytes) -> None:
    with pytest.raises(StatusError):
        parse(answer)


@pytest.mark.parametrize("state", [
    PrinterStatus(True, "ok", False, False), PrinterStatus(True, "near_end", False, False),
    PrinterStatus(True, "out", False, False), PrinterStatus(True, "ok", True, False),
    PrinterStatus(True, "ok", False, True),
])
def test_emulated_answers_read_back(state: PrinterStatus) -> None:
    decoded = parse(encode(state))
    assert (decoded.ready, decoded.paper, decoded.cover_open, decoded.error) == (
        state.ready, state.paper, state.cover_open, state.error)
