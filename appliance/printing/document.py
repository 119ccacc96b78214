"""The structured receipt a tablet posts: ``{"lines": [...], "cut": true}``.

Each line is an object with exactly one content key (``text``, ``columns``, ``rule``,
``barcode``, ``qr``, ``image``, ``feed``) plus that element's options, so an integrator can
write a receipt by hand and a typo is refused with the line number instead of printing
something else. Validation is complete before anything is queued: an image that does not
decode or a barcode that cannot print is a 422 now, not a stuck job later.
"""

from __future__ import annotations

import base64
import binascii
import io
from typing import Annotated, Any, Literal

from PIL import Image
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

MAX_LINES = 2000
MAX_IMAGE_PIXELS = 2048 * 4096
MAX_IMAGE_SIDE = 4096
# What one document may cost, checked before anything is decoded or stored: its pictures,
# scaled to the widest paper (576 dots, 8 dots a mm), may take 2 m of paper in all.
PAPER_DOTS = 576
MAX_IMAGE_PAPER_MM = 2000

Align = Literal["left", "center", "right"]
Size = Literal["normal", "wide", "tall", "double"]


class _Line(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_bytes="base64")


class TextLine(_Line):
    text: str = Field(max_length=10_000)
    bold: bool = False
    underline: bool | Literal[0, 1, 2] = False
    size: Size = "normal"
    align: Align = "left"
    invert: bool = False


class ColumnsLine(_Line):
    """Columns spread over the paper: the first one wraps, the others keep their width."""

    columns: list[Annotated[str, Field(max_length=500)]] = Field(min_length=2, max_length=6)
    bold: bool = False
    size: Size = "normal"


class RuleLine(_Line):
    """A full-width line made of one character (``true`` means ``-``)."""

    rule: bool | Annotated[str, Field(min_length=1, max_length=1)] = True


BarcodeType = Literal["EAN13", "EAN8", "UPC-A", "CODE39", "CODE128", "ITF"]


class BarcodeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: BarcodeType
    data: str = Field(min_length=1, max_length=255)
    height: int = Field(default=64, ge=1, le=255)
    hri: bool = True  # the human-readable digits under the bars

    @model_validator(mode="after")
    def _check_data(self) -> BarcodeSpec:
        digits = {"EAN13": (12, 13), "EAN8": (7, 8), "UPC-A": (11, 12)}
        if self.type in digits:
            if not self.data.isdigit() or len(self.data) not in digits[self.type]:
                lengths = " or ".join(map(str, digits[self.type]))
                raise ValueError(f"{self.type} takes {lengths} digits")
        elif self.type == "ITF" and (not self.data.isdigit() or len(self.data) % 2):
            raise ValueError("ITF takes an even number of digits")
        elif not self.data.isascii() or not self.data.isprintable():
            raise ValueError(f"{self.type} takes printable ASCII only")
        return self


class BarcodeLine(_Line):
    barcode: BarcodeSpec
    align: Align = "center"


class QrSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    data: str = Field(min_length=1, max_length=2000)
    size: int = Field(default=6, ge=1, le=16)


class QrLine(_Line):
    qr: QrSpec
    align: Align = "center"

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        """``{"qr": "https://..."}`` is the common case; the object form sets the size."""
        if isinstance(value, dict) and isinstance(value.get("qr"), str):
            return {**value, "qr": {"data": value["qr"]}}
        return value


class ImageLine(_Line):
    """A base64 PNG (or JPEG) logo, scaled down to the paper and dithered to black and white."""

    image: bytes
    align: Align = "center"

    @property
    def paper_mm(self) -> float:
        """How much paper it takes at most (on 80 mm paper), read from its header only."""
        with Image.open(io.BytesIO(self.image)) as img:
            width, height = img.size
        return height * min(1.0, PAPER_DOTS / width) / 8

    @field_validator("image", mode="before")
    @classmethod
    def _decode(cls, value: Any) -> bytes:
        if not isinstance(value, str):
            raise ValueError("image must be a base64 string")
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("image is not valid base64") from exc
        try:
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
                if img.format not in ("PNG", "JPEG"):
                    raise ValueError(f"image must be PNG or JPEG, not {img.format}")
        except (OSError, Image.DecompressionBombError) as exc:
            raise ValueError("image is not a readable PNG or JPEG") from exc
        if width > MAX_IMAGE_SIDE or height > MAX_IMAGE_SIDE or width * height > MAX_IMAGE_PIXELS:
            raise ValueError(f"image too large: {width}x{height}, at most {MAX_IMAGE_SIDE} px a side")
        return data


class FeedLine(_Line):
    feed: int = Field(ge=1, le=255)


CONTENT_KEYS: dict[str, type[_Line]] = {
    "text": TextLine,
    "columns": ColumnsLine,
    "rule": RuleLine,
    "barcode": BarcodeLine,
    "qr": QrLine,
    "image": ImageLine,
    "feed": FeedLine,
}


def _content_key(value: Any) -> str | None:
    """The one content key of a line, which tells which element it is."""
    if isinstance(value, _Line):
        return next(k for k, v in CONTENT_KEYS.items() if isinstance(value, v))
    if not isinstance(value, dict):
        return None
    found = [key for key in CONTENT_KEYS if key in value]
    return found[0] if len(found) == 1 else None


Line = Annotated[
    Annotated[TextLine, Tag("text")]
    | Annotated[ColumnsLine, Tag("columns")]
    | Annotated[RuleLine, Tag("rule")]
    | Annotated[BarcodeLine, Tag("barcode")]
    | Annotated[QrLine, Tag("qr")]
    | Annotated[ImageLine, Tag("image")]
    | Annotated[FeedLine, Tag("feed")],
    Discriminator(
        _content_key,
        custom_error_type="unknown_element",
        custom_error_message="each line needs exactly one of: " + ", ".join(CONTENT_KEYS),
    ),
]


class Document(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    lines: list[Line] = Field(min_length=1, max_length=MAX_LINES)
    cut: bool = True

    def text(self) -> str:
        """The words it prints, a line each: what a search of the history for its table or a
        dish finds."""
        lines = [line.text if isinstance(line, TextLine) else "  ".join(line.columns)
                 for line in self.lines if isinstance(line, TextLine | ColumnsLine)]
        return "\n".join(lines)[:4000]

    @model_validator(mode="after")
    def _bounded(self) -> Document:
        """A few metres of pictures at most: a 1 MiB body of tiny PNGs of huge blank pictures
        must not cost the box hundreds of MB to render."""
        total = sum(line.paper_mm for line in self.lines if isinstance(line, ImageLine))
        if total > MAX_IMAGE_PAPER_MM:
            raise ValueError(f"the images take {total / 1000:.1f} m of paper; at most "
                             f"{MAX_IMAGE_PAPER_MM / 1000:.0f} m in one document")
        return self
