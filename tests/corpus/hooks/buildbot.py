"""Buildbot's tables are class attributes of buildbot.db.model.Model on its `metadata`;
importing the module declares them all."""

from __future__ import annotations

from buildbot.db.model import Model

metadata = Model.metadata
