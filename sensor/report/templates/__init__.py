"""Jinja2 templates of the report (a regular package, so setuptools ships them without a warning)."""
