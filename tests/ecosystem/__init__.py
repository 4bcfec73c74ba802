"""Tests that run real libraries on casyncio (a package, so that its
conftest.py does not shadow tests/conftest.py as module "conftest")."""
