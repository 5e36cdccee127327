"""Validate published messages against the JSON Schemas the package ships."""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from typing import Any

import jsonschema

from sensor.commands.schema import NAMES, shipped

# jsonschema checks "date-time" only with an optional package installed; this is the same RFC 3339
# check on what the sensor writes (a zone is required), so a wrong time fails the tests.
FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    return not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is not None


@cache
def validator(kind: str) -> jsonschema.Draft202012Validator:
    schema = json.loads(shipped(kind))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=FORMATS)


def validate_message(topic: str, payload: bytes) -> dict[str, Any] | None:
    """Raise jsonschema.ValidationError unless the message matches its kind's shipped schema."""
    if not payload:
        assert "/devices/" in topic, f"only a forgotten device is an empty message, not {topic}"
        return None
    env: dict[str, Any] = json.loads(payload)
    assert env["kind"] in NAMES, env["kind"]
    validator(env["kind"]).validate(env)
    return env
