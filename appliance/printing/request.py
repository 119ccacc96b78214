"""What a tablet may ask the box to print: the validated body of ``POST /api/v1/jobs``."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from appliance.printing.document import Document

MAX_RAW_BYTES = 768 * 1024


class JobRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_bytes="base64")

    id: uuid.UUID | None = Field(default=None, description="Client-chosen UUID: the idempotency key")
    role: str | None = Field(default=None, description="Print on the printer holding this role")
    printer: str | None = Field(default=None, description="Print on this printer, by name")
    document: Document | None = None
    raw: bytes | None = Field(default=None, description="Base64 printer bytes rendered by the tablet")
    raw_language: Literal["escpos", "star-line", "starprnt", "star-graphic"] = Field(
        default="escpos", description="The printer language ``raw`` is written in; a printer of another "
                                      "prints it as a picture of the receipt")
    copies: int = Field(default=1, ge=1, le=10, strict=True)
    drawer: bool = Field(default=False, strict=True, description="Kick the cash drawer")

    @field_validator("raw", mode="before")
    @classmethod
    def _decode_raw(cls, value: Any) -> bytes | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError("raw must be a base64 string")
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("raw is not valid base64") from exc
        if not data:
            raise ValueError("raw is empty")
        if len(data) > MAX_RAW_BYTES:
            raise ValueError(f"raw is {len(data)} bytes, at most {MAX_RAW_BYTES}")
        return data

    @model_validator(mode="after")
    def _one_target_one_content(self) -> JobRequest:
        if (self.role is None) == (self.printer is None):
            raise ValueError("give exactly one target: 'role' or 'printer'")
        if (self.document is None) == (self.raw is None):
            raise ValueError("give exactly one content: 'document' or 'raw'")
        return self

    def fingerprint(self) -> str:
        """Identifies what was asked, so a reused id with a different body is caught."""
        # Requests from before raw_language existed keep their fingerprint (a replay after an update).
        body = self.model_dump(mode="json", exclude={"id"} if self.raw_language != "escpos" else {"id", "raw_language"})
        if self.raw is not None:
            body["raw"] = hashlib.sha256(self.raw).hexdigest()
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
