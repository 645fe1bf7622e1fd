"""SQLite's scratch databases are files: database `name` is `name.sqlite` in the
folder of the server URL's file, created by the first connection, cloned by copying
the template's file (closed: no journal or WAL beside it to copy), dropped by deleting
the file and its journals."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL

from dbshift.dialects.scratch import Clone, Scratch
from dbshift.files import copy_scratch

#: the files SQLite may keep beside a database
_COMPANIONS = ("", "-journal", "-wal", "-shm")


class SQLiteScratch(Scratch):
    in_folder = True

    def url_of(self, server: URL, name: str) -> URL:
        return server.set(database=str(self._path(server, name)))

    def create(self, server: URL, name: str) -> URL:
        # the file is made by the first connection
        self._path(server, name).parent.mkdir(parents=True, exist_ok=True)
        return self.url_of(server, name)

    def drop(self, server: URL, name: str) -> None:
        path = self._path(server, name)
        for suffix in _COMPANIONS:
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    def cloner(self, server: URL, template: str) -> Clone:
        source = self._path(server, template)

        def clone(name: str) -> URL:
            copy_scratch(source, self._path(server, name))
            return self.url_of(server, name)

        return clone

    @staticmethod
    def _path(server: URL, name: str) -> Path:
        return Path(server.database or ".").parent / f"{name}.sqlite"
