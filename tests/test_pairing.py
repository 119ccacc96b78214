"""Tablets pair with a one-time PIN; everything else needs the token they get."""

from __future__ import annotations

from appliance.access import devices
from appliance.store import keys
from appliance.tools.client import Client
from tests.box import Box


def test_pin_pairs_once_and_token_opens_the_api(shared_box: Box) -> None:
    pin = devices.new_pin(shared_box.redis, "Caisse 1")
    tablet = Client(shared_box.url)
    paired = tablet.pair(pin)
    assert paired["name"] == "Caisse 1" and len(paired["token"]) >= 40
    assert tablet.printers() == [] or isinstance(tablet.printers(), list)

    again = Client(shared_box.url)
    status, body, _ = again.request("POST", "/api/v1/pair", {"pin": pin})
    assert status == 422 and "PIN" in body["message"]


def test_routes_need_a_token(shared_box: Box) -> None:
    anonymous = Client(shared_box.url)
    for method, path in [("GET", "/api/v1/printers"), ("POST", "/api/v1/jobs"),
                         ("GET", "/api/v1/jobs/6f1c1d57-8a55-4f0b-9c1c-2e6f3c3f9a10")]:
        status, answer, headers = anonymous.request(method, path, {})
        assert status == 401, path
        assert answer["error"] == "unauthorized"
        assert headers["WWW-Authenticate"].startswith("Bearer")
    forged = Client(shared_box.url, token="not-a-token")
    assert forged.request("GET", "/api/v1/printers")[0] == 401


def test_wrong_pins_are_rate_limited(shared_box: Box) -> None:
    shared_box.redis.delete(keys.pair_failures("127.0.0.1"), keys.pair_failures_all())
    good = devices.new_pin(shared_box.redis, "late")
    tablet = Client(shared_box.url)
    statuses = [tablet.request("POST", "/api/v1/pair", {"pin": "000000" if good != "000000" else "111111"})[0]
                for _ in range(devices.FAILURES_PER_CLIENT + 1)]
    assert statuses[:devices.FAILURES_PER_CLIENT] == [422] * devices.FAILURES_PER_CLIENT
    status, _, headers = tablet.request("POST", "/api/v1/pair", {"pin": good})
    assert status == 429 and headers["Retry-After"] == "60"
    shared_box.redis.delete(keys.pair_failures("127.0.0.1"), keys.pair_failures_all())
    assert tablet.request("POST", "/api/v1/pair", {"pin": good})[0] == 201


def test_revoked_tablet_is_refused_and_tokens_are_stored_hashed(shared_box: Box) -> None:
    tablet = shared_box.client("to-revoke")
    assert tablet.request("GET", "/api/v1/printers")[0] == 200
    dumped = b"".join(shared_box.redis.dump(k) or b"" for k in shared_box.redis.scan_iter("comptoir:*"))
    assert tablet.token.encode() not in dumped
    device = devices.find(shared_box.redis, "to-revoke")
    devices.revoke(shared_box.redis, device["device_id"])
    assert tablet.request("GET", "/api/v1/printers")[0] == 401


def test_pin_expires_after_ten_minutes(shared_box: Box) -> None:
    pin = devices.new_pin(shared_box.redis)
    assert 590 <= shared_box.redis.ttl(keys.pin(pin)) <= 600
