"""Verifies signed records with an independent JOSE implementation (jwcrypto).

Reads {"jwks": <JWK Set>, "records": [{"tenantId", "sequence", "jws"}, ...]} in log
order on stdin. For each record: the JWS verifies under the key its kid names, with
alg EdDSA; the payload is RFC 8785 canonical JSON (re-serialized here independently);
the envelope agrees with the payload; each tenant's chain runs 1, 2, 3, ... and every
prevHash is the SHA-256 of the tenant's previous payload. Prints a JSON summary;
exits 1 with the reason on the first failure.
"""

import hashlib
import json
import sys

from jwcrypto import jwk, jws


def canonical(value):
    # Enough of RFC 8785 for these payloads: string keys, strings, integers, null.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def fail(index, reason):
    print(f"record {index}: {reason}")
    sys.exit(1)


def main():
    document = json.load(sys.stdin)
    keys = jwk.JWKSet()
    keys.import_keyset(json.dumps(document["jwks"]))
    heads = {}
    kids = set()
    for index, record in enumerate(document["records"]):
        token = jws.JWS()
        token.deserialize(record["jws"])
        header = token.jose_header
        if header.get("alg") != "EdDSA":
            fail(index, f"alg is {header.get('alg')}")
        key = keys.get_key(header["kid"])
        if key is None:
            fail(index, f"kid {header['kid']} not in the jwk set")
        token.verify(key, alg="EdDSA")
        payload = token.payload
        body = json.loads(payload)
        if canonical(body) != payload:
            fail(index, "payload is not canonical json")
        if body["tenantId"] != record["tenantId"] or body["sequence"] != record["sequence"]:
            fail(index, "envelope differs from the payload")
        previous = heads.get(body["tenantId"])
        if previous is None:
            if body["sequence"] != 1 or "prevHash" in body:
                fail(index, "a chain does not start at sequence 1")
        elif body["sequence"] != previous[0] + 1 or body.get("prevHash") != previous[1]:
            fail(index, f"chain of {body['tenantId']} breaks at {body['sequence']}")
        heads[body["tenantId"]] = (body["sequence"], hashlib.sha256(payload).hexdigest())
        kids.add(header["kid"])
    print(json.dumps({"verified": len(document["records"]), "tenants": len(heads), "kids": len(kids)}))


if __name__ == "__main__":
    main()
