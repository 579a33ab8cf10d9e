"""Simulated Hyper-V hosts that speak real WinRM, for local runs and tests (never deployed)."""
