# A command source printing a JWT-shaped Entra ID access token (unsigned: azure-cli decodes it
# without verifying, for the tenant and object id) for the audience given, numbered by a counter
# file in COUNT_DIR so that a test can tell each fetch's token apart:
#   python3 azure-jwt-source.py COUNT_DIR NAME AUDIENCE
import base64
import json
import os
import sys
import time

count_dir, name, audience = sys.argv[1:4]
counter = os.path.join(count_dir, name + ".count")
n = int(open(counter).read()) + 1 if os.path.exists(counter) else 1
with open(counter, "w") as f:
    f.write(str(n))


def part(obj):
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


now = int(time.time())
claims = {
    "aud": audience, "iss": "https://sts.credagent.test/72f988bf-0000-4000-8000-000000000001/",
    "tid": "72f988bf-0000-4000-8000-000000000001", "oid": "0a0a0a0a-0000-4000-8000-000000000002",
    "iat": now, "nbf": now, "exp": now + 3600, "jti": "%s-%d" % (name, n),
}
print(json.dumps({"access_token": part({"alg": "RS256", "typ": "JWT"}) + "." + part(claims) + ".c2lnbmF0dXJl", "expires_in": 3600}))
