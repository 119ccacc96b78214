"""The mutation rules are pure functions: tested without Redis or HTTP."""

from __future__ import annotations

import pytest

from appliance.sync.mutations import Context, Effects, Rejected, apply, parse

WAITER = Context("dev-a", "marie", "waiter", 1000.0, register_open=True)
OTHER = Context("dev-b", "paul", "waiter", 1000.0, register_open=True)


def run(view: dict, mutation: str, ctx: Context = WAITER, /, **args) -> Effects:
    effects = apply(view, mutation, parse(mutation, args), ctx)
    view.update(effects.changes)
    return effects


@pytest.fixture
def table() -> dict:
    view: dict = {}
    run(view, "ticket.open", ticket_id="t1", label="Table 4")
    run(view, "ticket.add_line", ticket_id="t1", line_id="a", product="Burger", qty=2, unit_price=1250)
    return view


def test_two_waiters_add_to_one_table_without_overwriting(table: dict) -> None:
    run(table, "ticket.add_line", OTHER, ticket_id="t1", line_id="b", product="Żurek", qty=1, unit_price=900)
    run(table, "ticket.set_qty", ticket_id="t1", line_id="a", qty=3)
    ticket = table[("ticket", "t1")]
    assert [(line["line_id"], line["qty"]) for line in ticket["lines"]] == [("a", 3), ("b", 1)]
    assert ticket["total"] == 3 * 1250 + 900 and ticket["version"] == 4


def test_void_and_unknown_lines(table: dict) -> None:
    run(table, "ticket.void_line", ticket_id="t1", line_id="a")
    assert table[("ticket", "t1")]["total"] == 0
    with pytest.raises(Rejected, match="voided"):
        run(table, "ticket.set_qty", ticket_id="t1", line_id="a", qty=1)
    with pytest.raises(Rejected, match="no line"):
        run(table, "ticket.void_line", ticket_id="t1", line_id="zz")
    with pytest.raises(Rejected, match="exists already"):
        run(table, "ticket.open", ticket_id="t1", label="again")


def test_paid_in_full_becomes_paid_and_immutable_with_a_receipt(table: dict) -> None:
    partial = run(table, "ticket.pay", ticket_id="t1", payment_id="p1", method="cash", amount=1000)
    assert partial.records == [] and table[("ticket", "t1")]["status"] == "open"
    done = run(table, "ticket.pay", ticket_id="t1", payment_id="p2", method="card", amount=1500)
    assert table[("ticket", "t1")]["status"] == "paid"
    receipt = table[("receipt", "t1.1")]
    assert receipt["paid"] == receipt["total"] == 2500
    assert done.records[0]["kind"] == "sale" and done.records[0]["id"] == "t1.1"
    assert done.totals == {"count": 1, "device:dev-a:count": 1, "shop:method:cash": 1000, "shop:method:card": 1500,
                           "device:dev-a:method:cash": 1000, "device:dev-a:method:card": 1500}
    with pytest.raises(Rejected, match="already paid"):
        run(table, "ticket.add_line", ticket_id="t1", line_id="c", product="Tea", qty=1, unit_price=300)


def test_paying_needs_the_lease_and_the_version(table: dict) -> None:
    run(table, "ticket.lease", OTHER, ticket_id="t1", seconds=30)
    with pytest.raises(Rejected, match="leased by another tablet"):
        run(table, "ticket.pay", ticket_id="t1", payment_id="p1", method="cash", amount=2500)
    later = Context("dev-a", "marie", "waiter", 1031.0, register_open=True)
    with pytest.raises(Rejected, match="version"):
        run(table, "ticket.pay", later, ticket_id="t1", payment_id="p1", method="cash", amount=2500, version=1)
    version = table[("ticket", "t1")]["version"]
    run(table, "ticket.pay", later, ticket_id="t1", payment_id="p1", method="cash", amount=2500, version=version)
    assert table[("ticket", "t1")]["status"] == "paid"


def test_a_closed_register_refuses_payments(table: dict) -> None:
    closed = Context("dev-a", "marie", "waiter", 1000.0, register_open=False)
    with pytest.raises(Rejected, match="register is closed"):
        run(table, "ticket.pay", closed, ticket_id="t1", payment_id="p1", method="cash", amount=2500)


def test_a_default_table_starts_over_once_paid() -> None:
    from appliance.sync.mutations import new_ticket

    view: dict = {("ticket", "default-table-4"): new_ticket("default-table-4", "Table 4", None, default=True)}
    run(view, "ticket.add_line", ticket_id="default-table-4", line_id="a", product="Tea", qty=1, unit_price=300)
    run(view, "ticket.pay", ticket_id="default-table-4", payment_id="p", method="cash", amount=300)
    table = view[("ticket", "default-table-4")]
    assert table["status"] == "open" and table["lines"] == [] and table["round"] == 2
    assert view[("receipt", "default-table-4.1")]["total"] == 300


def test_split_and_transfer(table: dict) -> None:
    run(table, "ticket.add_line", ticket_id="t1", line_id="b", product="Cola", qty=1, unit_price=400)
    run(table, "ticket.split", ticket_id="t1", new_ticket_id="t2", line_ids=["b"])
    assert [line["line_id"] for line in table[("ticket", "t2")]["lines"]] == ["b"]
    run(table, "ticket.transfer", ticket_id="t2", to_ticket_id="t1")
    assert table[("ticket", "t2")]["status"] == "transferred"
    assert sorted(line["line_id"] for line in table[("ticket", "t1")]["lines"]) == ["a", "b"]


def test_kitchen_tickets_only_move_forward(table: dict) -> None:
    run(table, "kitchen.send", kitchen_id="k1", ticket_id="t1")
    run(table, "kitchen.advance", kitchen_id="k1", status="ready")
    with pytest.raises(Rejected, match="only moves forward"):
        run(table, "kitchen.advance", kitchen_id="k1", status="preparing")
    assert table[("kitchen", "k1")]["lines"] == [{"line_id": "a", "product": "Burger", "qty": 2}]


def test_points_and_stock_add_up() -> None:
    view: dict = {}
    run(view, "customer.upsert", customer_id="c1", name="Anna")
    run(view, "customer.add_points", customer_id="c1", points=10)
    run(view, "customer.add_points", OTHER, customer_id="c1", points=5)
    assert view[("customer", "c1")]["points"] == 15
    with pytest.raises(Rejected, match="only 15 points"):
        run(view, "customer.add_points", customer_id="c1", points=-20)
    run(view, "stock.move", movement_id="m1", product="beer", delta=24)
    moved = run(view, "stock.move", OTHER, movement_id="m2", product="beer", delta=-3)
    assert view[("stock", "beer")]["qty"] == 21 and moved.records[0]["kind"] == "stock_move"


@pytest.mark.parametrize(("name", "args", "reason"), [
    ("ticket.explode", {}, "unknown mutation"),
    ("ticket.add_line", {"ticket_id": "t1"}, "invalid arguments"),
    ("ticket.add_line", {"ticket_id": "t1", "line_id": "x", "product": "p", "qty": 1, "unit_price": -5},
     "unit_price"),
    ("catalogue.set_price", {"product": "x", "price": 1}, "unknown mutation"),
])
def test_bad_mutations_are_refused_with_a_reason(name: str, args: dict, reason: str) -> None:
    with pytest.raises(Rejected, match=reason):
        parse(name, args)


def test_the_z_report_keeps_every_payment_method_whole() -> None:
    from appliance.sync.sessions import z_report

    view: dict = {}
    run(view, "ticket.open", ticket_id="t9", label="Table 9")
    run(view, "ticket.add_line", ticket_id="t9", line_id="a", product="Menu", qty=1, unit_price=2200)
    totals: dict[str, int] = {}
    for payment_id, method, amount in (("p1", "carte:visa", 1000), ("p2", "carte:mc", 500), ("p3", "espèces", 700)):
        for name, value in run(view, "ticket.pay", ticket_id="t9", payment_id=payment_id, method=method,
                               amount=amount).totals.items():
            totals[name] = totals.get(name, 0) + value
    report = z_report({"number": "3", "opened_at": "1.0"}, totals, {"dev-a": "Marie's tablet"}, 2.0)
    assert report["by_method"] == {"carte:visa": 1000, "carte:mc": 500, "espèces": 700}
    assert report["total"] == 2200 and report["sales"] == 1
    assert report["by_device"] == {"dev-a": {"name": "Marie's tablet", "count": 1,
                                             "by_method": {"carte:visa": 1000, "carte:mc": 500, "espèces": 700}}}
