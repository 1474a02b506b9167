"""A small Server-Sent Events parser for the tests (id, event, data per message; comments dropped)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Message:
    event: str = "message"
    id: str | None = None
    data: str = ""
    received_at: float = field(default_factory=time.time)

    def json(self) -> Any:
        return json.loads(self.data)


def parse(lines: Iterable[str]) -> Iterator[Message]:
    current: Message | None = None
    for raw in lines:
        line = raw.rstrip("\r")
        if not line:
            if current is not None and (current.data or current.event != "message"):
                current.received_at = time.time()
                yield current
            current = None
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        current = current or Message()
        if name == "event":
            current.event = value
        elif name == "id":
            current.id = value
        elif name == "data":
            current.data = f"{current.data}\n{value}" if current.data else value


def read_stream(client, url: str, headers: dict[str, str], *, timeout_s: float = 120.0) -> list[Message]:
    """Every message until `event: end` (inclusive)."""
    messages = []
    deadline = time.monotonic() + timeout_s
    with client.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for message in parse(response.iter_lines()):
            messages.append(message)
            if message.event == "end" or time.monotonic() > deadline:
                break
    return messages
