"""The audit log: who did what to which target, when, from where, and how it ended."""
