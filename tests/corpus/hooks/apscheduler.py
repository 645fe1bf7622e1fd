"""APScheduler 3's SQLAlchemyJobStore builds its `apscheduler_jobs` Table in __init__
(creating it only in start()); an engine that is never connected is enough to get it."""

from __future__ import annotations

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

metadata = SQLAlchemyJobStore(url="sqlite://").jobs_t.metadata
