"""The measured steps of ``bench/run.py``; each public ``*_step`` runs in a fresh child process
(``bench.common.proc.run_step``) and returns a JSON-able dict."""
