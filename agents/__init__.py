"""Agents trained against nanoenv (they depend on nanoenv, never the reverse)."""
