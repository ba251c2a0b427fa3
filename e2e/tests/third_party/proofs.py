"""Checks the query-api's proofs as a third party would, from the specifications alone
(RFC 9162 sections 2.1.3.2 and 2.1.4.2, C2SP signed-note and tlog-checkpoint, RFC 7515
for the records' JWS), with hashlib and `cryptography`:

- a tenant's latest checkpoint note, its key derived from the JWK Set;
- every inclusion proof (the leaf hash recomputed from the record's own JWS payload);
- the consistency proof from an older tree to the checkpoint's;
- bundles: the header's checkpoint, every record's Ed25519 signature, its sequence
  and its link to the record before, and the run of leaves rebuilt into the
  checkpoint's root with the range proof.

Usage: proofs.py PROOFS_JSON [BUNDLE ...]

Prints {"inclusions": N, "consistency": N, "bundles": [records, ...]}; exits 1 on the
first proof that does not verify, saying which.
"""

import base64
import hashlib
import json
import pathlib
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from checkpoints import leaf_hash, verified_text  # noqa: E402


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_keys(jwks):
    return {key["kid"]: b64url(key["x"]) for key in jwks["keys"]}


def checkpoint(note, origin, keys, where):
    """(size, root) of a checkpoint note of `origin` signed by one of `keys`."""
    text = verified_text(note, list(keys.values()), where)
    lines = text.split("\n")
    if lines[0] != origin:
        raise SystemExit(f"{where}: origin {lines[0]!r}, expected {origin!r}")
    return int(lines[1]), base64.b64decode(lines[2])


def verify_inclusion(leaf, index, size, path, root):
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first, first_root, second, second_root, proof):
    """RFC 9162 section 2.1.4.2."""
    if first == second:
        return not proof and first_root == second_root
    if first == 0 or first > second or not proof:
        return False
    if first & (first - 1) == 0:
        proof = [first_root] + proof
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


def largest_power_below(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def rebuild(start, end, first, leaves, proof):
    """The hash of leaves [start, end): the run's own leaves inside it, the proof's
    hashes (left to right) for whole subtrees outside it."""
    if end <= first or start >= first + len(leaves):
        return proof.pop(0)
    if end - start == 1:
        return leaves[start - first]
    middle = start + largest_power_below(end - start)
    left = rebuild(start, middle, first, leaves, proof)
    return node(left, rebuild(middle, end, first, leaves, proof))


def jws_payload(jws, keys, where):
    header, payload, signature = jws.split(".")
    kid = json.loads(b64url(header))["kid"]
    if kid not in keys:
        raise SystemExit(f"{where}: signed by an unknown key")
    try:
        Ed25519PublicKey.from_public_bytes(keys[kid]).verify(b64url(signature), f"{header}.{payload}".encode())
    except InvalidSignature:
        raise SystemExit(f"{where}: the signature does not verify")
    return b64url(payload)


def check_bundle(path, keys):
    lines = pathlib.Path(path).read_text().splitlines()
    header = json.loads(lines[0])
    origin = header["checkpoint"].split("\n")[0]
    if not origin.endswith("/" + header["tenantId"]):
        raise SystemExit(f"{path}: the checkpoint is not the tenant's log")
    size, root = checkpoint(header["checkpoint"], origin, keys, path)
    leaves, previous = [], None
    for number, line in enumerate(lines[1:]):
        record = json.loads(line)
        payload = jws_payload(record["jws"], keys, f"{path} line {number + 2}")
        signed = json.loads(payload)
        if signed["sequence"] != header["first"] + number:
            raise SystemExit(f"{path} line {number + 2}: sequence {signed['sequence']} out of place")
        if previous is not None and signed.get("prevHash") != hashlib.sha256(previous).hexdigest():
            raise SystemExit(f"{path} line {number + 2}: does not link to the record before")
        previous = payload
        leaves.append(leaf_hash(payload))
    if len(leaves) != header["count"]:
        raise SystemExit(f"{path}: {len(leaves)} records, the header says {header['count']}")
    if leaves:
        proof = [base64.b64decode(hash) for hash in header["rangeProof"]]
        if rebuild(0, size, header["first"] - 1, leaves, proof) != root or proof:
            raise SystemExit(f"{path}: the records are not the checkpoint's leaves")
    if "window" not in header and (header["first"] != 1 or len(leaves) != size):
        raise SystemExit(f"{path}: a whole bundle must hold leaves 1..{size}")
    return len(leaves)


def main():
    proofs = json.loads(pathlib.Path(sys.argv[1]).read_text())
    keys = public_keys(proofs["jwks"])
    size, root = checkpoint(proofs["checkpoint"], proofs["origin"], keys, "latest checkpoint")
    for proof in proofs["inclusions"]:
        leaf = leaf_hash(jws_payload(proof["jws"], keys, proof["id"]))
        if base64.b64decode(proof["leafHash"]) != leaf or proof["treeSize"] != size:
            raise SystemExit(f"{proof['id']}: another leaf or tree")
        path = [base64.b64decode(hash) for hash in proof["auditPath"]]
        if not verify_inclusion(leaf, proof["leafIndex"], size, path, root):
            raise SystemExit(f"{proof['id']}: the inclusion proof does not verify")
    older, consistency = proofs["older"], proofs["consistency"]
    proof = [base64.b64decode(hash) for hash in consistency["proof"]]
    old_root = base64.b64decode(older["root"])
    if consistency["second"] != size or not verify_consistency(older["size"], old_root, size, root, proof):
        raise SystemExit("the consistency proof does not verify")
    bundles = [check_bundle(path, keys) for path in sys.argv[2:]]
    print(json.dumps({"inclusions": len(proofs["inclusions"]), "consistency": 1, "bundles": bundles}))


if __name__ == "__main__":
    main()
