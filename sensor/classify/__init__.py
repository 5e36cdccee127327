"""Vendor, device class, clinical function and risk of a device (see rules.toml)."""
