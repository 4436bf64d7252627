#!/usr/bin/python3
"""Rewrites expected.json and expected.avro of every tests/data/avro/<type>/ from its input.json.

expected.json is the input with schema defaults filled in (what decoding gives back);
expected.avro is what Apache Avro for Python (Debian python3-avro) writes for it, so the unit
test holds our encoder to the reference implementation byte for byte. Run after changing a
schema or an input: /usr/bin/python3 tests/data/avro/regenerate.py
"""
import datetime
import glob
import io
import json
import os

import avro.io
import avro.schema

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMAS = os.path.join(HERE, "..", "..", "..", "schemas", "avro")


def with_defaults(s, v):
    """The JSON value v of schema s with missing record fields set to their defaults."""
    if isinstance(s, avro.schema.UnionSchema):
        if v is None:
            return None
        return with_defaults(next(b for b in s.schemas if b.type != "null"), v)
    if s.type == "record":
        return {f.name: with_defaults(f.type, v[f.name]) if f.name in v else f.default
                for f in s.fields}
    if s.type == "array":
        return [with_defaults(s.items, x) for x in v]
    if s.type == "map":
        return {k: with_defaults(s.values, x) for k, x in v.items()}
    return v


def to_python(s, v):
    """Python avro wants datetime objects where the schema says timestamp-millis."""
    if isinstance(s, avro.schema.UnionSchema):
        if v is None:
            return None
        return to_python(next(b for b in s.schemas if b.type != "null"), v)
    if getattr(s, "logical_type", None) == "timestamp-millis":
        return datetime.datetime.fromtimestamp(v / 1000, tz=datetime.timezone.utc)
    if s.type == "record":
        return {f.name: to_python(f.type, v[f.name]) for f in s.fields}
    if s.type == "array":
        return [to_python(s.items, x) for x in v]
    if s.type == "map":
        return {k: to_python(s.values, x) for k, x in v.items()}
    return v


for path in sorted(glob.glob(os.path.join(SCHEMAS, "*", "*.avsc"))):
    name = os.path.basename(path)[:-len(".avsc")]
    case = os.path.join(HERE, name)
    with open(path) as f:
        schema = avro.schema.parse(f.read())
    with open(os.path.join(case, "input.json")) as f:
        expected = with_defaults(schema, json.load(f))
    with open(os.path.join(case, "expected.json"), "w") as f:
        f.write(json.dumps(expected, indent=2) + "\n")
    out = io.BytesIO()
    avro.io.DatumWriter(schema).write(to_python(schema, expected), avro.io.BinaryEncoder(out))
    with open(os.path.join(case, "expected.avro"), "wb") as f:
        f.write(out.getvalue())
    print(name, len(out.getvalue()), "bytes")
