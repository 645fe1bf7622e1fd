"""AiiDA's two storages: the PostgreSQL models (populated by the project's own
get_orm_metadata(), which imports every model module) and the SQLite archive models, which
aiida.storage.sqlite_zip.models derives from them when imported."""

from __future__ import annotations

from aiida.storage.psql_dos.models.base import get_orm_metadata
from aiida.storage.sqlite_zip.models import SqliteBase

psql_metadata = get_orm_metadata()
sqlite_metadata = SqliteBase.metadata
