"""The clear + refill engine: makes a platform list an exact copy of a validated snapshot."""
