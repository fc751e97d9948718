"""A file as a download: its name from ``app/services/results/download_names.py`` in the
``Content-Disposition`` header (RFC 6266: a plain ASCII ``filename`` and the Japanese
``filename*``). Never cached (results are personal data), as no response is: ``app.caching``.
"""

from __future__ import annotations

from collections.abc import Iterator
from io import BytesIO

from flask import Response, send_file, stream_with_context

from app.services.results.download_names import DownloadName


def _named(response: Response, name: DownloadName) -> Response:
    # Werkzeug's own ASCII name for a Japanese one is its characters with the kana and kanji
    # dropped (令和7年度_高津区_遵守率.xlsx -> 7__.xlsx): the header is written again with ours.
    response.headers["Content-Disposition"] = name.content_disposition
    return response


def send_download(data: bytes, mimetype: str, name: DownloadName) -> Response:
    """``data`` as an attachment named ``name``."""
    response = send_file(
        BytesIO(data), mimetype=mimetype, as_attachment=True, download_name=name.text
    )
    return _named(response, name)


def stream_download(chunks: Iterator[str], mimetype: str, name: DownloadName) -> Response:
    """Text written as it is made (a CSV), as an attachment named ``name``."""
    response = Response(stream_with_context(chunks), mimetype=mimetype)
    response.headers["Content-Type"] = mimetype
    return _named(response, name)
