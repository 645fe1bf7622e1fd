"""add an email to users

No downgrade is written: dbshift derives it (drop the column) from the upgrade.
"""

parents = ["20261102T090000_create_posts"]

import sqlalchemy as sa


def upgrade(op):
    op.add_column("users", sa.Column("email", sa.String(200), nullable=True))
