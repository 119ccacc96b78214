"""Whatever a tablet sends, the answer is never a 500: random bodies, built from the
document's own vocabulary so they get past the first checks, against the real app and a real
Redis (Flask's test client stands in for the HTTP socket only)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance import config
from appliance.access import devices
from appliance.printing import printers
from appliance.web import create_app

KEYS = ["text", "columns", "rule", "barcode", "qr", "image", "feed", "bold", "underline", "size", "align",
        "invert", "type", "data", "height", "hri", "cut", "lines", "role", "printer", "raw", "copies", "drawer", "id"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 300), st.floats(allow_nan=False),
                    st.text(max_size=30), st.sampled_from(["double", "center", "EAN13", "CODE128", "kitchen", "fuzz",
                                                           "590123412345", "iVBORw0KGgo=", "{B1"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)),
                      max_leaves=12)
def _png(width: int, height: int) -> str:
    import base64
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), "black").save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


def mostly(valid: st.SearchStrategy) -> st.SearchStrategy:
    """Valid nine times in ten, anything the tenth: deep enough to reach the renderer."""
    return st.one_of(*[valid] * 9, values)


options = st.fixed_dictionaries({}, optional={
    "bold": mostly(st.booleans()), "underline": mostly(st.sampled_from([0, 1, 2, True])),
    "size": mostly(st.sampled_from(["normal", "wide", "tall", "double"])),
    "align": mostly(st.sampled_from(["left", "center", "right"]))})
elements = st.one_of(
    st.fixed_dictionaries({"text": mostly(st.text(max_size=60))}),
    st.fixed_dictionaries({"columns": mostly(st.lists(st.text(max_size=30), max_size=7))}),
    st.fixed_dictionaries({"rule": mostly(st.one_of(st.booleans(), st.text(max_size=2)))}),
    st.fixed_dictionaries({"barcode": st.one_of(st.fixed_dictionaries(
        {"type": st.sampled_from(["EAN13", "EAN8", "UPC-A", "CODE39", "CODE128", "ITF", "QR"]),
         "data": st.one_of(st.text(max_size=20), st.from_regex(r"[0-9]{6,14}", fullmatch=True))},
        optional={"height": mostly(st.integers(1, 255)), "hri": mostly(st.booleans())}), values)}),
    st.fixed_dictionaries({"qr": st.one_of(st.text(max_size=100), st.fixed_dictionaries(
        {"data": st.text(max_size=50)}, optional={"size": values}), values)}),
    st.fixed_dictionaries({"image": st.one_of(st.sampled_from([_png(10, 10), _png(1000, 30), _png(1, 4000)]),
                                              st.text(max_size=20))}),
    st.fixed_dictionaries({"feed": mostly(st.integers(-2, 300))}),
)
styled = st.builds(lambda e, o: {**e, **o}, elements, options)
line = st.one_of(*[styled] * 9, st.dictionaries(st.sampled_from(KEYS), values, max_size=3))
plausible = st.fixed_dictionaries(
    {"printer": st.just("fuzz"), "document": st.fixed_dictionaries({"lines": st.lists(line, min_size=1, max_size=4)},
                                                                   optional={"cut": values})},
    optional={"copies": mostly(st.integers(0, 12)), "drawer": mostly(st.booleans())})
anything = st.dictionaries(st.sampled_from(KEYS), values, max_size=5)
body = st.one_of(plausible, plausible, anything)


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory):
    from appliance.runtime import redis_server
    from appliance.store import client

    settings_ = config.load(tmp_path_factory.mktemp("fuzz"))
    process = redis_server.start(settings_)
    r = client.connect(settings_)
    printers.add(r, printers.validate("fuzz", "tcp://127.0.0.1:9", ["fuzz"]))
    client = create_app(settings_).test_client()
    token = client.post("/api/v1/pair", json={"pin": devices.new_pin(r, "fuzzer")}).json["token"]
    yield client, {"Authorization": f"Bearer {token}"}
    process.terminate()
    process.wait(10)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body)
def test_no_body_makes_the_box_answer_500(app_client, payload: dict) -> None:
    client, headers = app_client
    answer = client.post("/api/v1/jobs", data=json.dumps(payload), headers=headers)
    assert answer.status_code in (200, 202, 400, 404, 409, 413, 422), answer.get_data(as_text=True)
    assert answer.is_json


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.fixed_dictionaries({"id": values, "name": st.sampled_from(
    ["ticket.open", "ticket.add_line", "ticket.pay", "stock.move", "nope"]), "args": values}), max_size=4))
def test_no_push_makes_the_box_answer_500(app_client, mutations: list) -> None:
    client, headers = app_client
    answer = client.post("/api/v1/sync/push", data=json.dumps({"session": "s", "mutations": mutations}),
                         headers=headers)
    assert answer.status_code in (200, 409, 410, 422), answer.get_data(as_text=True)


valid_line = st.one_of(
    st.builds(lambda text, size, align, bold: {"text": text, "size": size, "align": align, "bold": bold},
              st.text(max_size=80), st.sampled_from(["normal", "wide", "tall", "double"]),
              st.sampled_from(["left", "center", "right"]), st.booleans()),
    st.builds(lambda cols, size: {"columns": cols, "size": size},
              st.lists(st.text(max_size=40), min_size=2, max_size=6), st.sampled_from(["normal", "wide", "double"])),
    st.builds(lambda digits: {"barcode": {"type": "EAN13", "data": digits}},
              st.from_regex(r"[0-9]{12}", fullmatch=True)),
    st.builds(lambda data: {"barcode": {"type": "CODE128", "data": data}},
              st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=30)),
    st.builds(lambda data: {"qr": data}, st.text(min_size=1, max_size=200)),
    st.builds(lambda rule: {"rule": rule},
              st.one_of(st.just(True), st.characters(min_codepoint=33, max_codepoint=0x44F))),
    st.builds(lambda feed: {"feed": feed}, st.integers(1, 10)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(valid_line, min_size=1, max_size=8))
def test_any_valid_document_is_accepted_whatever_its_text(app_client, lines: list) -> None:
    """Any Unicode (emoji, Arabic, Cyrillic...) prints: what no code page has becomes '?'."""
    client, headers = app_client
    answer = client.post("/api/v1/jobs", data=json.dumps({"printer": "fuzz", "document": {"lines": lines}}),
                         headers=headers)
    assert answer.status_code == 202, answer.get_data(as_text=True)
