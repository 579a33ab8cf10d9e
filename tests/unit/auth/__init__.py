"""Tests of authentication and authorization (functions.auth) against an in-memory fake Entra tenant."""
