"""Read the opt-out import form: a CSV file or pasted text, streamed with a size cap.

The form is read part by part instead of through ``request.post()`` so that an
oversized file is refused with a page saying so (400) rather than aiohttp's
generic 413, and so that the cap is the importer's own, not the app-wide one.
The CSRF token (the form's first field) is checked before anything is imported.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import BodyPartReader, MultipartReader, web

from inbox.csrf import check_csrf
from inbox.views._page import form_text

CHUNK = 64 * 1024
FORM_OVERHEAD = 64 * 1024  # the other fields and the multipart boundaries


class BadUpload(ValueError):
    """The upload cannot be read; the message names the field and the reason."""


@dataclass(frozen=True, slots=True)
class ImportForm:
    text: str  # the CSV: the uploaded file when one was chosen, else the pasted text
    reason: str
    pasted: str  # the textarea as typed, to show again


async def read_import_form(request: web.Request, max_bytes: int) -> ImportForm:
    """The submitted form; BadUpload for a file that is too big or not UTF-8 text."""
    if request.content_type != "multipart/form-data":
        form = await request.post()
        check_csrf(request, form)
        return _form(None, {name: form_text(form, name) for name in ("text", "reason")})
    fields: dict[str, str] = {}
    try:
        upload = await _read_parts(await request.multipart(), fields, max_bytes)
    except BadUpload:
        check_csrf(request, fields)  # a forged request gets the 403, not the reason
        raise
    check_csrf(request, fields)
    return _form(upload, fields)


async def _read_parts(
    reader: MultipartReader, fields: dict[str, str], max_bytes: int
) -> bytes | None:
    """Fill ``fields`` with the text fields; return the uploaded file's bytes, if any."""
    upload: bytes | None = None
    budget = max_bytes + FORM_OVERHEAD
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue  # a nested multipart is nothing this form sends
        data = await _read(part, min(budget, max_bytes), max_bytes)
        budget -= len(data)
        if part.filename is not None:
            upload = data if part.name == "file" and data else upload
        elif part.name:
            fields[part.name] = _decode(data, part.name)
    return upload


async def _read(part: BodyPartReader, limit: int, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await part.read_chunk(CHUNK):
        size += len(chunk)
        if size > limit:
            name = "file" if part.filename is not None else part.name
            raise BadUpload(
                f"{name}: larger than {_mb(max_bytes)}; split the list into smaller files"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _form(upload: bytes | None, fields: dict[str, str]) -> ImportForm:
    pasted = fields.get("text", "")
    text = pasted if upload is None else _decode(upload, "file")
    if "\x00" in text:
        raise BadUpload("file: contains NUL characters; it is not a text file")
    if not text.strip():
        raise BadUpload("file: choose a CSV file or paste the numbers, one a line")
    return ImportForm(text=text, reason=fields.get("reason", "").strip(), pasted=pasted)


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadUpload(
            f'{name}: is not UTF-8 text; save it as "CSV UTF-8" (or plain text) and try again'
        ) from None


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"
