"""A small Flask application migrated by dbshift (README.md beside this file).

`flask --app notes db ...` finds `create_app` below; the database is
`instance/notes.db` (Flask-SQLAlchemy's instance folder), or `NOTES_DATABASE_URL`.
"""

from __future__ import annotations

import os

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import Mapped, mapped_column

from dbshift.flask import Migrate

db = SQLAlchemy()
migrate = Migrate(directory="migrations")


class Note(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(db.String(200))


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get(
        "NOTES_DATABASE_URL", "sqlite:///notes.db"
    )
    db.init_app(app)
    migrate.init_app(app, db)

    @app.get("/")
    def index() -> dict[str, list[str]]:
        return {"notes": list(db.session.scalars(db.select(Note.text)))}

    @app.post("/<text>")
    def add(text: str) -> dict[str, str]:
        db.session.add(Note(text=text))
        db.session.commit()
        return {"added": text}

    return app
