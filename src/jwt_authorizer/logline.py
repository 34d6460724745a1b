"""The JSON encoder of log lines: compact, and total (anything unexpected becomes its ``str``)."""

from __future__ import annotations

import json

dumps = json.JSONEncoder(separators=(",", ":"), default=str).encode
