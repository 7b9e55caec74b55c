# A stand-in for Azure Resource Manager, enough for `az login --identity`: it lists one tenant and
# one subscription to whoever sends a bearer token, and appends each request's path and
# Authorization header to a log (one JSON line each) for the test to check which token came.
# Run with Debian's python3 inside the test's network namespace:
#   python3 azure-arm-stub.py PORT_FILE CERT KEY LOG   (HTTPS: azure-core sends bearer tokens over https only)
import http.server
import json
import os
import ssl
import sys

port_file, cert, key, log = sys.argv[1:5]
TENANT = "72f988bf-0000-4000-8000-000000000001"
SUBSCRIPTION = "11111111-2222-4333-8444-555555555555"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open(log, "a") as f:
            f.write(json.dumps({"path": self.path, "authorization": self.headers.get("Authorization", "")}) + "\n")
        if not self.headers.get("Authorization", "").startswith("Bearer "):
            return self.answer(401, {"error": {"code": "AuthenticationFailed", "message": "no bearer token"}})
        if self.path.startswith("/subscriptions?"):
            return self.answer(200, {"value": [{
                "id": "/subscriptions/" + SUBSCRIPTION, "subscriptionId": SUBSCRIPTION, "tenantId": TENANT,
                "displayName": "credagent test", "state": "Enabled", "authorizationSource": "RoleBased",
                "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "test", "spendingLimit": "Off"},
            }]})
        if self.path.startswith("/tenants?"):
            return self.answer(200, {"value": [{"id": "/tenants/" + TENANT, "tenantId": TENANT, "displayName": "credagent", "tenantCategory": "Home"}]})
        self.answer(404, {"error": {"code": "NotFound", "message": "not in this stub"}})

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
server.socket = context.wrap_socket(server.socket, server_side=True)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
