from dbshift.cli import run

run()
