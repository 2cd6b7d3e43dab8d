"""A small real SMTP server on 127.0.0.1 for tests and benchmarks.

It speaks enough of RFC 5321 for Django's SMTP backend (EHLO, MAIL, RCPT, DATA, RSET,
NOOP, QUIT), keeps every message it accepts, and can take its time over each one, the
way a slow mail provider does, or refuse recipients: each answer in `refusals` (say
"451 4.3.0 Try again later", or "550 5.1.1 No such user") is given to one RCPT, in
order, and once they are used up it accepts. Given a `port`, it listens there, so a test
can stop it and start another in its place: a mail provider's outage.
"""

import socketserver
import time
from email import message_from_bytes, policy

from .serving import Served


class ReusingServer(socketserver.ThreadingTCPServer):
    # A server started in a stopped one's place mustn't wait out its connections' TIME_WAIT.
    allow_reuse_address = True


class SMTPServer(Served):
    def __init__(self, delay: float = 0.0, refusals: list[str] = (), port: int = 0):
        self.delay = delay
        self.refusals = list(refusals)
        self.messages = []
        self.sessions = 0
        server = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str):
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self):
                server.sessions += 1
                self.reply("220 test SMTP ready")
                while line := self.rfile.readline():
                    command = line.decode(errors="replace").strip()
                    verb = command.split(" ", 1)[0].upper()
                    if verb in ("EHLO", "HELO"):
                        self.reply("250 test")
                    elif verb == "RCPT" and server.refusals:
                        self.reply(server.refusals.pop(0))
                    elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                        self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 End data with <CR><LF>.<CR><LF>")
                        data = b""
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            data += chunk[1:] if chunk.startswith(b"..") else chunk
                        time.sleep(server.delay)
                        server.messages.append(message_from_bytes(data, policy=policy.default))
                        self.reply("250 OK: queued")
                    elif verb == "QUIT":
                        self.reply("221 Bye")
                        return
                    else:
                        self.reply("502 Command not implemented")

        super().__init__(ReusingServer(("127.0.0.1", port), Handler))
