"""`dbshift adopt`: take over a project another migration tool made (docs/adopt.md).

Two halves, each independent of the tool it adopts from:

- the files (`adopt/files.py`): every revision of the other tool converted into a
  dbshift migration (`Converted`), checked as a whole, then written all or none with
  `dbshift.sum`;
- the database (`adopt/takeover.py`): the other tool's version table read, every
  ancestor of what it says is applied recorded in dbshift's history under the runner
  lock, an `adopt` event logged; until that table is dropped, the runner
  (`runner/adopted.py`, below this package) refuses to run if the other tool moved it since.

What is the tool's own lives in one module per tool: `adopt/alembic.py` (Alembic and
Flask-Migrate) and `adopt/yoyo.py` (yoyo-migrations) read the project and convert it
(a converted yoyo `.py` step imports `adopt/steps.py`, yoyo's `step()` and `group()`);
`runner/adopted.py` reads and drops each tool's version table, found by the tool's name
in `READERS` (`VersionTable`, `YoyoTable`). `adopt/run.py` puts the halves together.
"""
