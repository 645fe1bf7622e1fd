"""MLflow's tracking and model-registry stores declare their tables on one declarative
Base; both model modules are imported so that Base holds every table."""

from __future__ import annotations

import mlflow.store.model_registry.dbmodels.models
import mlflow.store.tracking.dbmodels.models  # noqa: F401
from mlflow.store.db.base_sql_model import Base

metadata = Base.metadata
