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


def welcome_page(shop: str, address: str, code: str, access_point: dict | None = None) -> dict:
    """The first receipt of an unclaimed box: where its setup page is, and the code that
    claims it (physical access to the printer is the proof of ownership); on a box with Wi-Fi,
    its own access point, for when it has no network."""
    wifi = [
        {"rule": True},
        {"text": "Sans réseau, le Wi-Fi du boîtier · With no network, the box's Wi-Fi:"},
        {"text": access_point["ssid"], "bold": True},
        {"text": f"Mot de passe · Password: {access_point['password']}", "bold": True},
        {"text": "puis · then http://10.42.0.1/"},
    ] if access_point else []
    return {"lines": [
        {"text": shop, "size": "double", "align": "center", "bold": True},
        {"text": "Bienvenue · Welcome", "align": "center"},
        {"rule": True},
        {"text": "Page d'installation · Setup page:"},
        {"text": address, "bold": True},
        {"qr": {"data": address, "size": 6}, "align": "center"},
        {"text": "Code d'installation · Setup code:"},
        {"text": code, "size": "double", "align": "center", "bold": True},
        *wifi,
        {"rule": True},
        {"text": "Gardez ce ticket · Keep this receipt", "align": "center"},
    ], "cut": True}
