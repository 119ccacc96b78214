"""The closing (Z) report as a receipt: a pure function from the report to a document, in
the words and the number and date formats of whoever asks for it (the setup page passes its
translations and the shop's locale)."""

from __future__ import annotations

from collections.abc import Callable

WORDS = ("Closing report", "Opened", "Closed", "Sales", "Total")  # what ``words`` is asked to translate


def z_ticket(report: dict, shop: str, words: Callable[[str], str], money: Callable[[int], str],
             when: Callable[[float], str]) -> dict:
    """What the shop files with its books: the period, the sales by payment method with the
    total, then each tablet's share."""
    lines: list[dict] = [
        {"text": shop, "size": "double", "align": "center", "bold": True},
        {"text": f"{words('Closing report')} Z{report['number']}", "align": "center", "bold": True},
        {"columns": [words("Opened"), when(report["opened_at"])]},
        {"columns": [words("Closed"), when(report["closed_at"])]},
        {"rule": True},
        {"columns": [words("Sales"), str(report["sales"])]},
        *({"columns": [method, money(paid)]} for method, paid in sorted(report["by_method"].items())),
        {"rule": "="},
        {"columns": [words("Total"), money(report["total"])], "bold": True},
    ]
    for device in sorted(report["by_device"].values(), key=lambda d: d["name"]):
        lines += [{"rule": True}, {"columns": [device["name"], str(device["count"])], "bold": True},
                  *({"columns": [method, money(paid)]} for method, paid in sorted(device["by_method"].items()))]
    return {"lines": lines, "cut": True}
