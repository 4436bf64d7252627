/* The SQL text of an analytics flush (schemas/sql/006_analytics.sql has the tables): the
 * offsets statement that moves a group's stored offsets only from the values this instance last
 * read or wrote (so a member that lost its partitions cannot commit over the new owner), the COPY
 * rows of the touched minute windows, the upserts that add them to the minute and hour tables,
 * and the same for low-stock levels. Pure text building, so each piece is unit-tested. */
#ifndef AN_SQL_H
#define AN_SQL_H

#include <stddef.h>
#include <stdint.h>

#include "an_agg.h"

/* A growable text buffer; zero-initialise, free with an_buf_free. */
typedef struct {
    char *s;
    size_t len, cap;
} an_buf_t;

void an_buf_free(an_buf_t *b);
void an_buf_add(an_buf_t *b, const char *s, size_t len);
void an_buf_puts(an_buf_t *b, const char *s);
void an_buf_printf(an_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One partition's stored offset moving from expected (-1: no row yet) to next. */
typedef struct {
    const char *topic;
    int32_t partition;
    int64_t expected, next;
} an_offset_t;

/* Appends a statement returning one row, one column: how many of the n offsets it moved. Fewer
 * than n means another member moved them first: the transaction must roll back. */
void an_sql_offsets(an_buf_t *b, const char *group, const an_offset_t *offs, size_t n);
/* Reads the stored offsets of group: params $1 group; rows (topic, partition, next_offset). */
extern const char an_sql_offsets_read[];

/* The session's temp table the windows are copied into (ON COMMIT DELETE ROWS), its COPY
 * statement, and the upserts that add it to analytics_minute and analytics_hourly. */
const char *an_sql_delta_create(void);
const char *an_sql_delta_copy(void);
const char *an_sql_upsert_minute(void);
const char *an_sql_upsert_hourly(void);
/* Appends the COPY text rows (tab-separated, \N for NULL) of n windows. */
void an_sql_copy_rows(an_buf_t *b, const an_window_t *w, size_t n);

/* The session's temp table stock levels are copied into, its COPY statement, the upsert of the
 * inventory.low levels (the later event wins) and the update that applies the inventory.updated
 * levels to the SKUs at that location already marked low, when newer. */
const char *an_sql_stock_create(void);
const char *an_sql_stock_copy(void);
extern const char an_sql_stock_low[];
extern const char an_sql_stock_levels[];
/* Appends the COPY text rows of n levels, low (inventory.low) or not (inventory.updated). */
void an_sql_stock_rows(an_buf_t *b, int low, const an_stock_t *s, size_t n);

/* Appends s as an SQL string literal ('...', quotes doubled; standard_conforming_strings). */
void an_sql_literal(an_buf_t *b, const char *s);
/* Appends unix ms as a timestamptz literal text "2024-05-01 12:00:00.123+00" (no quotes). */
void an_sql_time(an_buf_t *b, int64_t ms);

#endif
