/* Field tables: one description per record (docs/architecture.md, "Records").
 *
 * A record is a C struct; its table lists each field once — name, kind, offset, meaning,
 * and where it is an option of a command, its option name and range. Everything that
 * moves a record across a boundary is driven by the table: the JSON writer (here), the
 * text tables (here), the command-line parser and its --help (cli/), the HDF5 attributes
 * and compound tables and their readers (reports/). Adding a field to a record is one
 * line in its struct and one in its table.
 *
 * In memory an enum is its enum; its name appears only at the boundaries. */
#ifndef MW_RECORD_H
#define MW_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mw_common.h"
#include "mw_json.h"

typedef enum {
    MW_FK_INT,    /* int */
    MW_FK_LONG,   /* long */
    MW_FK_I64,    /* long long */
    MW_FK_U64,    /* uint64_t */
    MW_FK_SIZE,   /* size_t */
    MW_FK_F64,    /* double (see .unit) */
    MW_FK_BOOL,   /* int, 0 or 1; as an option a flag, with --no-<name> for 0 */
    MW_FK_STR,    /* char[.size], NUL-terminated */
    MW_FK_ENUM,   /* an enum, named by .names */
    MW_FK_SET,    /* int[.names->n]: which values are chosen (1) */
    MW_FK_LIST,   /* an array of .elem (INT, U64, F64, ENUM, or STR of .elem_bytes) of
                     capacity .size, its count the int at .count */
    MW_FK_RECORD, /* a record inside the record: .sub */
} mw_kind;

/* The unit of an F64 field: how it is parsed from a command line and shown. */
typedef enum {
    MW_UNIT_NONE = 0,
    MW_UNIT_GFLOP,   /* "50", "50GFLOP", "2TFLOP", "500MFLOP" */
    MW_UNIT_SECONDS, /* a duration with its unit: "30s", "10min", "2h", "1d" (0 alone) */
} mw_unit;

/* Flags of a field. */
enum {
    MW_F_MLP = 1 << 0,       /* a network option of the mlp alone */
    MW_F_REVNET = 1 << 1,    /* a network option of the revnet alone */
    MW_F_SWEPT = 1 << 2,     /* a suite's grid sets it per cell: not a network option there */
    MW_F_NULL_NEG = 1 << 3,  /* an integer below 0 means "none" (JSON null, text "-") */
    MW_F_NEST = 1 << 4,      /* RECORD: a JSON object of its own (else its fields are flat) */
    MW_F_PREFIX = 1 << 5,    /* RECORD: HDF5 names are <name>_<field> (else the field's) */
    MW_F_NO_H5 = 1 << 6,     /* not in HDF5 files (JSON and text only) */
    MW_F_NO_JSON = 1 << 7,   /* not in JSON */
    MW_F_NO_DEFAULT = 1 << 8,/* --help shows no default for it */
};

typedef struct mw_record mw_record;
typedef struct mw_field mw_field;

struct mw_field {
    const char *name;            /* key in files and JSON; NULL ends a table */
    mw_kind kind;
    size_t offset;
    const char *help;            /* meaning and unit; an option's help (may hold \n) */
    size_t size;                 /* STR: buffer bytes; LIST: capacity */
    const mw_names *names;       /* ENUM, SET, LIST of ENUM */
    mw_kind elem;                /* LIST: the element kind */
    size_t elem_bytes;           /* LIST of STR: bytes of each string */
    size_t count;                /* LIST: offset of its int count */
    const mw_record *sub;        /* RECORD */
    mw_unit unit;                /* F64 */
    unsigned flags;
    const char *opt;             /* the command-line option, NULL: none */
    const char *meta;            /* its value's placeholder (NULL for a flag) */
    double lo, hi;               /* numbers (and list elements): allowed range, when lo < hi */
    /* A file has the field only when this holds of the record (NULL: always). */
    int (*when)(const void *rec);
    /* An option whose value is not one of the kind's own forms (HxW): sets rec. */
    mw_status (*parse)(const mw_field *f, void *rec, const char *value, mw_err *err);
};

struct mw_record {
    const char *name;            /* "network", "step": in messages and the schema */
    size_t size;                 /* sizeof the struct */
    const mw_field *fields;
    const char *help;            /* one line: what a record is */
    /* After reading one from a file: is it whole and sane? (NULL: nothing to check) */
    mw_status (*check)(const void *rec, mw_err *err);
};

#define MW_FIELDS_END {.name = NULL}

/* ---- options ----
 * A group of options: the fields of a record that have an .opt (less those with any of
 * skip's flags), found at offset within a command's state; a heading in --help and a key
 * in a configuration's JSON. With offset2 set, the group has a second record of the same
 * kind (the network group: the mlp's spec and the revnet's): a MW_F_MLP field sets only
 * the first, a MW_F_REVNET field only the second, any other both. A list of groups ends
 * with a NULL record. */
typedef struct mw_optgroup {
    const char *key;          /* the record's key in a configuration's JSON; NULL: none */
    const char *heading;      /* its heading in --help */
    const mw_record *record;
    size_t offset;
    unsigned skip;
    const char *key2;         /* the second record's key */
    size_t offset2;           /* 0: none */
} mw_optgroup;

/* The group's records as members of a configuration object (fields with skip's flags
 * left out). */
void mw_json_group(mw_json *j, const mw_optgroup *g, const void *state);

/* ---- access ---- */

void *mw_field_at(const mw_field *f, void *rec);
const void *mw_field_at_c(const mw_field *f, const void *rec);
/* A number's value (integers, bools and enums too); NaN for other kinds. */
double mw_field_number(const mw_field *f, const void *rec);
void mw_field_set_number(const mw_field *f, void *rec, double v);
/* An integer field's value (int, bool, enum, long, long long, size_t), exactly: where a
 * value may pass 2^53 (files, JSON), not through mw_field_number's double. */
long long mw_field_integer(const mw_field *f, const void *rec);
/* The field named `name` in r, looking into flattened (not MW_F_NEST) sub-records: *base
 * gets the offset of the record that holds it. NULL when there is none. */
const mw_field *mw_record_find(const mw_record *r, const char *name, size_t *base);
/* The bytes of one item of a LIST field. */
size_t mw_field_elem_size(const mw_field *f);
/* Is the field in files for this record (its when, if any)? */
int mw_field_present(const mw_field *f, const void *rec);

/* Is a record that comes from elsewhere (another process's memory) safe to use: every
 * string ends inside its buffer, every enum and set names its own values, every list's
 * count is within its capacity and every integer (and integer list item) within its
 * lo..hi range where it has one (a MW_F_NULL_NEG field may be negative) — in its
 * sub-records too — and then the record's own check passes. MW_OK, or MW_ERR_FORMAT with
 * the field named. */
mw_status mw_record_sane(const mw_record *r, const void *rec, mw_err *err);

/* Do two records differ in any field the files have (in its sub-records too)? Numbers are
 * compared bit for bit, strings and lists whole; with skip_times, fields that hold a
 * measured time (their name holds "seconds") are left out. 1 with the first difference
 * named in why, else 0. */
int mw_record_diff(const mw_record *r, const void *a, const void *b, int skip_times, char *why,
                   size_t n);

/* ---- text ---- */

/* The value as text: numbers as %.3e (integers as integers), non-finite ones as nan/inf,
 * enums by name, lists comma-separated, GFLOP and seconds with their unit. */
const char *mw_field_text(const mw_field *f, const void *rec, char *buf, size_t n);
/* "1.234e-07", "nan", "inf": never a bare non-finite number. */
const char *mw_fmt(char *buf, size_t n, double v);
/* 90 s, 12 min, 3.5 h, 4 days, 2.1 years. */
const char *mw_fmt_seconds(char *buf, size_t n, double s);

/* Parse text into the field (an option's value, a list item): ranges, enum names (with
 * the allowed ones and the nearest in the message), lists (no empty or repeated item),
 * units. On failure the message starts with "--<opt> <value>: ". */
mw_status mw_field_parse(const mw_field *f, void *rec, const char *text, mw_err *err);

/* An option's parser for a field of two ints, h and w: "HxW". */
mw_status mw_parse_hxw(const mw_field *f, void *rec, const char *value, mw_err *err);

/* ---- JSON ---- */

/* The record as a JSON object under key (NULL inside arrays), or its members into the
 * object being written. Non-finite numbers are null (JSON has no NaN). */
void mw_json_record(mw_json *j, const char *key, const mw_record *r, const void *rec);
void mw_json_members(mw_json *j, const mw_record *r, const void *rec);
/* The same without the fields that have any of skip's flags. */
void mw_json_members_except(mw_json *j, const mw_record *r, const void *rec, unsigned skip);

/* ---- text tables ---- */

typedef struct mw_column {
    const char *field;  /* a field of the row's record (flattened names) */
    const char *head;   /* header text */
    int width;          /* negative: left-aligned */
    const char *fmt;    /* printf format of a number; NULL: by the field's kind */
    int (*applies)(const void *row); /* NULL, or when it gives 0 the cell is "-" */
    int one_minus;      /* show 1 - value (cosine as 1-cosine), rounding's few ulps below 0
                           shown as 0 */
    int (*meaningless)(const void *row); /* NULL, or when it gives 1 the cell is "n/a": a
                                            value measured that says nothing */
} mw_column;

/* A header or a row, without the newline (the caller may add a last column of its own).
 * The last column, when left-aligned, is not padded. */
void mw_table_head(FILE *f, const char *indent, const mw_column *cols, int n);
void mw_table_row(FILE *f, const char *indent, const mw_column *cols, int n,
                  const mw_record *r, const void *row);

/* ---- a schema listing: every field of the record, its kind and meaning (markdown) ---- */

void mw_record_schema(FILE *f, const mw_record *r, int h5);

#endif
