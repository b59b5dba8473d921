"""Failure notifiers for the sync DAGs (pluggable; logging by default)."""
