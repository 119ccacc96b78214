"""The owner's settings, each declared once with its type, bounds, default and what it is for,
read and set through the same functions by the setup page, the CLI and the services (in the
spirit of Moonraker's config helper: typed getters that refuse a value out of bounds, and
unknown keys reported rather than ignored).

They live in one Redis hash (``keys.shop_settings``), as text. The box's own configuration
(its data dir, ports, Redis) is not here: that is ``config.py``, read from the environment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from appliance.errors import Invalid
from appliance.store import keys

if TYPE_CHECKING:
    import redis

CURRENCIES = ("EUR", "PLN", "RUB", "CHF", "GBP", "USD")  # the first shops' (France, Poland, Russia) and neighbours'
BOUNDS = "%(name)s: from %(low)s to %(high)s"
CHOICES = "%(name)s: one of %(choices)s"
LENGTH = "%(name)s: %(low)s to %(high)s characters"
NOT_A_NUMBER = "a number, please"
MESSAGES = (BOUNDS, CHOICES, LENGTH, NOT_A_NUMBER)


@dataclass(frozen=True)
class Setting:
    name: str
    kind: type  # bool, float or str
    default: Any
    help: str
    label: str = ""  # how a refusal names it to the owner (the name itself when empty)
    low: float | None = None  # numbers: the bounds; text: its length
    high: float | None = None
    choices: tuple[str, ...] = ()
    check: Callable[[Any], None] | None = None  # a rule of its own (a URL's scheme)
    secret: bool = False  # never shown back (a token)

    @property
    def said(self) -> str:
        return self.label or self.name

    def parse(self, value: Any) -> Any:
        """The value, typed and checked: from the page's and the CLI's text, or a typed one."""
        if self.kind is bool:
            typed: Any = value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")
        elif self.kind is float:
            try:
                typed = float(value)
            except (TypeError, ValueError):
                raise Invalid(NOT_A_NUMBER, field=self.name) from None
            if not self.low <= typed <= self.high:  # type: ignore[operator]
                raise Invalid(BOUNDS, params={"name": self.said, "low": f"{self.low:g}", "high": f"{self.high:g}"},
                              field=self.name, words=("name",))
        else:
            typed = str(value).strip()
            if self.choices and typed not in self.choices:
                raise Invalid(CHOICES, params={"name": self.said, "choices": ", ".join(self.choices)},
                              field=self.name, words=("name",))
            if self.high is not None and not (self.low or 0) <= len(typed) <= self.high:
                raise Invalid(LENGTH, params={"name": self.said, "low": f"{self.low:g}", "high": f"{self.high:g}"},
                              field=self.name, words=("name",))
        if self.check:
            self.check(typed)
        return typed

    def stored(self, typed: Any) -> str:
        return ("1" if typed else "0") if self.kind is bool else f"{typed:g}" if self.kind is float else typed

    def loaded(self, raw: bytes | None) -> Any:
        if raw is None:
            return self.default
        text = raw.decode()
        return text == "1" if self.kind is bool else float(text) if self.kind is float else text


def _backoffice_url(url: str) -> None:
    if url and not url.startswith(("http://", "https://")):
        raise Invalid("the back office URL starts with http:// or https://", field="backoffice_url")


DECLARED = (
    Setting("shop_name", str, "Comptoir", "the shop's name: on the page, the receipts and what tablets find",
            label="the shop's name", low=1, high=60),
    Setting("currency", str, "", "the shop's currency on the page and the closing reports (empty: the shop's "
            "language's: euros for French)", label="the currency", choices=("", *CURRENCIES)),
    Setting("visibility", str, "all", "who sees parked receipts: every tablet, the staff member who opened "
            "them, or the same role", choices=("all", "own", "role")),
    Setting("apps_reach_all", bool, False, "ePOS-Print may print on every printer, not only the ones exposed "
            "to apps"),
    Setting("qz_paired_origins", bool, False, "QZ-compatible web POS from the origins listed under Web apps may "
            "print without a trusted certificate"),
    Setting("app_receipt_metres", float, 3.0, "the longest receipt an app may print through a virtual port, "
            "in metres of paper", label="the longest receipt from an app (m)", low=0.5, high=20.0),
    Setting("job_history_days", float, 7.0, "how many days the jobs page keeps the jobs that printed, moved, "
            "were cancelled or failed", label="days of job history", low=1.0, high=31.0),
    Setting("backoffice_url", str, "", "where sales are sent (empty: nowhere)", check=_backoffice_url),
    Setting("backoffice_token", str, "", "the back office's token", secret=True),
    Setting("forward_active_s", float, 10.0, "seconds between sends to the back office while the shop sells",
            low=0.1, high=600.0),
    Setting("forward_idle_s", float, 120.0, "seconds between sends to the back office while it is quiet",
            low=0.1, high=3600.0),
)
SETTINGS = {setting.name: setting for setting in DECLARED}


def declared(name: str) -> Setting:
    try:
        return SETTINGS[name]
    except KeyError:
        raise Invalid(CHOICES, params={"name": "setting", "choices": ", ".join(SETTINGS)}, field="name") from None


def get(r: redis.Redis, name: str) -> Any:
    setting = declared(name)
    return setting.loaded(r.hget(keys.shop_settings(), name))


def get_all(r: redis.Redis) -> dict[str, Any]:
    """Every setting, typed, secrets left out; one round trip."""
    raw = r.hgetall(keys.shop_settings())
    return {s.name: s.loaded(raw.get(s.name.encode())) for s in DECLARED if not s.secret}


def put(r: redis.Redis | redis.client.Pipeline, **values: Any) -> dict[str, Any]:
    """Check every value, then store them all at once (on a pipeline, inside the caller's
    transaction): one bad value stores none. The typed values."""
    typed = {name: declared(name).parse(value) for name, value in values.items()}
    r.hset(keys.shop_settings(), mapping={name: SETTINGS[name].stored(value) for name, value in typed.items()})
    return typed


def unknown(r: redis.Redis) -> list[str]:
    """Keys in the settings hash that no setting declares (a typo with redis-cli, or a setting
    an older version had): reported by ``appliance settings show``."""
    return sorted(k.decode() for k in r.hkeys(keys.shop_settings()) if k.decode() not in SETTINGS)
