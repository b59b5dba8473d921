"""Injectable time source (the shared kit's, include/emulators/kit/clock.py).

Everything time-dependent in the emulator (session expiry, event and export timestamps, the
30-day export retention, ClosedLoop.getCurrentTime) reads ``Clock.now()``, never ``time.time()``,
so tests and the demo can move time forward through the control endpoint instead of sleeping.
"""

from include.emulators.kit.clock import Clock, ControllableClock, SystemClock

__all__ = ["Clock", "ControllableClock", "SystemClock"]
