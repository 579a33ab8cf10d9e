"""Tests of functions.auth against the fake Entra tenant over HTTP, and of the fake's command line."""
