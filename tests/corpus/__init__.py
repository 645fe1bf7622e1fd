"""The real-world corpus for `dbshift make`: real projects' models, installed from PyPI.

`python -m tests.corpus setup` builds one virtualenv per project (cached under
~/.cache/dbshift-corpus/), `python -m tests.corpus run` runs the four properties of each
project/backend pair there and prints the table; see docs/autogenerate.md.
"""
