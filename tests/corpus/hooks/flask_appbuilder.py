"""Flask-AppBuilder's security models live on its declarative `Model`; importing the
module registers them (no Flask app is needed)."""

from __future__ import annotations

import flask_appbuilder.security.sqla.models  # noqa: F401
from flask_appbuilder import Model

metadata = Model.metadata
