"""The audit trail of sync runs: one ``sync_run`` per DAG run, one ``list_run`` per list in it."""
