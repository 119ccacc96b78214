"""Mutations and their rules, as pure functions: (entities read, arguments, who) -> effects.

No I/O here: the push service loads the entities a batch touches, calls ``apply`` for each
mutation in order, and writes the effects in one transaction. Amounts are integers in cents.

Rules (docs/sync.md says the same for integrators):
- tickets change by line operations keyed by line id, and by header fields, so two waiters
  adding to one table never overwrite each other;
- paying, splitting and transferring a ticket need the ticket's lease (when another tablet
  holds it, the mutation is refused) and accept the ``version`` the tablet saw (when it
  differs, refused);
- a ticket paid in full becomes ``paid`` and immutable, and a receipt (immutable too) is
  written; a default ticket ("Table 4") starts over empty instead, for the next guests;
- kitchen tickets only move forward: new -> preparing -> ready -> served;
- loyalty points and stock movements add up; catalogue and prices come from the back office.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

Key = tuple[str, str]  # (kind, id)
KITCHEN_FLOW = ("new", "preparing", "ready", "served")
MAX_LEASE = 120


class Rejected(Exception):
    """A business refusal: the mutation is consumed (its id counts as applied) but changes nothing."""


@dataclass(frozen=True)
class Context:
    device_id: str
    staff: str
    role: str
    now: float
    register_open: bool


@dataclass
class Effects:
    changes: dict[Key, dict | None] = field(default_factory=dict)
    records: list[dict] = field(default_factory=list)  # for the back office
    totals: dict[str, int] = field(default_factory=dict)  # added to the register's running totals


# -- arguments -------------------------------------------------------------------------------

Id = Field(min_length=1, max_length=100)
Cents = Field(ge=0, le=100_000_000)


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TicketOpen(_Args):
    ticket_id: str = Id
    label: str = Field(min_length=1, max_length=100)


class TicketAddLine(_Args):
    ticket_id: str = Id
    line_id: str = Id
    product: str = Field(min_length=1, max_length=200)
    qty: int = Field(ge=1, le=10_000)
    unit_price: int = Cents


class TicketSetQty(_Args):
    ticket_id: str = Id
    line_id: str = Id
    qty: int = Field(ge=1, le=10_000)


class TicketLine(_Args):
    ticket_id: str = Id
    line_id: str = Id


class TicketLabel(_Args):
    ticket_id: str = Id
    label: str = Field(min_length=1, max_length=100)


class TicketLease(_Args):
    ticket_id: str = Id
    seconds: int = Field(default=30, ge=1, le=MAX_LEASE)


class TicketRelease(_Args):
    ticket_id: str = Id


class TicketPay(_Args):
    ticket_id: str = Id
    payment_id: str = Id
    method: str = Field(min_length=1, max_length=40)
    amount: int = Field(ge=1, le=100_000_000)
    version: int | None = None


class TicketSplit(_Args):
    ticket_id: str = Id
    new_ticket_id: str = Id
    line_ids: list[str] = Field(min_length=1, max_length=500)
    label: str | None = Field(default=None, max_length=100)
    version: int | None = None


class TicketTransfer(_Args):
    ticket_id: str = Id
    to_ticket_id: str = Id
    version: int | None = None


class KitchenSend(_Args):
    kitchen_id: str = Id
    ticket_id: str = Id
    station: str = Field(default="kitchen", min_length=1, max_length=40)
    line_ids: list[str] | None = None  # None: every line not voided


class KitchenAdvance(_Args):
    kitchen_id: str = Id
    status: str


class CustomerUpsert(_Args):
    customer_id: str = Id
    name: str = Field(min_length=1, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=200)


class CustomerPoints(_Args):
    customer_id: str = Id
    points: int = Field(ge=-1_000_000, le=1_000_000)


class StockMove(_Args):
    movement_id: str = Id
    product: str = Id
    delta: int = Field(ge=-1_000_000, le=1_000_000)
    reason: str = Field(default="", max_length=200)


# -- helpers ---------------------------------------------------------------------------------

View = Mapping[Key, dict | None]


def _ticket(view: View, ticket_id: str, *, open_only: bool = True) -> dict:
    ticket = view.get(("ticket", ticket_id))
    if ticket is None:
        raise Rejected(f"no ticket {ticket_id}")
    if open_only and ticket["status"] != "open":
        raise Rejected(f"ticket {ticket_id} is already {ticket['status']}")
    return copy.deepcopy(ticket)


def _line(ticket: dict, line_id: str) -> dict:
    for line in ticket["lines"]:
        if line["line_id"] == line_id:
            if line["void"]:
                raise Rejected(f"line {line_id} is voided")
            return line
    raise Rejected(f"no line {line_id} on ticket {ticket['id']}")


def total(ticket: dict) -> int:
    return sum(line["qty"] * line["unit_price"] for line in ticket["lines"] if not line["void"])


def paid(ticket: dict) -> int:
    return sum(p["amount"] for p in ticket["payments"])


def _guard(ticket: dict, ctx: Context, version: int | None) -> None:
    """Paying, splitting, transferring: the lease must not be someone else's, the version
    must be the one the tablet saw (when it says)."""
    lease = ticket.get("lease")
    if lease and lease["device_id"] != ctx.device_id and lease["until"] > ctx.now:
        raise Rejected(f"ticket {ticket['id']} is leased by another tablet for {lease['until'] - ctx.now:.0f} s")
    if version is not None and version != ticket["version"]:
        raise Rejected(f"ticket {ticket['id']} changed (version {ticket['version']}, not {version}); reload it")


def _touch(ticket: dict, ctx: Context) -> dict:
    ticket["version"] += 1
    ticket["updated_at"] = ctx.now
    ticket["total"] = total(ticket)
    ticket["paid"] = paid(ticket)
    return ticket


def new_ticket(ticket_id: str, label: str, ctx: Context | None, *, default: bool = False,
               round_: int = 1, now: float = 0.0) -> dict:
    owner = None if ctx is None else {"device_id": ctx.device_id, "staff": ctx.staff, "role": ctx.role}
    return {"id": ticket_id, "label": label, "status": "open", "version": 1, "default": default,
            "round": round_, "owner": owner, "lines": [], "payments": [], "lease": None,
            "total": 0, "paid": 0, "updated_at": ctx.now if ctx else now}


# -- the mutations ---------------------------------------------------------------------------


def ticket_open(view: View, a: TicketOpen, ctx: Context) -> Effects:
    if view.get(("ticket", a.ticket_id)) is not None:
        raise Rejected(f"ticket {a.ticket_id} exists already")
    return Effects({("ticket", a.ticket_id): new_ticket(a.ticket_id, a.label, ctx)})


def ticket_add_line(view: View, a: TicketAddLine, ctx: Context) -> Effects:
    ticket = _ticket(view, a.ticket_id)
    if any(line["line_id"] == a.line_id for line in ticket["lines"]):
        raise Rejected(f"line {a.line_id} exists already")
    ticket["lines"].append({"line_id": a.line_id, "product": a.product, "qty": a.qty,
                            "unit_price": a.unit_price, "void": False, "added_by": ctx.staff})
    return Effects({("ticket", a.ticket_id): _touch(ticket, ctx)})


def ticket_set_qty(view: View, a: TicketSetQty, ctx: Context) -> Effects:
    ticket = _ticket(view, a.ticket_id)
    _line(ticket, a.line_id)["qty"] = a.qty
    return Effects({("ticket", a.ticket_id): _touch(ticket, ctx)})


def ticket_void_line(view: View, a: TicketLine, ctx: Context) -> Effects:
    ticket = _ticket(view, a.ticket_id)
    _line(ticket, a.line_id)["void"] = True
    return Effects({("ticket", a.ticket_id): _touch(ticket, ctx)})


def ticket_set_label(view: View, a: TicketLabel, ctx: Context) -> Effects:
    ticket = _ticket(view, a.ticket_id)
    ticket["label"] = a.label
    return Effects({("ticket", a.ticket_id): _touch(ticket, ctx)})


def ticket_lease(view: View, a: TicketLease, ctx: Context) -> Effects:
    ticket = _ticket(view, a.ticket_id)
    _guard(ticket, ctx, None)
    ticket["lease"] = {"device_id": ctx.device_id, "until": ctx.now + a.seconds}
    return Effects({("ticket", a.ticket_id): _touch(ticket, ctx)})


def ticket_release(view: View, a: TicketRelease, ctx: Context) -> Effects:
    ticket = _ticket(view, a.ticket_id)
    _guard(ticket, ctx, None)
    ticket["lease"] = None
    return Effects({("ticket", a.ticket_id): _touch(ticket, ctx)})


def ticket_pay(view: View, a: TicketPay, ctx: Context) -> Effects:
    if not ctx.register_open:
        raise Rejected("the register is closed")
    ticket = _ticket(view, a.ticket_id)
    _guard(ticket, ctx, a.version)
    if not any(not line["void"] for line in ticket["lines"]):
        raise Rejected(f"ticket {a.ticket_id} has nothing to pay")
    if any(p["payment_id"] == a.payment_id for p in ticket["payments"]):
        raise Rejected(f"payment {a.payment_id} exists already")
    ticket["payments"].append({"payment_id": a.payment_id, "method": a.method, "amount": a.amount,
                               "device_id": ctx.device_id, "staff": ctx.staff, "at": ctx.now})
    ticket = _touch(ticket, ctx)
    effects = Effects({("ticket", a.ticket_id): ticket})
    if ticket["paid"] < ticket["total"]:
        return effects
    # Paid in full: an immutable receipt, the sale for the back office, the register's totals.
    receipt_id = f"{ticket['id']}.{ticket['round']}"
    receipt = {**copy.deepcopy(ticket), "id": receipt_id, "ticket_id": ticket["id"], "status": "paid",
               "lease": None, "paid_at": ctx.now}
    effects.changes[("receipt", receipt_id)] = receipt
    effects.records.append({"kind": "sale", "id": receipt_id, "data": receipt})
    totals = effects.totals
    totals["count"] = 1
    totals[f"device:{ctx.device_id}:count"] = 1
    for payment in ticket["payments"]:
        for device_id in (None, ctx.device_id):
            name = total_field(device_id, payment["method"])
            totals[name] = totals.get(name, 0) + payment["amount"]
    if ticket["default"]:  # the table is free again
        effects.changes[("ticket", ticket["id"])] = new_ticket(
            ticket["id"], ticket["label"], None, default=True, round_=ticket["round"] + 1, now=ctx.now) | {
            "version": ticket["version"] + 1}
    else:
        ticket["status"] = "paid"
        ticket["lease"] = None
    return effects


def total_field(device_id: str | None, method: str) -> str:
    """The register totals' field for one payment method, shop-wide (no device) or for one
    tablet. The method name comes last and whole: it may hold ":" or any letter."""
    return f"{'shop' if device_id is None else f'device:{device_id}'}:method:{method}"


def _move_lines(source: dict, target: dict, line_ids: set[str]) -> None:
    moving = [line for line in source["lines"] if line["line_id"] in line_ids and not line["void"]]
    if len(moving) != len(line_ids):
        raise Rejected("some lines are not on the ticket, or voided")
    target_ids = {line["line_id"] for line in target["lines"]}
    if target_ids & line_ids:
        raise Rejected("some lines exist already on the other ticket")
    source["lines"] = [line for line in source["lines"] if line["line_id"] not in line_ids]
    target["lines"].extend(moving)


def ticket_split(view: View, a: TicketSplit, ctx: Context) -> Effects:
    ticket = _ticket(view, a.ticket_id)
    _guard(ticket, ctx, a.version)
    if ticket["payments"]:
        raise Rejected("a ticket with payments cannot be split")
    if view.get(("ticket", a.new_ticket_id)) is not None:
        raise Rejected(f"ticket {a.new_ticket_id} exists already")
    other = new_ticket(a.new_ticket_id, a.label or f"{ticket['label']} (split)", ctx)
    _move_lines(ticket, other, set(a.line_ids))
    return Effects({("ticket", a.ticket_id): _touch(ticket, ctx), ("ticket", a.new_ticket_id): _touch(other, ctx)})


def ticket_transfer(view: View, a: TicketTransfer, ctx: Context) -> Effects:
    """Move every line to another open ticket (the guests changed tables)."""
    ticket = _ticket(view, a.ticket_id)
    _guard(ticket, ctx, a.version)
    target = _ticket(view, a.to_ticket_id)
    if ticket["payments"]:
        raise Rejected("a ticket with payments cannot be transferred")
    _move_lines(ticket, target, {line["line_id"] for line in ticket["lines"] if not line["void"]})
    ticket["lines"] = []
    if not ticket["default"]:
        ticket["status"] = "transferred"
    ticket["lease"] = None
    return Effects({("ticket", a.ticket_id): _touch(ticket, ctx), ("ticket", a.to_ticket_id): _touch(target, ctx)})


def kitchen_send(view: View, a: KitchenSend, ctx: Context) -> Effects:
    if view.get(("kitchen", a.kitchen_id)) is not None:
        raise Rejected(f"kitchen ticket {a.kitchen_id} exists already")
    ticket = _ticket(view, a.ticket_id)
    wanted = None if a.line_ids is None else set(a.line_ids)
    lines = [{"line_id": line["line_id"], "product": line["product"], "qty": line["qty"]}
             for line in ticket["lines"] if not line["void"] and (wanted is None or line["line_id"] in wanted)]
    if not lines:
        raise Rejected("nothing to send to the kitchen")
    kitchen = {"id": a.kitchen_id, "ticket_id": a.ticket_id, "label": ticket["label"], "station": a.station,
               "lines": lines, "status": "new", "updated_at": ctx.now, "sent_by": ctx.staff}
    return Effects({("kitchen", a.kitchen_id): kitchen})


def kitchen_advance(view: View, a: KitchenAdvance, ctx: Context) -> Effects:
    kitchen = view.get(("kitchen", a.kitchen_id))
    if kitchen is None:
        raise Rejected(f"no kitchen ticket {a.kitchen_id}")
    if a.status not in KITCHEN_FLOW:
        raise Rejected(f"kitchen status {a.status!r}: use one of {', '.join(KITCHEN_FLOW)}")
    if KITCHEN_FLOW.index(a.status) <= KITCHEN_FLOW.index(kitchen["status"]):
        raise Rejected(f"kitchen ticket {a.kitchen_id} is {kitchen['status']}; it only moves forward")
    return Effects({("kitchen", a.kitchen_id): {**kitchen, "status": a.status, "updated_at": ctx.now}})


def customer_upsert(view: View, a: CustomerUpsert, ctx: Context) -> Effects:
    before = view.get(("customer", a.customer_id)) or {"points": 0}
    customer = {"id": a.customer_id, "name": a.name, "phone": a.phone, "email": a.email,
                "points": before["points"], "updated_at": ctx.now}
    return Effects({("customer", a.customer_id): customer},
                   records=[{"kind": "customer", "id": f"{a.customer_id}@{ctx.now}", "data": customer}])


def customer_add_points(view: View, a: CustomerPoints, ctx: Context) -> Effects:
    customer = view.get(("customer", a.customer_id))
    if customer is None:
        raise Rejected(f"no customer {a.customer_id}")
    if customer["points"] + a.points < 0:
        raise Rejected(f"customer {a.customer_id} has only {customer['points']} points")
    customer = {**customer, "points": customer["points"] + a.points, "updated_at": ctx.now}
    return Effects({("customer", a.customer_id): customer},
                   records=[{"kind": "customer", "id": f"{a.customer_id}@{ctx.now}", "data": customer}])


def stock_move(view: View, a: StockMove, ctx: Context) -> Effects:
    level = view.get(("stock", a.product)) or {"product": a.product, "qty": 0}
    level = {"product": a.product, "qty": level["qty"] + a.delta, "updated_at": ctx.now}
    movement = {"movement_id": a.movement_id, "product": a.product, "delta": a.delta, "reason": a.reason,
                "device_id": ctx.device_id, "staff": ctx.staff, "at": ctx.now}
    return Effects({("stock", a.product): level},
                   records=[{"kind": "stock_move", "id": a.movement_id, "data": movement}])


@dataclass(frozen=True)
class Spec:
    args: type[_Args]
    apply: Callable[[View, Any, Context], Effects]


MUTATIONS: dict[str, Spec] = {
    "ticket.open": Spec(TicketOpen, ticket_open),
    "ticket.add_line": Spec(TicketAddLine, ticket_add_line),
    "ticket.set_qty": Spec(TicketSetQty, ticket_set_qty),
    "ticket.void_line": Spec(TicketLine, ticket_void_line),
    "ticket.set_label": Spec(TicketLabel, ticket_set_label),
    "ticket.lease": Spec(TicketLease, ticket_lease),
    "ticket.release": Spec(TicketRelease, ticket_release),
    "ticket.pay": Spec(TicketPay, ticket_pay),
    "ticket.split": Spec(TicketSplit, ticket_split),
    "ticket.transfer": Spec(TicketTransfer, ticket_transfer),
    "kitchen.send": Spec(KitchenSend, kitchen_send),
    "kitchen.advance": Spec(KitchenAdvance, kitchen_advance),
    "customer.upsert": Spec(CustomerUpsert, customer_upsert),
    "customer.add_points": Spec(CustomerPoints, customer_add_points),
    "stock.move": Spec(StockMove, stock_move),
}

# Which argument names an entity of which kind (what a mutation may read or write).
_KEY_ARGS = {"ticket_id": "ticket", "new_ticket_id": "ticket", "to_ticket_id": "ticket",
             "kitchen_id": "kitchen", "customer_id": "customer", "product": "stock"}


def parse(name: str, args: dict) -> _Args:
    """Validated arguments; Rejected (with the reason) for an unknown name or bad arguments."""
    spec = MUTATIONS.get(name)
    if spec is None:
        raise Rejected(f"unknown mutation {name!r}")
    try:
        return spec.args.model_validate(args)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'args'}: {e['msg']}" for e in exc.errors())
        raise Rejected(f"invalid arguments for {name}: {problems}") from None


def touches(args: _Args) -> list[Key]:
    """The entities a mutation may read or write, known before it runs (they are watched)."""
    return [(kind, getattr(args, name)) for name, kind in _KEY_ARGS.items() if getattr(args, name, None)]


def apply(view: View, name: str, args: _Args, ctx: Context) -> Effects:
    return MUTATIONS[name].apply(view, args, ctx)
