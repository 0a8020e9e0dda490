"""The review window (PySide6)."""
