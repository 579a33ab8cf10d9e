"""Durable workflows: pure, deterministic orchestrators and the thin activities that do their I/O."""
