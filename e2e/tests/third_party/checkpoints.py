"""Checks the trail's checkpoints as a third party would, from the specifications alone:
each note on audit.checkpoints as a C2SP signed note (key ID derived from the
published JWK Set, Ed25519 with `cryptography`), and its root against the RFC 9162
root recomputed from the tenant's records on audit.signed (hashlib, fastavro, the
.avsc files).

Usage: checkpoints.py BOOTSTRAP SCHEMA_DIR JWKS_FILE [-X key=value ...]

Prints {"checkpoints": N, "largest": {tenant: size}}; exits 1 on the first note that
does not verify or whose root differs, saying which.
"""

import base64
import hashlib
import json
import pathlib
import sys

from confluent_kafka import Consumer
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from consume import decode, read_topic, schemas_by_fingerprint  # noqa: E402


def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def root(leaves):
    """RFC 9162 MTH: split at the largest power of two below the count."""
    if len(leaves) == 1:
        return leaves[0]
    split = 1
    while split * 2 < len(leaves):
        split *= 2
    return hashlib.sha256(b"\x01" + root(leaves[:split]) + root(leaves[split:])).digest()


def verified_text(note, keys, where):
    """The note's text once a signature by one of `keys` (raw Ed25519) verifies."""
    body, signatures = note[: note.rindex("\n\n") + 1], note[note.rindex("\n\n") + 2 :]
    for line in signatures.rstrip("\n").split("\n"):
        if not line.startswith("\u2014 "):
            raise SystemExit(f"{where}: not a signature line")
        name, encoded = line[2:].split(" ")
        signed = base64.b64decode(encoded)
        for public in keys:
            key_id = hashlib.sha256(name.encode() + b"\n\x01" + public).digest()[:4]
            if key_id != signed[:4]:
                continue
            try:
                Ed25519PublicKey.from_public_bytes(public).verify(signed[4:], body.encode())
            except InvalidSignature:
                raise SystemExit(f"{where}: the signature of {name} does not verify")
            return body
    raise SystemExit(f"{where}: no signature by a key of the JWK Set")


def main():
    bootstrap, schema_dir, jwks_file, *rest = sys.argv[1:]
    properties = dict(argument.split("=", 1) for argument in rest if "=" in argument)
    keys = [base64.urlsafe_b64decode(jwk["x"] + "==") for jwk in json.loads(pathlib.Path(jwks_file).read_text())["keys"]]
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "third-party-checker", "enable.auto.commit": False, **properties})
    schemas = schemas_by_fingerprint(schema_dir)
    leaves = {}
    for _, message in read_topic(consumer, "audit.signed"):
        _, record = decode(schemas, "audit.signed", message)
        payload = base64.urlsafe_b64decode(record["jws"].split(".")[1] + "==")
        leaves.setdefault(record["tenantId"], {})[record["sequence"]] = leaf_hash(payload)
        if record.get("treeHashes", b"")[:32] != leaf_hash(payload):
            raise SystemExit(f"{record['tenantId']}/{record['sequence']}: the first tree hash is not the leaf hash")
    count, largest = 0, {}
    for partition, message in read_topic(consumer, "audit.checkpoints"):
        where = f"audit.checkpoints/{partition}@{message.offset()}"
        origin, size, encoded_root = verified_text(message.value().decode(), keys, where).split("\n")[:3]
        tenant, size = origin.rsplit("/", 1)[1], int(size)
        if message.key().decode() != tenant:
            raise SystemExit(f"{where}: key is not the origin's tenant")
        mine = leaves.get(tenant, {})
        if any(sequence not in mine for sequence in range(1, size + 1)):
            raise SystemExit(f"{where}: the checkpoint covers records not on audit.signed")
        if base64.b64encode(root([mine[sequence] for sequence in range(1, size + 1)])).decode() != encoded_root:
            raise SystemExit(f"{where}: root of {size} differs from the records'")
        count += 1
        largest[tenant] = max(largest.get(tenant, 0), size)
    consumer.close()
    print(json.dumps({"checkpoints": count, "largest": largest}))


if __name__ == "__main__":
    main()
