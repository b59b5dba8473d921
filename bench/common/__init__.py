"""Shared parts of the benchmarks: child processes with their own peak RSS (``proc``, ``child``),
PostgreSQL databases (``pg``), the emulator in a process of its own (``emulator``), COPY as the
import limit (``copy_limit``) and facts about the machine (``machine``)."""
