"""The one time type of published structs.

Every time on the wire is RFC 3339 in UTC with "Z" (msgspec's datetime format). ``tz=True`` is
what makes msgspec declare ``format: date-time`` in the JSON schemas, and refuses a time without
a zone when a message is decoded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

UtcTime = Annotated[datetime, msgspec.Meta(tz=True)]
