"""A real SMTP server for cspr's tests: aiosmtpd, storing each accepted message as
`<dir>/<uuid>.eml` (with an X-Envelope-To header per recipient) and refusing any recipient
at `rejected.invalid` with a permanent 550, like a mail server that does not know them.

    python3 smtp_sink.py <port> <directory>

Prints "ready" once it listens; runs until killed.
"""

import os
import sys
import threading
import uuid

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory):
        self.directory = directory

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower().endswith("@rejected.invalid"):
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        for recipient in envelope.rcpt_tos:
            name = f"{uuid.uuid4().hex}.eml"
            partial = os.path.join(self.directory, name + ".part")
            with open(partial, "wb") as handle:
                handle.write(f"X-Envelope-To: {recipient}\r\n".encode("utf-8"))
                handle.write(content)
            os.rename(partial, os.path.join(self.directory, name))
        return "250 Message accepted for delivery"


def main():
    port = int(sys.argv[1])
    directory = sys.argv[2]
    os.makedirs(directory, exist_ok=True)
    controller = Controller(Sink(directory), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
