"""Who did what: one audit row per decision, written by the service that makes it."""
