"""POST/GET /api/uploads (API.md "Uploads")."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from .base import ResponseBody

__all__ = ["Upload", "UploadForm", "UploadList"]


class UploadForm(ResponseBody):
    """The multipart/form-data body of POST /api/uploads: one file field. Documented
    here; the handler reads it as a stream (mailgate/api/uploads.py)."""

    file: Annotated[str, Meta(extra_json_schema={"format": "binary"})]


class Upload(ResponseBody):
    id: str
    filename: str
    content_type: str
    size: Annotated[int, Meta(ge=0)]


class UploadList(ResponseBody):
    uploads: list[Upload]
