"""The API keeps the promises of its OpenAPI document: schemathesis generates requests from
`/api/v1/openapi.json` (valid ones and, as it likes, invalid ones) and sends them to a real
box. No answer may be a 5xx, every status must be documented, and every JSON body must match
its documented schema."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from appliance.access import devices
from appliance.sync.feed import MAX_WAIT
from appliance.tools.client import Client
from tests.box import Box
from tests.fakeprinter import FakePrinter


@pytest.fixture(scope="module")
def schema_box(shared_box: Box) -> Iterator[tuple[Box, str]]:
    printer = FakePrinter()
    shared_box.add_printer("counter", printer.uri, ("receipt", "kitchen"))
    manager = Client(shared_box.url)
    manager.pair(devices.new_pin(shared_box.redis, "schema-manager", "manager"))
    yield shared_box, manager.token
    printer.stop()


def test_every_answer_is_documented_and_never_a_server_error(schema_box: tuple[Box, str]) -> None:
    box, token = schema_box
    api = schemathesis.openapi.from_url(f"{box.url}/api/v1/openapi.json")
    checked = []
    for found in api.get_all_operations():
        operation = found.ok()
        if operation.path == "/sync/events":  # a stream never ends: test_hostile and test_sync read it
            continue

        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def call(case) -> None:
            # A pull may wait up to MAX_WAIT seconds for a change, as documented: no time-out before.
            response = case.call(base_url=f"{box.url}/api/v1", headers={"Authorization": f"Bearer {token}"},
                                 timeout=MAX_WAIT + 15)
            case.validate_response(response, checks=(not_a_server_error, status_code_conformance,
                                                     response_schema_conformance))

        call()
        checked.append(f"{operation.method.upper()} {operation.path}")
    assert len(checked) == 21, checked  # every route the document lists but the event stream
