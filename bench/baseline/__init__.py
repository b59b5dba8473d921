"""Baselines the project's code is compared with in ``bench/run.py``."""
