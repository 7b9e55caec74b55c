# Sends the requests given as a JSON list on stdin, each {method, url, headers, body}, one
# connection each, exactly as given (http.client adds Host and, with a body, Content-Length), and
# prints a JSON list of {status, allow, body}: for tests that check refusals from inside a network
# namespace or as another user, where the test process itself cannot connect.
import http.client
import json
import sys
from urllib.parse import urlsplit

out = []
for r in json.load(sys.stdin):
    u = urlsplit(r["url"])
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        path = u.path + ("?" + u.query if u.query else "")
        conn.request(r.get("method", "GET"), path, body=r.get("body"), headers=r.get("headers", {}))
        res = conn.getresponse()
        out.append({"status": res.status, "allow": res.getheader("Allow"), "body": res.read().decode(errors="replace")})
    except OSError as e:
        out.append({"status": 0, "allow": None, "body": str(e)})
    finally:
        conn.close()
print(json.dumps(out))
