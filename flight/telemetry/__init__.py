"""Telemetry on board: the persistent packet store for store-and-forward downlink."""
