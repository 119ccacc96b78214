"""The printer languages the box speaks, by the names the owner, the API and the CLI use."""

ESCPOS = "escpos"  # Epson's ESC/POS, and every printer that speaks it
STAR = ("star-line", "starprnt", "star-graphic")  # Star Line Mode, StarPRNT, Star Graphic (raster only)
ALL = (ESCPOS, *STAR)


def family(language: str) -> str:
    """escpos or star: who answers which questions (``dialects.py``)."""
    return "star" if language in STAR else ESCPOS
