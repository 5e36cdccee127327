"""JSON Schemas of the published messages, one file per kind (made by `python -m sensor.commands.schema`)."""
