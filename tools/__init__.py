"""Developer tools for Aether-V (never deployed)."""
