"""A catalogue file (YAML) uploaded in the browser: how a ward in its first year on Kijun gets the
catalogue of a past year that was never loaded, so that the year's published table can be
imported (docs/admin.md, "A ward's first year").

The file goes through the rules of ``flask catalogue load``, not a copy of them: it is written to
a private temporary folder beside copies of ``SURVEYS_DIR``'s catalogue files (so that an
``extends`` finds what ``catalogue load`` would find beside it in ``surveys/``), read with
``reading.read_catalogues`` (every check of the format) and written with
``catalogues.upsert_catalogues``. On top of those, the page only **adds**: a catalogue whose key is
already loaded is refused (it is changed on the catalogue pages), and an admin of some wards may
load only a catalogue of one of their wards (a city-wide one: city-wide admins only).

Flushes, never commits; the caller writes the audit row and commits.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Collection
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from app.extensions import db
from app.models import Catalogue, Ward
from app.services.catalogue import catalogues, parsing, reading
from app.services.catalogue.catalogues import LoadResult
from app.services.catalogue.parsing import CATALOGUE_SUFFIXES, CatalogueSpec
from app.services.errors import DomainError

MAX_FILE_BYTES = 1024 * 1024  # the city's 36 standards are about 10 kB
UPLOADED_NAME = "uploaded-catalogue.yaml"


class CatalogueUploadError(DomainError):
    """The uploaded catalogue cannot be loaded; ``errors`` says why (nothing written)."""


def _read(data: bytes, filename: str) -> CatalogueSpec:
    """The uploaded file read as ``catalogue load`` reads a file of ``surveys/``; its messages
    name the uploaded file instead of the temporary one."""
    surveys = Path(current_app.config["SURVEYS_DIR"])
    with tempfile.TemporaryDirectory(prefix="kijun-catalogue-upload-") as folder:
        directory = Path(folder)
        if surveys.is_dir():
            for sibling in reading.catalogue_paths(surveys):
                if sibling.name != UPLOADED_NAME:
                    shutil.copyfile(sibling, directory / sibling.name)
        path = directory / UPLOADED_NAME
        path.write_bytes(data)
        try:
            (spec,) = reading.read_catalogues(path)
        except parsing.CatalogueError as error:
            shown = Path(filename).name or UPLOADED_NAME
            raise CatalogueUploadError(
                [m.replace(str(path), shown).replace(f"{directory}/", "") for m in error.errors]
            ) from error
    return spec


def _scope_refusal(spec: CatalogueSpec, ward_ids: Collection[int] | None) -> str | None:
    if ward_ids is None:
        return None
    if spec.ward is None:
        return str(_("全区共通のカタログは、全市の管理者が読み込みます。"))
    ward_id = db.session.scalar(sa.select(Ward.id).where(Ward.name == spec.ward))
    if ward_id is None or ward_id not in ward_ids:
        return str(_("担当していない区のカタログは読み込めません: %(ward)s", ward=spec.ward))
    return None


def load_uploaded_catalogue(
    data: bytes, filename: str, ward_ids: Collection[int] | None
) -> tuple[Catalogue, LoadResult]:
    """Check and add the uploaded catalogue (``ward_ids``: the admin's wards, None for every
    ward); CatalogueUploadError with every problem, nothing written."""
    if Path(filename).suffix.lower() not in CATALOGUE_SUFFIXES:
        raise CatalogueUploadError([_("カタログは .yaml（または .yml）のファイルにしてください。")])
    if not data:
        raise CatalogueUploadError([_("ファイルが空です。")])
    if len(data) > MAX_FILE_BYTES:
        raise CatalogueUploadError([_("ファイルが大きすぎます（1 MB まで）。")])
    spec = _read(data, filename)
    refusal = _scope_refusal(spec, ward_ids)
    if refusal:
        raise CatalogueUploadError([refusal])
    if db.session.scalar(sa.select(Catalogue.id).where(Catalogue.key == spec.key)) is not None:
        raise CatalogueUploadError([_(
            "カタログ %(key)s はもう読み込まれています。内容を変えるときは「基準（カタログ）」の"
            "ページで変えてください。", key=spec.key)])
    try:
        (result,) = catalogues.upsert_catalogues([spec])
    except parsing.CatalogueError as error:
        raise CatalogueUploadError(error.errors) from error
    catalogue = db.session.scalars(sa.select(Catalogue).where(Catalogue.key == spec.key)).one()
    return catalogue, result
