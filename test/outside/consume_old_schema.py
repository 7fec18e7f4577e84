"""An old consumer of riskloop's decisions topic: confluent-kafka's DeserializingConsumer with
AvroDeserializer given the *previous* Decision schema as its reader schema (schema_str), as an
application built before a schema change would run. The writer schema comes from the registry by
the id in each record; fastavro resolves writer to reader (an unknown enum symbol becomes the
reader enum's default).

Reads a JSON job on stdin:
  {"bootstrap", "registry", "topic", "reader_schema" (JSON text), "expect" (records), "timeout_s"}
Prints {"records": [{"transactionId", "decision", "fields"}...]} on stdout (fields: the reader's
field names, to show the record was read with the old schema).
"""
import json
import sys
import time
import uuid

from confluent_kafka import DeserializingConsumer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import StringDeserializer

job = json.load(sys.stdin)
registry = SchemaRegistryClient({"url": job["registry"]})
consumer = DeserializingConsumer({
    "bootstrap.servers": job["bootstrap"],
    "group.id": f"old-consumer-{uuid.uuid4()}",
    "auto.offset.reset": "earliest",
    "isolation.level": "read_committed",
    "enable.auto.commit": False,
    "key.deserializer": StringDeserializer("utf_8"),
    "value.deserializer": AvroDeserializer(registry, schema_str=job["reader_schema"]),
})
consumer.subscribe([job["topic"]])
records = []
deadline = time.time() + job.get("timeout_s", 60)
try:
    while len(records) < job["expect"] and time.time() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            raise SystemExit(f"consumer error: {msg.error()}")
        v = msg.value()
        records.append({"transactionId": v["transactionId"], "decision": v["decision"], "fields": sorted(v.keys())})
finally:
    consumer.close()
print(json.dumps({"records": records}))
