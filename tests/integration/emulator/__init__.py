"""Integration tests of the Optimizely Campaign emulator over real HTTP (zeep and raw XML clients)."""
