"""Helpers the tests share: where the shipped cases are, rule folders made in a test, the spec's
conflict checks, and an independent oracle for differential tests."""
