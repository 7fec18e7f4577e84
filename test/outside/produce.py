#!/usr/bin/env python3
"""A producer that is not riskloop's: Python, librdkafka (confluent-kafka), Avro through the schema
registry, written from docs/producers.md alone. It computes every record key itself with the
documented account-token derivation (it is never given a token), so a loop that accepts its records
proves the page right.

Reads one JSON job on stdin:
  {"brokers": "host:port", "registry": "http://...", "partitioner": null | "murmur2_random" | ...,
   "accountTokenKeyHex": "...", "topics": {"<kind>": {"name": "...", "schemaFile": "..."}},
   "records": [{"kind": "transactions" | "chargebacks" | "kyc", "value": {...}}]}
A kyc value carries "accountId" in place of "accountToken" (the producer derives the token). With
"partitioner": null the client keeps librdkafka's default (consistent_random).
Writes one JSON object on stdout: {"delivered": [{"kind", "key", "partition", "offset"}], "errors": [...]}.
"""
import base64
import hashlib
import hmac
import json
import sys

from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext


def account_token(key: bytes, account_id: str) -> str:
    """docs/producers.md: "at_" + base64url(HMAC-SHA256(key, UTF-8 account id)) without padding, 32 chars."""
    mac = hmac.new(key, account_id.encode("utf-8"), hashlib.sha256).digest()
    return "at_" + base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")[:32]


def main() -> int:
    job = json.load(sys.stdin)
    conf = {"bootstrap.servers": job["brokers"], "enable.idempotence": True, "linger.ms": 5}
    if job.get("partitioner"):
        conf["partitioner"] = job["partitioner"]
    producer = Producer(conf)
    registry = SchemaRegistryClient({"url": job["registry"]})
    serializers = {}
    for kind, spec in job["topics"].items():
        with open(spec["schemaFile"], encoding="utf-8") as f:
            schema = f.read()
        serializers[kind] = (spec["name"], AvroSerializer(registry, schema, conf={"auto.register.schemas": True}))
    key = bytes.fromhex(job["accountTokenKeyHex"])

    delivered = []
    errors = []

    def report(kind, token):
        def on_delivery(err, msg):
            if err is not None:
                errors.append({"kind": kind, "error": str(err)})
            else:
                delivered.append({"kind": kind, "key": token, "partition": msg.partition(), "offset": msg.offset()})

        return on_delivery

    for record in job["records"]:
        kind = record["kind"]
        value = dict(record["value"])
        if kind == "kyc":
            token = account_token(key, value.pop("accountId"))
            value["accountToken"] = token
        else:
            token = account_token(key, value["accountId"])
        topic, serialize = serializers[kind]
        payload = serialize(value, SerializationContext(topic, MessageField.VALUE))
        producer.produce(topic, key=token.encode("utf-8"), value=payload, on_delivery=report(kind, token))
        producer.poll(0)
    remaining = producer.flush(60)
    if remaining:
        errors.append({"kind": "flush", "error": f"{remaining} records not delivered within 60 s"})
    json.dump({"delivered": delivered, "errors": errors}, sys.stdout)
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
