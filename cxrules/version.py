"""The release, in one place: the package, the reporters and the build (pyproject.toml reads it)."""

__version__ = "0.1.0"
