"""Signpost: the shared base (settings, errors, progress) and the `signpost` CLI front door."""

__version__ = "0.1.0"
