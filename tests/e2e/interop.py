"""Reads one event that `hookstream produce` wrote the way any Python Kafka client would:
confluent_kafka consumes it, the Confluent wire header gives the schema id, the schema comes
from the registry at HS_REGISTRY_URL by that id, and Apache Avro for Python decodes the body.
Checks the fields against the JSON that was produced, the key and the CloudEvents headers.
Run with Debian's /usr/bin/python3 (python3-confluent-kafka, python3-avro); exit 0 = all good."""
import argparse
import datetime
import io
import json
import os
import struct
import sys
import time
import urllib.request

import avro.io
import avro.schema
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

FAILS = []


def check(ok, what):
    print(("ok: " if ok else "FAIL: ") + what)
    if not ok:
        FAILS.append(what)


def find_event(brokers, topic, ce_id, timeout_s):
    """Assigns every partition of topic at the beginning and returns the message whose ce_id
    header is ce_id, with its headers as a dict of strings."""
    consumer = Consumer({"bootstrap.servers": brokers, "group.id": "hookstream-interop-test",
                         "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            headers = {k: (v.decode() if v is not None else None)
                       for k, v in (msg.headers() or [])}
            if headers.get("ce_id") == ce_id:
                return msg, headers
    finally:
        consumer.close()
    sys.exit(f"FAIL: no message with ce_id {ce_id} on {topic} within {timeout_s} s")


def decode(registry, value):
    """Confluent wire format: magic byte 0, big-endian schema id, Avro binary body."""
    magic, schema_id = struct.unpack(">bI", value[:5])
    check(magic == 0, f"magic byte is 0 (got {magic})")
    with urllib.request.urlopen(f"{registry}/schemas/ids/{schema_id}", timeout=10) as resp:
        schema = avro.schema.parse(json.load(resp)["schema"])
    check(schema.fullname == "hookstream.orders.OrderPlaced",
          f"schema {schema_id} from the registry is OrderPlaced (got {schema.fullname})")
    reader = avro.io.DatumReader(schema)
    return reader.read(avro.io.BinaryDecoder(io.BytesIO(value[5:])))


def millis(v):
    """timestamp-millis decodes to an aware datetime in Apache Avro for Python."""
    if isinstance(v, datetime.datetime):
        return int(v.timestamp() * 1000)
    return v


def check_order(event, want):
    for field in ("order_id", "order_number", "currency", "total_price", "subtotal_price",
                  "total_tax", "financial_status"):
        check(event.get(field) == want[field], f"{field} = {want[field]!r} (got {event.get(field)!r})")
    check(event["customer"]["email"] == want["customer"]["email"], "customer.email")
    check(millis(event["created_at"]) == want["created_at"], "created_at (timestamp-millis)")
    got_items = [(i["title"], i["quantity"], i["price"], i.get("sku")) for i in event["line_items"]]
    want_items = [(i["title"], i["quantity"], i["price"], i.get("sku")) for i in want["line_items"]]
    check(got_items == want_items, f"line_items {want_items} (got {got_items})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--id", required=True, help="ce_id of the produced event")
    ap.add_argument("--data", required=True, help="file with the JSON data that was produced")
    ap.add_argument("--timeout", type=float, default=30)
    args = ap.parse_args()
    with open(args.data, encoding="utf-8") as f:
        want = json.load(f)

    msg, headers = find_event(os.environ["HS_KAFKA_BROKERS"], "hs.events.orders", args.id,
                              args.timeout)
    print(f"found {msg.topic()} [{msg.partition()}] @ {msg.offset()}")
    check(msg.key() == want["order_id"].encode(), f"key is the order id (got {msg.key()!r})")
    check(headers.get("ce_specversion") == "1.0", "ce_specversion = 1.0")
    check(headers.get("ce_type") == "order.placed", "ce_type = order.placed")
    check(headers.get("ce_id") == args.id, "ce_id is the produced id")
    check(headers.get("ce_subject") == want["order_id"], "ce_subject is the order id")
    check_order(decode(os.environ["HS_REGISTRY_URL"], msg.value()), want)
    if FAILS:
        sys.exit(f"{len(FAILS)} check(s) failed")
    print("python read the event hookstream produced")


if __name__ == "__main__":
    main()
