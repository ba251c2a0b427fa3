"""Checks notifications as a third party's receiver would, with independent libraries:
the Standard Webhooks signature with the `standardwebhooks` package, the record's JWS
with jwcrypto against the published JWK Set.

Reads {"secret", "apiKey", "jwks", "requests": [{"headers": {...}, "body": "..."}]} on
stdin. For each request: the X-API-Key header is the webhook's key; the signature
verifies (which also checks the timestamp is recent); the JWS verifies under the key
its kid names with alg EdDSA, and its payload names the notification's record id and
tenant. Prints {"verified": n, "ids": distinct webhook-ids}; exits 1 with the reason
on the first failure.
"""

import json
import sys

from jwcrypto import jwk, jws
from standardwebhooks.webhooks import Webhook


def fail(index, reason):
    print(f"request {index}: {reason}")
    sys.exit(1)


def main():
    document = json.load(sys.stdin)
    webhook = Webhook(document["secret"])
    keys = jwk.JWKSet()
    keys.import_keyset(json.dumps(document["jwks"]))
    ids = set()
    for index, request in enumerate(document["requests"]):
        headers = {name.lower(): value for name, value in request["headers"].items()}
        if headers.get("x-api-key") != document["apiKey"]:
            fail(index, "x-api-key is not the webhook's key")
        try:
            body = webhook.verify(request["body"], headers)
        except Exception as error:  # the package raises its own verification errors
            fail(index, f"signature refused: {error}")
        token = jws.JWS()
        token.deserialize(body["jws"])
        kid = token.jose_header.get("kid")
        key = keys.get_key(kid)
        if key is None:
            fail(index, f"kid {kid} not in the jwk set")
        token.verify(key, alg="EdDSA")
        payload = json.loads(token.payload)
        if payload["id"] != body["id"] or payload["tenantId"] != body["tenantId"]:
            fail(index, "the jws is of another record")
        if headers["webhook-id"] != body["id"]:
            fail(index, "webhook-id is not the record id")
        ids.add(body["id"])
    print(json.dumps({"verified": len(document["requests"]), "ids": len(ids)}))


if __name__ == "__main__":
    main()
