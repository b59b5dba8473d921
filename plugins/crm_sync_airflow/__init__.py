"""Airflow glue for the CRM -> campaign platform sync: hooks, notifiers and task bodies.

Imports ``include/`` (the domain), never the other way round. Kept importable cheaply: heavy
libraries (zeep, pandas, great_expectations) are imported inside functions.
"""
