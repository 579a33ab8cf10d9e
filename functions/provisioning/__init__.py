"""Provisioning and lifecycle steps: the service layer behind the VM workflows' activities."""
