"""Airflow's metadata database: `airflow.models` imports its model modules lazily, so the
hook calls the project's own import_all_models() (as Airflow's alembic env.py does) and
takes the metadata of the shared declarative Base."""

from __future__ import annotations

from airflow.models import import_all_models
from airflow.models.base import Base

import_all_models()
metadata = Base.metadata
