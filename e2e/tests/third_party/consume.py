"""Reads topics of the audit trail as a third party would: confluent-kafka for Kafka,
fastavro for Avro, and nothing but the published .avsc files.

Usage: consume.py BOOTSTRAP SCHEMA_DIR TOPIC... [-X key=value ...]

Each message must be Avro single-object encoded (C3 01, the 8-byte little-endian
CRC-64-AVRO fingerprint of the writer schema's Parsing Canonical Form, the datum),
with a fingerprint of one of the .avsc files. Prints one JSON summary on stdout;
exits 1 on the first message it cannot decode, saying why.
"""

import io
import json
import pathlib
import sys

from confluent_kafka import Consumer, TopicPartition
from fastavro import parse_schema, schemaless_reader
from fastavro.schema import fingerprint, to_parsing_canonical_form


def schemas_by_fingerprint(directory):
    schemas = {}
    for path in sorted(pathlib.Path(directory).glob("*.avsc")):
        schema = json.loads(path.read_text())
        key = bytes.fromhex(fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))
        schemas[key] = (path.name, parse_schema(schema))
    return schemas


def read_topic(consumer, topic):
    """Every message of `topic` from the first offset to the end, partition by partition."""
    partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
    for partition in sorted(partitions):
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=30)
        if high <= low:
            continue
        consumer.assign([TopicPartition(topic, partition, low)])
        offset = low
        while offset < high:
            message = consumer.poll(30)
            if message is None:
                raise SystemExit(f"{topic}/{partition}: no message at offset {offset} of {high}")
            if message.error():
                raise SystemExit(f"{topic}/{partition}: {message.error()}")
            offset = message.offset() + 1
            yield partition, message


def decode(schemas, topic, message):
    value = message.value()
    where = f"{topic}/{message.partition()}@{message.offset()}"
    if value[:2] != b"\xc3\x01":
        raise SystemExit(f"{where}: not single-object encoded")
    if value[2:10] not in schemas:
        raise SystemExit(f"{where}: fingerprint {value[2:10].hex()} matches no .avsc")
    name, schema = schemas[value[2:10]]
    datum = io.BytesIO(value[10:])
    record = schemaless_reader(datum, schema, None)
    if datum.read():
        raise SystemExit(f"{where}: bytes left after the datum of {name}")
    if message.key() is not None and message.key().decode() != record["tenantId"]:
        raise SystemExit(f"{where}: key is not the record's tenant")
    return name, record


def main():
    bootstrap, schema_dir, *rest = sys.argv[1:]
    topics = [argument for argument in rest if "=" not in argument]
    properties = dict(argument.split("=", 1) for argument in rest if "=" in argument)
    schemas = schemas_by_fingerprint(schema_dir)
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "third-party-reader",
        "enable.auto.commit": False,
        **properties,
    })
    summary = {}
    for topic in topics:
        ids, schemas_seen, sequences = set(), set(), {}
        count = 0
        for _, message in read_topic(consumer, topic):
            name, record = decode(schemas, topic, message)
            count += 1
            ids.add(record["id"])
            schemas_seen.add(name)
            if "sequence" in record:
                sequences.setdefault(record["tenantId"], []).append(record["sequence"])
        summary[topic] = {
            "messages": count,
            "distinct_ids": len(ids),
            "schemas": sorted(schemas_seen),
            "chains": {tenant: [min(seq), max(seq), len(seq)] for tenant, seq in sequences.items()},
        }
    consumer.close()
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
