"""A local SMTP sink for the reminder benchmark, in its own process so that receiving mail
does not compete with the tick for the interpreter.

``python -m bench.smtp_sink PORT`` listens on 127.0.0.1:PORT (aiosmtpd), prints ``ready``,
and on a line ``stop`` on its standard input prints one JSON line: the messages and bytes
received, the distinct recipients, the messages per subject and the number of SMTP connections
(distinct client addresses and ports) used.
"""

from __future__ import annotations

import json
import sys
import threading
from collections import Counter
from email import message_from_bytes, policy
from typing import Any

from aiosmtpd.controller import Controller


class Counting:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages = 0
        self.bytes = 0
        self.peers: set[Any] = set()
        self.recipients: Counter[str] = Counter()
        self.subjects: Counter[str] = Counter()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        subject = str(message_from_bytes(envelope.content, policy=policy.default)["Subject"])
        with self.lock:
            self.messages += 1
            self.bytes += len(envelope.content)
            self.peers.add(session.peer)
            self.recipients.update(envelope.rcpt_tos)
            self.subjects[subject] += 1
        return "250 OK"

    def report(self) -> dict[str, Any]:
        with self.lock:
            return {
                "messages": self.messages,
                "bytes": self.bytes,
                "connections": len(self.peers),
                "distinct_recipients": len(self.recipients),
                "most_to_one_recipient": max(self.recipients.values(), default=0),
                "subjects": dict(self.subjects),
            }


def main() -> None:
    handler = Counting()
    controller = Controller(handler, hostname="127.0.0.1", port=int(sys.argv[1]))
    controller.start()
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "stop":
            break
    controller.stop()
    print(json.dumps(handler.report()), flush=True)


if __name__ == "__main__":
    main()
