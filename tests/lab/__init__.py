"""Namespace lab tests and the reusable helpers in labkit."""
