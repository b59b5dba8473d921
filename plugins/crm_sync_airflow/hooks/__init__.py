"""Hooks: one per external system, each reading an Airflow Connection."""
