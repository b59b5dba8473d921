"""Mailjet's own jobs next to the nightly membership sync: the address lookup the platform needs
(addresses.py), the one-off initial import of a Mailjet list into the CRM (initial_import.py) and
the incremental adds both ways (incremental.py). Plain typed Python, no Airflow."""
