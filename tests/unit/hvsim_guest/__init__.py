"""Tests of the simulated guest agent (tools.hvsim.guest), end to end against the host side."""
