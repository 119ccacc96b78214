"""The sync protocol against a real box: push, pull, events, sessions, register."""

from __future__ import annotations

import threading
import uuid

import pytest

from appliance.access import devices
from appliance.store import keys
from appliance.tools.client import ApiError, Client, Tablet
from tests.box import Box, wait_for


class Shop:
    def __init__(self, box: Box) -> None:
        self.box = box
        self.manager = Client(box.url)
        self.manager.pair(devices.new_pin(box.redis, f"boss-{uuid.uuid4().hex[:4]}", "manager"))
        if self.manager.call("GET", "/api/v1/register")["state"] != "open":
            self.manager.open_register()

    def tablet(self, staff: str = "marie", role: str = "waiter") -> Tablet:
        name = f"{staff}-{uuid.uuid4().hex[:4]}"
        tablet = Tablet(self.box.client(name), staff=staff, role=role)
        tablet.name = name  # type: ignore[attr-defined]
        tablet.start()
        return tablet


@pytest.fixture(scope="module")
def shop(shared_box: Box) -> Shop:
    return Shop(shared_box)


def new_id() -> str:
    return uuid.uuid4().hex[:10]


def test_push_applies_once_skips_retries_and_refuses_gaps(shop: Shop) -> None:
    tablet = shop.tablet()
    t = new_id()
    tablet.mutate("ticket.open", ticket_id=t, label="Table 9")
    tablet.mutate("ticket.add_line", ticket_id=t, line_id="l1", product="Burger", qty=1, unit_price=1250)
    batch = list(tablet.pending)
    answer = tablet.push()
    assert [r["status"] for r in answer["results"]] == ["applied", "applied"] and answer["last_mutation_id"] == 2
    again = tablet.client.push(tablet.session, batch)  # the answer was lost: the tablet resends
    assert [r["status"] for r in again["results"]] == ["duplicate", "duplicate"]
    gap = tablet.client.push(tablet.session, [{"id": 5, "name": "ticket.set_qty",
                                               "args": {"ticket_id": t, "line_id": "l1", "qty": 2}}])
    assert gap["results"] == [{"id": 5, "status": "gap", "expected": 3}] and gap["last_mutation_id"] == 2
    assert shop.manager.ticket(t)["lines"][0]["qty"] == 1


def test_a_business_refusal_consumes_the_id(shop: Shop) -> None:
    tablet = shop.tablet()
    tablet.mutate("ticket.add_line", ticket_id="no-such-ticket", line_id="l", product="x", qty=1, unit_price=1)
    t = new_id()
    tablet.mutate("ticket.open", ticket_id=t, label="Bar 2")
    answer = tablet.push()
    assert answer["results"][0] == {"id": 1, "status": "rejected", "reason": "no ticket no-such-ticket"}
    assert answer["results"][1]["status"] == "applied" and answer["last_mutation_id"] == 2


def test_ticket_api_shape(shop: Shop) -> None:
    tablet = shop.tablet()
    t = new_id()
    tablet.mutate("ticket.open", ticket_id=t, label="Terrasse 3")
    tablet.mutate("ticket.add_line", ticket_id=t, line_id="l1", product="Борщ", qty=2, unit_price=900)
    tablet.push()
    ticket = tablet.client.ticket(t)
    assert {k: ticket[k] for k in ("id", "label", "status", "version")} == {
        "id": t, "label": "Terrasse 3", "status": "open", "version": 2}
    assert ticket["lines"] == [{"line_id": "l1", "product": "Борщ", "qty": 2, "unit_price": 900, "void": False}]
    assert t in [x["id"] for x in tablet.client.tickets("open")]
    assert tablet.client.request("GET", "/api/v1/tickets/nope")[0] == 404


def test_pull_gives_changes_after_the_cursor_and_waits_for_them(shop: Shop) -> None:
    reader, writer = shop.tablet(), shop.tablet()
    reader.pull()
    t = new_id()
    answers: list[dict] = []

    def long_poll() -> None:  # as a tablet does: pull, apply, pull again from the new cursor
        while t not in reader.replica.state.get("ticket", {}):
            answer = reader.client.pull(reader.replica.cursor, wait=10)
            answers.append(answer)
            reader.replica.apply(answer)

    poller = threading.Thread(target=long_poll)
    poller.start()
    writer.mutate("ticket.open", ticket_id=t, label="Table 12")
    writer.push()
    poller.join(10)
    assert not poller.is_alive()
    assert not any(a["snapshot"] for a in answers)
    assert reader.replica.state["ticket"][t]["label"] == "Table 12"


def test_no_cursor_or_a_bad_one_gives_a_snapshot(shop: Shop) -> None:
    tablet = shop.tablet()
    for cursor in (None, "garbage", "0-1"):
        answer = tablet.client.pull(cursor)
        if cursor == "0-1" and not answer["snapshot"]:
            continue  # the log still reaches back to the beginning: changes, not a snapshot
        assert answer["snapshot"] and "ticket" in answer["state"] and answer["cursor"]


def test_events_resume_after_last_event_id(shop: Shop) -> None:
    tablet = shop.tablet()
    writer = shop.tablet()
    stream = tablet.client.events()
    event, _, _ = next(stream)
    assert event == "snapshot"
    t = new_id()
    writer.mutate("ticket.open", ticket_id=t, label="Table 1")
    writer.push()
    event, first_id, change = next(stream)
    assert event == "change" and change["id"] == t
    stream.close()
    # Offline for a while: two changes happen.
    writer.mutate("ticket.add_line", ticket_id=t, line_id="a", product="Tea", qty=1, unit_price=300)
    writer.push()
    writer.mutate("ticket.add_line", ticket_id=t, line_id="b", product="Cake", qty=1, unit_price=500)
    writer.push()
    resumed = tablet.client.events(last_event_id=first_id)
    seen = [next(resumed) for _ in range(2)]
    resumed.close()
    assert [e[0] for e in seen] == ["change", "change"]
    assert [len(e[2]["data"]["lines"]) for e in seen] == [1, 2]


def test_visibility_own_and_role(shop: Shop, shared_box: Box) -> None:
    marie, paul, barman = shop.tablet("marie2"), shop.tablet("paul2"), shop.tablet("leo", role="bar")
    t = new_id()
    marie.mutate("ticket.open", ticket_id=t, label="Marie's")
    marie.push()
    try:
        shared_box.redis.hset(keys.shop_settings(), "visibility", "own")
        assert t not in [x["id"] for x in paul.client.tickets()]
        assert t in [x["id"] for x in marie.client.tickets()]
        shared_box.redis.hset(keys.shop_settings(), "visibility", "role")
        assert t in [x["id"] for x in paul.client.call("GET", "/api/v1/tickets?role=waiter")["tickets"]]
        assert t not in [x["id"] for x in barman.client.call("GET", "/api/v1/tickets?role=bar")["tickets"]]
    finally:
        shared_box.redis.hset(keys.shop_settings(), "visibility", "all")


def test_manager_routes_need_a_manager(shop: Shop) -> None:
    tablet = shop.tablet()
    for method, path in [("GET", "/api/v1/devices"), ("POST", "/api/v1/register/close"),
                         ("POST", "/api/v1/register/open")]:
        status, body, _ = tablet.client.request(method, path)
        assert status == 403 and "manager" in body["message"]
    devices_seen = shop.manager.call("GET", "/api/v1/devices")["devices"]
    assert {"device_id", "name", "role", "session"} <= set(devices_seen[0])


def test_sessions_register_and_the_z_report(box: Box) -> None:
    shop = Shop(box)
    with pytest.raises(ApiError) as opened:
        shop.manager.open_register()
    assert opened.value.status == 409
    anna, ben = shop.tablet("anna"), shop.tablet("ben")
    for tablet, method, t in ((anna, "cash", "a1"), (ben, "card", "b1"), (ben, "card", "b2")):
        tablet.mutate("ticket.open", ticket_id=t, label=t)
        tablet.mutate("ticket.add_line", ticket_id=t, line_id="l", product="Menu", qty=1, unit_price=1500)
        tablet.mutate("ticket.pay", ticket_id=t, payment_id=f"p-{t}", method=method, amount=1500)
        tablet.push()

    # The takings so far, while the register is open: what a closing would say now, and the
    # bills still open (a table served, not yet paid).
    anna.mutate("ticket.open", ticket_id="a2", label="Table 2")
    anna.mutate("ticket.add_line", ticket_id="a2", line_id="l", product="Kawa", qty=2, unit_price=450)
    anna.push()
    so_far = shop.manager.call("GET", "/api/v1/register/takings")
    assert so_far["sales"] == 3 and so_far["total"] == 4500 and so_far["by_method"] == {"cash": 1500, "card": 3000}
    assert so_far["open_tickets"] == 1 and so_far["open_due"] == 900
    assert anna.client.request("GET", "/api/v1/register/takings")[0] == 403  # a manager's
    with pytest.raises(ApiError) as refused:
        shop.manager.close_register()
    assert refused.value.status == 409
    assert {s["name"] for s in refused.value.body["sessions"]} == {anna.name, ben.name}
    # A tablet closes only once the box has all its mutations.
    anna.mutate("ticket.open", ticket_id="late", label="late")
    with pytest.raises(ApiError) as early:
        anna.client.close_session(anna.next_id - 1)
    assert early.value.status == 409
    anna.close()
    # Ben's tablet died: the manager force-closes its session, its later pushes are refused.
    ben.mutate("ticket.open", ticket_id="lost", label="lost")
    shop.manager.call("POST", f"/api/v1/sessions/{devices.find(box.redis, ben.name)['device_id']}/force-close")
    with pytest.raises(ApiError) as gone:
        ben.push()
    assert gone.value.status == 410 and "lost" in gone.value.body["message"]

    z = shop.manager.close_register()
    assert z["sales"] == 3 and z["total"] == 4500 and z["by_method"] == {"cash": 1500, "card": 3000}
    assert sorted(d["count"] for d in z["by_device"].values()) == [1, 2]
    with pytest.raises(ApiError) as closed:
        anna.client.start_session()
    assert closed.value.status == 409


def test_pushing_without_a_session(shop: Shop, shared_box: Box) -> None:
    client = shared_box.client("no-session")
    status, body, _ = client.request("POST", "/api/v1/sync/push", {
        "session": "nope", "mutations": [{"id": 1, "name": "ticket.open", "args": {}}]})
    assert status == 409 and "start a session" in body["message"]
    status, body, _ = client.request("POST", "/api/v1/sync/push", {"session": "x", "mutations": []})
    assert status == 422


def test_default_tables_appear_on_every_tablet(shop: Shop, shared_box: Box) -> None:
    from appliance.sync import shop as shop_settings

    ids = shop_settings.set_default_tickets(shared_box.redis, ["Table 1", "Terrasse 3"])
    tablet = shop.tablet("nina", role="bar")
    shared_box.redis.hset(keys.shop_settings(), "visibility", "own")
    try:
        assert set(ids) <= set(tablet.replica.state["ticket"])
    finally:
        shared_box.redis.hset(keys.shop_settings(), "visibility", "all")
    assert wait_for(lambda: shop.manager.ticket(ids[1])["label"] == "Terrasse 3")


def test_the_z_report_adds_up_whatever_the_method_names(box: Box) -> None:
    shop = Shop(box)
    tablet = shop.tablet("zoe")
    for ticket_id, method, amount in (("v", "carte:visa", 1000), ("m", "carte:mc", 500), ("e", "espèces", 700)):
        tablet.mutate("ticket.open", ticket_id=ticket_id, label=ticket_id)
        tablet.mutate("ticket.add_line", ticket_id=ticket_id, line_id="l", product="Plat", qty=1, unit_price=amount)
        tablet.mutate("ticket.pay", ticket_id=ticket_id, payment_id=f"p-{ticket_id}", method=method, amount=amount)
    tablet.push()
    tablet.close()
    z = shop.manager.close_register()
    assert z["total"] == 2200 and z["sales"] == 3
    assert z["by_method"] == {"carte:visa": 1000, "carte:mc": 500, "espèces": 700}
    assert next(iter(z["by_device"].values()))["by_method"] == z["by_method"]


def test_register_clicks_racing_tablets_never_fail_and_never_leave_a_session_on_a_closed_register(
        redis_only) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from appliance.errors import Conflict, NoSession
    from appliance.sync import sessions

    r = redis_only
    manager = devices.get(r, devices.pair(r, devices.new_pin(r, "boss", "manager"), None, "test")["device_id"])
    tablets = [devices.get(r, devices.pair(r, devices.new_pin(r, f"t{n}"), None, "test")["device_id"])
               for n in range(4)]
    failures: list[BaseException] = []

    def clicks() -> None:
        for _ in range(40):
            for action in (sessions.open_register, sessions.close_register):
                try:
                    action(r, manager)
                except Conflict:
                    pass
                except BaseException as exc:
                    failures.append(exc)

    def selling(device: dict) -> None:
        for _ in range(40):
            try:
                sessions.start(r, device)
                sessions.close(r, device, 0)
            except (Conflict, NoSession):
                pass
            except BaseException as exc:
                failures.append(exc)

    with ThreadPoolExecutor(6) as pool:
        for future in [pool.submit(clicks), pool.submit(clicks), *(pool.submit(selling, t) for t in tablets)]:
            future.result()
    assert failures == []
    if sessions.register_state(r)["state"] != "open":
        assert sessions.open_sessions(r) == []
