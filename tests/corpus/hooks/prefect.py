"""Prefect server's ORM models are declared on orm_models.Base when the module is imported."""

from __future__ import annotations

from prefect.server.database.orm_models import Base

metadata = Base.metadata
