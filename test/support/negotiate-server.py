"""An HTTP service behind Negotiate (RFC 4559), for the tests: MIT GSS-API's acceptor through
Debian's python3-gssapi, with the keytab KRB5_KTNAME names. GET / answers 401 with
WWW-Authenticate: Negotiate, 200 with the client's principal when its token is accepted, 403 with
the library's reason when not."""
import base64
import http.server
import sys

import gssapi


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Negotiate "):
            self.send_response(401)
            self.send_header("WWW-Authenticate", "Negotiate")
            self.end_headers()
            return
        context = gssapi.SecurityContext(usage="accept")
        try:
            answer = context.step(base64.b64decode(auth[len("Negotiate "):]))
        except gssapi.exceptions.GSSError as err:
            self.send_response(403)
            self.end_headers()
            self.wfile.write(f"refused: {err}\n".encode())
            return
        self.send_response(200)
        if answer:
            self.send_header("WWW-Authenticate", "Negotiate " + base64.b64encode(answer).decode())
        self.end_headers()
        self.wfile.write(f"hello {context.initiator_name}\n".encode())

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
