"""Rendering is a pure function: document in, ESC/POS bytes out, read back by the emulated engine."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image
from pydantic import ValidationError

from appliance.printing.document import Document
from appliance.printing.emulated.engine import Engine
from appliance.printing.render import RenderError, compose, fit_columns, render


def printed(doc: dict, width: int = 80, profile: str = "default") -> list[str]:
    engine = Engine(profile=profile, columns=48 if width == 80 else 32)
    engine.feed(render(Document.model_validate(doc), profile, width))
    engine.flush()
    return [line for receipt in engine.receipts for line in receipt.text.splitlines()]


@pytest.mark.parametrize("profile", ["default", "TM-T88V", "TM-T20II"])
def test_french_polish_and_russian_print_with_their_code_pages(profile: str) -> None:
    doc = {"lines": [{"text": "Crème brûlée"}, {"text": "Żurek, pierogi, gęś"}, {"text": "Борщ и щи"}]}
    data = render(Document.model_validate(doc), profile)
    assert b"\x1bt" in data  # the code page is selected explicitly, never assumed
    assert printed(doc, profile=profile) == ["Crème brûlée", "Żurek, pierogi, gęś", "Борщ и щи"]


def test_code_page_bytes_on_the_default_profile() -> None:
    data = render(Document.model_validate({"lines": [{"text": "Ż"}, {"text": "Б"}]}))
    assert b"\x1bt\x12\xbd" in data  # CP852 (page 18): Ż is 0xBD
    assert b"\x1bt\x11\x81" in data  # CP866 (page 17): Б is 0x81


@pytest.mark.parametrize(("width", "columns"), [(58, 32), (80, 48)])
def test_columns_fill_the_paper_width(width: int, columns: int) -> None:
    lines = printed({"lines": [{"columns": ["Burger", "12.50"]}]}, width)
    assert lines == ["Burger" + " " * (columns - 11) + "12.50"]


def test_long_item_names_wrap_and_keep_the_price_right() -> None:
    rows = fit_columns(["Żurek z jajkiem i kiełbasą, duża porcja na dwie osoby", "12.50"], 32)
    assert all(len(row) <= 32 for row in rows)
    assert rows[-1].endswith(" 12.50") and len(rows) > 1
    assert " ".join(r.strip() for r in rows).replace(" 12.50", "").startswith("Żurek z jajkiem")


def test_wide_and_double_text_halve_the_columns() -> None:
    lines = printed({"lines": [{"columns": ["A", "1"], "size": "double"}]}, 80)
    assert lines == ["A" + " " * 22 + "1"]


def test_every_element_renders() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (1200, 300), "black").save(buf, "PNG")
    lines = printed({"lines": [
        {"text": "Title", "bold": True, "underline": True, "size": "double", "align": "center"},
        {"rule": True}, {"rule": "="},
        {"barcode": {"type": "EAN13", "data": "5901234123457"}},
        {"barcode": {"type": "CODE128", "data": "T12-0042"}},
        {"qr": {"data": "https://comptoir.example/r/1", "size": 4}},
        {"image": base64.b64encode(buf.getvalue()).decode()},
        {"feed": 2}, {"text": "end", "align": "right"},
    ]})
    assert lines[0].strip() == "Title"
    assert "-" * 48 in lines and "=" * 48 in lines
    assert "[barcode 5901234123457]" in lines and "[barcode {BT12-0042]" in lines
    assert "[qr https://comptoir.example/r/1]" in lines
    assert "[image 576x144]" in lines  # scaled down to the 80 mm paper, aspect kept
    assert lines[-1] == "end".rjust(48)


def test_cut_is_optional() -> None:
    assert render(Document.model_validate({"lines": [{"text": "x"}], "cut": False})).count(b"\x1dV") == 0
    assert render(Document.model_validate({"lines": [{"text": "x"}]})).count(b"\x1dV") == 1


def test_compose_marks_reprints_and_kicks_the_drawer_once() -> None:
    payload = render(Document.model_validate({"lines": [{"text": "Ticket"}]}))
    pieces = compose(payload, copies=3, drawer=True, reprint=True, profile="default")
    assert all(copy is payload for copy in pieces[1:])  # the same bytes, not three of them
    data = b"".join(pieces)
    assert data.count(b"\x1bp\x00") == 1
    engine = Engine()
    engine.feed(data)
    texts = [r.text for r in engine.receipts]
    assert len(texts) == 3 and "REPRINT" in texts[0] and texts[0].strip().endswith("Ticket")


@pytest.mark.parametrize("doc", [
    {"lines": []},
    {"lines": [{"text": "a", "columns": ["a", "b"]}]},
    {"lines": [{"columns": ["only one"]}]},
    {"lines": [{"barcode": {"type": "EAN13", "data": "123"}}]},
    {"lines": [{"barcode": {"type": "QRCODE", "data": "123"}}]},
    {"lines": [{"feed": 0}]},
    {"lines": [{"image": "!!!"}]},
    {"lines": [{"text": "x"}], "paper": "A4"},
])
def test_invalid_documents_are_refused(doc: dict) -> None:
    with pytest.raises(ValidationError):
        Document.model_validate(doc)


def test_unknown_profile_is_a_render_error() -> None:
    with pytest.raises(RenderError):
        render(Document.model_validate({"lines": [{"text": "x"}]}), "no-such-printer")


def test_the_emulated_printer_draws_a_picture_of_the_receipt() -> None:
    from PIL import Image

    from appliance.printing.emulated.engine import Row
    from appliance.printing.preview import render_png

    engine = Engine()
    engine.feed(render(Document.model_validate({"lines": [
        {"text": "Борщ", "size": "double", "align": "center"}, {"qr": "https://comptoir.example/r/1"}]})))
    picture = Image.open(io.BytesIO(render_png(engine.receipts[0])))
    assert picture.width == 576 + 24 and picture.height > 200
    assert picture.convert("L").getextrema()[0] == 0  # something is printed in black

    def drawn(text: str) -> bytes:
        return render_png(type(engine.receipts[0])([text], b"", True, [Row("text", text)]))

    assert drawn("Борщ") != drawn("????")  # Cyrillic letters are drawn, not replaced


@pytest.mark.parametrize(("locale", "currency", "written"), [
    ("fr", "EUR", "1 234,50 €"), ("pl", "PLN", "1 234,50 zł"), ("ru", "RUB", "1 234,50 руб."),  # noqa: RUF001
])
def test_an_amount_in_the_shop_s_currency_prints_as_written(locale: str, currency: str, written: str) -> None:
    """Babel's amounts hold spaces and signs no code page has (a narrow no-break space, ₽):
    the paper shows them as a person writes them, never a "?"."""
    from babel.numbers import format_currency

    amount = format_currency(1234.5, currency, locale=locale)
    [line] = printed({"lines": [{"columns": ["Total", amount]}]})
    assert line.replace("\xa0", " ").endswith(written) and "?" not in line
