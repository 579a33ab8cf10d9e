"""Aether-V Orchestrator: the deployed application package (API, workflows, Hyper-V client, inventory)."""

__version__ = "0.1.0"
