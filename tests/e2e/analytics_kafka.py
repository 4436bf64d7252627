#!/usr/bin/python3
"""Kafka helpers of the analytics e2e tests (confluent_kafka):

  analytics_kafka.py bad BROKERS TOPIC     produce one malformed record of each kind analytics
                                           dead-letters; prints how many
  analytics_kafka.py dlq BROKERS TOPIC N   read N records of a DLQ topic from the beginning;
                                           prints "class|origin topic|message" per record, sorted
"""
import datetime
import sys
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition


def headers(**extra):
    now = datetime.datetime.now(datetime.timezone.utc)
    h = {"ce_specversion": "1.0", "ce_id": str(uuid.uuid4()), "ce_type": "order.placed",
         "ce_source": "/e2e/bad", "ce_time": now.isoformat(timespec="milliseconds")
         .replace("+00:00", "Z"), "hs_tenant": "bad"}
    h.update(extra)
    return [(k, v) for k, v in h.items() if v is not None]


def bad(brokers, topic):
    # value, headers: each one is malformed for analytics in its own way
    cases = [
        (b"not avro at all", headers()),                          # undecodable: not wire format
        (b"\x00\x00\x0f\x42\x3f\x02", headers()),                  # unknown schema id 999999
        (b"\x00\x00\x00\x00\x01", headers(ce_type=None)),          # no ce_type
        (b"\x00\x00\x00\x00\x01", headers(ce_time="yesterday")),   # not an RFC 3339 time
        (b"\x00\x00\x00\x00\x01", headers(hs_tenant=b"\xff\xfe")),  # tenant not UTF-8
    ]
    p = Producer({"bootstrap.servers": brokers, "acks": "all"})
    for value, hdrs in cases:
        p.produce(topic, value, key=b"bad", headers=hdrs)
    if p.flush(30):
        sys.exit("malformed records not acknowledged")
    print(len(cases))


def dlq(brokers, topic, want):
    c = Consumer({"bootstrap.servers": brokers, "group.id": "e2e-dlq-reader",
                  "enable.auto.commit": False})
    parts = c.list_topics(topic, timeout=10).topics[topic].partitions
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    rows, deadline = [], datetime.datetime.now() + datetime.timedelta(seconds=15)
    while len(rows) < want and datetime.datetime.now() < deadline:
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        h = {k: (v or b"").decode("utf-8", "replace") for k, v in (m.headers() or [])}
        rows.append("%s|%s|%s" % (h.get("hs_error_class", "-"), h.get("hs_origin_topic", "-"),
                                  h.get("hs_error_message", "-")))
    c.close()
    print("\n".join(sorted(rows)))


if __name__ == "__main__":
    if sys.argv[1] == "bad":
        bad(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "dlq":
        dlq(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(__doc__)
