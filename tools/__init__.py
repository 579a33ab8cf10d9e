"""Development tools: local Functions host and simulated Hyper-V lab (never deployed)."""
