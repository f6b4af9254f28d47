"""The map pages store nothing of their own (their rate-limit counters moved to gisapp.ratelimit)."""
