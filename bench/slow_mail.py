"""A slow mail provider: an SMTP server on 127.0.0.1 that takes its time over each message.

It speaks just enough SMTP for Django's backend (EHLO, MAIL, RCPT, DATA, RSET, NOOP,
QUIT), accepts everything, keeps nothing, and answers DATA after `delay` seconds.
"""

import socketserver
import threading
import time


class SlowMailServer:
    def __init__(self, delay: float):
        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str):
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self):
                self.reply("220 bench SMTP ready")
                while line := self.rfile.readline():
                    verb = line.decode(errors="replace").strip().split(" ", 1)[0].upper()
                    if verb in ("EHLO", "HELO", "MAIL", "RCPT", "RSET", "NOOP"):
                        self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 End data with <CR><LF>.<CR><LF>")
                        while self.rfile.readline() not in (b".\r\n", b""):
                            pass
                        time.sleep(delay)
                        self.reply("250 OK: queued")
                    elif verb == "QUIT":
                        self.reply("221 Bye")
                        return
                    else:
                        self.reply("502 Command not implemented")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info):
        self.server.shutdown()
        self.server.server_close()
