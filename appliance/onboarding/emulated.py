"""The emulated printer: with no printer configured, a new box prints on it, so its first
receipts are somewhere to see (``receipts/`` in the data dir: a picture, the text, the bytes)."""

from __future__ import annotations

import redis

from appliance.config import Settings
from appliance.onboarding.receipts import print_test_page, print_welcome
from appliance.printing import printers

NAME = "emulated"


def ensure(settings: Settings, r: redis.Redis, setup_addresses: list[str]) -> None:
    """With no printer configured, add the emulated one and queue its first receipts: the
    welcome receipt (the setup page's address and the setup code) while the box is unclaimed,
    then a test page, so the newcomer sees a receipt right away."""
    if printers.all_configs(r):
        return
    uri = f"file://{settings.receipts_dir}/"
    printers.add(r, printers.validate(NAME, uri, printers.NEW_BOX_ROLES, emulated=True))
    print_welcome(r, NAME, setup_addresses)
    print_test_page(r, NAME)
