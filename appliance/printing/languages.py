"""The printer languages the box speaks, by the names the owner, the API and the CLI use."""

ESCPOS = "escpos"  # Epson's ESC/POS, and every printer that speaks it
STAR = ("star-line", "starprnt", "star-graphic")  # Star Line Mode, StarPRNT, Star Graphic (raster only)
ALL = (ESCPOS, *STAR)
# What the owner reads (translated on the page: webui's catalogues).
NAMES = {ESCPOS: "ESC/POS (Epson and compatibles)", "star-line": "Star Line Mode", "starprnt": "StarPRNT",
         "star-graphic": "Star Graphic (pictures only)"}


def family(language: str) -> str:
    """escpos or star: who answers which questions (``dialects.py``)."""
    return "star" if language in STAR else ESCPOS
