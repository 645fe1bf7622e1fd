"""Neutron gathers its models in neutron.db.migration.models.head (imported by its
migration tests to compare models with migrations); get_metadata() returns the shared
BASEV2 metadata once every model module is imported."""

from __future__ import annotations

from neutron.db.migration.models import head

metadata = head.get_metadata()
