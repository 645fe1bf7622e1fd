"""create users"""

parents = []

import sqlalchemy as sa


def upgrade(op):
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime, server_default=sa.text("CURRENT_TIMESTAMP")),
    )
    op.create_index("ix_users_name", "users", ["name"], unique=True)


def downgrade(op):
    op.drop_index("ix_users_name", "users")
    op.drop_table("users")
