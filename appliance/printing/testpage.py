"""The test page: every document element and the three languages of our first shops."""


def test_page(shop: str, printer: str) -> dict:
    """The page `printers test` and the first start print: every element, three languages."""
    return {"lines": [
        {"text": shop, "size": "double", "align": "center", "bold": True},
        {"text": f"Printer: {printer}", "align": "center"},
        {"rule": True},
        {"columns": ["Crème brûlée", "7.50"]},
        {"columns": ["Żurek", "12.00"]},
        {"columns": ["Борщ", "9.00"]},
        {"rule": "="},
        {"columns": ["TOTAL", "28.50"], "bold": True},
        {"barcode": {"type": "CODE128", "data": "COMPTOIR-TEST"}},
        {"qr": "https://comptoir.example/test"},
        {"text": "Merci · Dziękujemy · Спасибо", "align": "center"},
    ], "cut": True}
