"""Import hooks for corpus projects whose metadata needs something done first.

Each module exposes the project's metadata and says what it does; none changes a model.
"""
