/* A record schema using every Avro type, shared by the Avro fuzz targets so both reach every
 * branch of the codecs. */
#ifndef HS_FUZZ_ALL_TYPES_H
#define HS_FUZZ_ALL_TYPES_H

static const char ALL_TYPES[] =
    "{\"type\":\"record\",\"name\":\"All\",\"namespace\":\"fuzz\",\"fields\":["
    "{\"name\":\"b\",\"type\":\"boolean\",\"default\":false},"
    "{\"name\":\"i\",\"type\":\"int\",\"default\":0},"
    "{\"name\":\"l\",\"type\":\"long\",\"default\":0},"
    "{\"name\":\"f\",\"type\":\"float\",\"default\":0},"
    "{\"name\":\"d\",\"type\":\"double\",\"default\":0},"
    "{\"name\":\"by\",\"type\":\"bytes\",\"default\":\"\"},"
    "{\"name\":\"s\",\"type\":\"string\",\"default\":\"\"},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"]},"
    "\"default\":\"A\"},"
    "{\"name\":\"fx\",\"type\":{\"type\":\"fixed\",\"name\":\"F\",\"size\":2},\"default\":\"ab\"},"
    "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":[\"null\",\"int\",\"string\"]},"
    "\"default\":[]},"
    "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"All\"},\"default\":{}},"
    "{\"name\":\"u\",\"type\":[\"null\",\"long\",\"double\",\"E\",\"F\",\"All\"],"
    "\"default\":null}]}";

#endif
