"""Inventory in Azure Table Storage: hosts and VMs written by the sync, read by the API and dashboard."""
