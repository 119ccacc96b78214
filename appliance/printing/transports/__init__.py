"""One small interface for every kind of printer link: open, write, read, close.

The queue and the status logic never know whether they drive a network, file, Bluetooth or
USB printer. A transport is one module here that registers its URI scheme in SCHEMES.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from urllib.parse import SplitResult, urlsplit


class TransportError(OSError):
    """The link to the printer failed; the job stays queued and is retried."""


class Transport(abc.ABC):
    #: False for links that cannot carry the printer's answers (a write-only device file):
    #: a job then counts as printed once its bytes are written.
    answers_status = True

    def __init__(self, uri: str) -> None:
        self.uri = uri

    @abc.abstractmethod
    def open(self) -> None:
        """Connect; raise TransportError when the printer cannot be reached."""

    @abc.abstractmethod
    def write(self, data: bytes, on_input: Callable[[bytes], None] | None = None) -> None:
        """Send all of ``data`` or raise TransportError. A link that can, hands what the
        printer says meanwhile to ``on_input`` (a long receipt into a full buffer must not
        hold up the confirmations of the receipts before it)."""

    @abc.abstractmethod
    def read(self, size: int, timeout: float) -> bytes:
        """Up to ``size`` bytes from the printer; fewer when ``timeout`` runs out."""

    @abc.abstractmethod
    def discard_input(self) -> None:
        """Drop bytes the printer sent that nobody asked for."""

    @abc.abstractmethod
    def close(self) -> None:
        """Disconnect; safe to call twice."""

    @property
    @abc.abstractmethod
    def is_open(self) -> bool: ...


# (uri, its parts, printer profile, paper width in mm) -> transport
Factory = Callable[[str, SplitResult, str, int], Transport]
SCHEMES: dict[str, Factory] = {}


def register(scheme: str) -> Callable[[Factory], Factory]:
    def add(factory: Factory) -> Factory:
        SCHEMES[scheme] = factory
        return factory
    return add


def load_all() -> None:
    """Import every transport module (each registers its scheme)."""
    from appliance.printing.transports import bluetooth, file, polled, tcp, usb  # noqa: F401


def for_uri(uri: str, profile: str = "default", width_mm: int = 80) -> Transport:
    """The transport for a printer URI; ValueError names what is wrong with the URI."""
    load_all()
    parts = urlsplit(uri)
    if parts.scheme not in SCHEMES:
        known = ", ".join(f"{s}://" for s in sorted(SCHEMES))
        raise ValueError(f"unknown printer URI scheme in {uri!r}: use one of {known}")
    return SCHEMES[parts.scheme](uri, parts, profile, width_mm)
