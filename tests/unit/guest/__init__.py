"""Tests of the host side of the KVP provisioning protocol (functions.guest)."""
