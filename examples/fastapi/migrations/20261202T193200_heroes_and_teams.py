"""heroes and teams"""

parents = []
backends = ["sqlite", "postgresql", "mysql", "mariadb"]

import sqlalchemy as sa


def upgrade(op):
    op.create_enum("power", ["strength", "speed", "flight"])
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("headquarters", sa.String().with_variant(sa.String(length=255), "mariadb", "mysql"), nullable=False),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "heroes",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("secret_name", sa.String().with_variant(sa.String(length=255), "mariadb", "mysql"), nullable=False),
        sa.Column("age", sa.Integer()),
        sa.Column("power", sa.Enum("strength", "speed", "flight", name="power"), nullable=False),
        sa.Column("rating", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("team_id", sa.Integer()),
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("CURRENT_TIMESTAMP")),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], ondelete="SET NULL"),
    )
    op.create_index("ix_heroes_age", "heroes", ["age"])
    op.create_index("ix_heroes_name", "heroes", ["name"])


def downgrade(op):
    op.drop_table("heroes")
    op.drop_table("teams")
    op.drop_enum("power")
