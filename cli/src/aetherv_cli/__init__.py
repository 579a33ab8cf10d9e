"""aetherv: the command line of the Aether-V Orchestrator's REST API (``pip install ./cli``)."""

__version__ = "0.1.0"
