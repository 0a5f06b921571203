"""The one place the version is written (pyproject.toml reads it too)."""

VERSION = "0.1.0"
