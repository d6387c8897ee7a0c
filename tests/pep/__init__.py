"""Tests of shugu.pep."""
