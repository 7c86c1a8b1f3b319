/* Tests of records/: the field tables of every record are well formed, and the machinery
 * that drives them (parsing, text, JSON, lookup, tables) does what mw_record.h says, on
 * a record of every kind defined here. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonr.h"
#include "records.h"
#include "testutil.h"

/* ---- the tables of mwverify's own records ---- */

static const mw_record *const all_records[] = {
    &mw_spec_record,   &mw_engine_info_record, &mw_metrics_record, &mw_oracle_record,
    &mw_step_record,   &mw_epoch_record,       &mw_proj_record,    &mw_network_record,
    &mw_run_record,    &mw_summary_record,     &mw_fit_record,     &mw_ratio_record,
    &mw_layer_check_record, &mw_meta_record,
};

static size_t scalar_bytes(mw_kind k)
{
    switch (k) {
    case MW_FK_LONG: return sizeof(long);
    case MW_FK_I64: return sizeof(long long);
    case MW_FK_U64: return sizeof(uint64_t);
    case MW_FK_SIZE: return sizeof(size_t);
    case MW_FK_F64: return sizeof(double);
    default: return sizeof(int);
    }
}

/* The names a file gives the record's fields (flattened, with prefixes), collected to
 * check that no two collide. */
static void h5_names(const mw_record *r, const char *prefix, char names[][96], int *n)
{
    for (const mw_field *f = r->fields; f->name; f++) {
        if (f->flags & MW_F_NO_H5)
            continue;
        char name[96];
        snprintf(name, sizeof name, "%s%s", prefix, f->name);
        if (f->kind == MW_FK_RECORD) {
            char sub[96];
            snprintf(sub, sizeof sub, "%s", (f->flags & MW_F_PREFIX) ? name : prefix);
            if (f->flags & MW_F_PREFIX)
                strncat(sub, "_", sizeof sub - strlen(sub) - 1);
            h5_names(f->sub, sub, names, n);
            continue;
        }
        ck_assert_int_lt(*n, 256);
        for (int i = 0; i < *n; i++)
            ck_assert_msg(strcmp(names[i], name) != 0, "record '%s': '%s' twice in files",
                          r->name, name);
        snprintf(names[(*n)++], 96, "%s", name);
    }
}

/* Every field lies inside its struct, has what its kind needs, and its help; no two
 * fields of a record share a name in files or an option. */
START_TEST(tables_well_formed)
{
    for (size_t i = 0; i < sizeof all_records / sizeof *all_records; i++) {
        const mw_record *r = all_records[i];
        ck_assert(r->name && r->help && r->size > 0);
        for (const mw_field *f = r->fields; f->name; f++) {
            size_t bytes = scalar_bytes(f->kind);
            if (f->kind == MW_FK_STR)
                bytes = f->size;
            else if (f->kind == MW_FK_RECORD)
                bytes = f->sub ? f->sub->size : 0;
            else if (f->kind == MW_FK_SET)
                bytes = f->names ? (size_t)f->names->n * sizeof(int) : 0;
            else if (f->kind == MW_FK_LIST)
                bytes = f->size * (f->elem == MW_FK_STR ? f->elem_bytes : scalar_bytes(f->elem));
            ck_assert_msg(bytes > 0 && f->offset + bytes <= r->size,
                          "%s.%s lies outside its struct", r->name, f->name);
            ck_assert_msg(f->help && *f->help, "%s.%s has no help", r->name, f->name);
            if (f->kind == MW_FK_ENUM || f->kind == MW_FK_SET ||
                (f->kind == MW_FK_LIST && f->elem == MW_FK_ENUM))
                ck_assert_msg(f->names != NULL, "%s.%s: no names", r->name, f->name);
            if (f->kind == MW_FK_LIST)
                ck_assert_msg(f->count + sizeof(int) <= r->size && f->size > 0,
                              "%s.%s: no count", r->name, f->name);
            if (f->opt)
                for (const mw_field *g = r->fields; g != f; g++)
                    ck_assert_msg(!g->opt || strcmp(g->opt, f->opt) != 0,
                                  "%s: option --%s twice", r->name, f->opt);
            if (f->lo < f->hi)
                ck_assert_msg(f->kind != MW_FK_STR && f->kind != MW_FK_ENUM,
                              "%s.%s: a range on a non-number", r->name, f->name);
        }
        char names[256][96];
        int n = 0;
        h5_names(r, "", names, &n);
        ck_assert_int_gt(n, 0);
    }
}
END_TEST

/* ---- the machinery, on a record of every kind ---- */

typedef enum { COLOR_RED = 0, COLOR_GREEN, COLOR_BLUE } color;
static const char *const color_names_[] = {"red", "green", "blue"};
static const mw_alias color_aliases[] = {{"crimson", COLOR_RED}, {NULL, 0}};
static const mw_names color_names = {"color", color_names_, 3, color_aliases};

typedef struct inner {
    double x;
    int k;
} inner;

typedef struct thing {
    int i;
    long l;
    long long big;
    uint64_t seed;
    size_t sz;
    double f, budget, wait;
    int flag;
    char label[8];
    color c;
    int palette[3];
    int depths[4], n_depths;
    color hues[3];
    int n_hues;
    inner in, pre;
    int hw[2];
} thing;

#define T(m) offsetof(thing, m)
static const mw_field inner_fields[] = {
    {"x", MW_FK_F64, offsetof(inner, x), "a number", .flags = 0},
    {"k", MW_FK_INT, offsetof(inner, k), "a count", .flags = MW_F_NULL_NEG},
    MW_FIELDS_END,
};
static const mw_record inner_record = {"inner", sizeof(inner), inner_fields, "inside", NULL};
static const mw_field thing_fields[] = {
    {"i", MW_FK_INT, T(i), "ranged", .opt = "i", .lo = 1, .hi = 10},
    {"l", MW_FK_LONG, T(l), "long", .flags = 0},
    {"big", MW_FK_I64, T(big), "beyond 2^53", .opt = "big"},
    {"seed", MW_FK_U64, T(seed), "seed", .opt = "seed"},
    {"sz", MW_FK_SIZE, T(sz), "size", .opt = "sz"},
    {"f", MW_FK_F64, T(f), "ranged number", .opt = "f", .lo = 0, .hi = 1},
    {"budget", MW_FK_F64, T(budget), "GFLOP", .opt = "budget", .unit = MW_UNIT_GFLOP},
    {"wait", MW_FK_F64, T(wait), "seconds", .opt = "wait", .unit = MW_UNIT_SECONDS,
     .lo = 0, .hi = 86400},
    {"flag", MW_FK_BOOL, T(flag), "yes or no", .opt = "flag"},
    {"label", MW_FK_STR, T(label), "short text", .size = 8, .opt = "label"},
    {"c", MW_FK_ENUM, T(c), "an enum", .names = &color_names, .opt = "color"},
    {"palette", MW_FK_SET, T(palette), "a set", .names = &color_names, .opt = "palette"},
    {"depths", MW_FK_LIST, T(depths), "int list", .elem = MW_FK_INT, .size = 4,
     .count = T(n_depths), .lo = 1, .hi = 100, .opt = "depth"},
    {"hues", MW_FK_LIST, T(hues), "enum list", .elem = MW_FK_ENUM, .names = &color_names,
     .size = 3, .count = T(n_hues), .opt = "hue"},
    {"in", MW_FK_RECORD, T(in), "nested", .sub = &inner_record, .flags = MW_F_NEST},
    {"pre", MW_FK_RECORD, T(pre), "flattened", .sub = &inner_record},
    {"image", MW_FK_INT, T(hw), "HxW", .opt = "image", .lo = 1, .hi = 64, .parse = mw_parse_hxw},
    MW_FIELDS_END,
};
#undef T
static const mw_record thing_record = {"thing", sizeof(thing), thing_fields, "a test", NULL};

static const mw_field *field(const char *name)
{
    size_t base = 0;
    const mw_field *f = mw_record_find(&thing_record, name, &base);
    ck_assert_msg(f != NULL && base == 0, "no field %s", name);
    return f;
}

/* Parse text into a fresh thing's field; return the status and leave the message. */
static mw_status parse(thing *t, const char *name, const char *text, mw_err *err)
{
    memset(err, 0, sizeof *err);
    return mw_field_parse(field(name), t, text, err);
}

static void refused(const char *name, const char *text, const char *want)
{
    thing t;
    memset(&t, 0, sizeof t);
    thing before = t;
    mw_err err;
    ck_assert_msg(parse(&t, name, text, &err) == MW_ERR_ARG, "%s %s accepted", name, text);
    ck_assert_msg(strstr(err.msg, want) != NULL, "%s %s: '%s' lacks '%s'", name, text, err.msg,
                  want);
    ck_assert_msg(strchr(err.msg, '\n') == NULL, "a message of more than one line: %s", err.msg);
    ck_assert_msg(memcmp(&t, &before, sizeof t) == 0, "%s %s: a refused value changed the record",
                  name, text);
}

START_TEST(parse_values)
{
    thing t;
    memset(&t, 0, sizeof t);
    mw_err err;
    ck_assert(parse(&t, "i", "10", &err) == MW_OK && t.i == 10);
    ck_assert(parse(&t, "big", "9007199254740993", &err) == MW_OK && t.big == 9007199254740993LL);
    ck_assert(parse(&t, "seed", "18446744073709551615", &err) == MW_OK &&
              t.seed == UINT64_MAX);
    ck_assert(parse(&t, "f", "0.25", &err) == MW_OK && t.f == 0.25);
    ck_assert(parse(&t, "budget", "2TFLOP", &err) == MW_OK && t.budget == 2000.0);
    ck_assert(parse(&t, "budget", "500MFLOP", &err) == MW_OK && t.budget == 0.5);
    ck_assert(parse(&t, "budget", "50", &err) == MW_OK && t.budget == 50.0);
    ck_assert(parse(&t, "wait", "10min", &err) == MW_OK && t.wait == 600.0);
    ck_assert(parse(&t, "wait", "2h", &err) == MW_OK && t.wait == 7200.0);
    ck_assert(parse(&t, "wait", "0", &err) == MW_OK && t.wait == 0.0);
    ck_assert(parse(&t, "flag", "yes", &err) == MW_OK && t.flag == 1);
    ck_assert(parse(&t, "flag", "0", &err) == MW_OK && t.flag == 0);
    ck_assert(parse(&t, "label", "abcdefg", &err) == MW_OK && strcmp(t.label, "abcdefg") == 0);
    ck_assert(parse(&t, "c", "blue", &err) == MW_OK && t.c == COLOR_BLUE);
    ck_assert(parse(&t, "c", "crimson", &err) == MW_OK && t.c == COLOR_RED); /* an alias */
    ck_assert(parse(&t, "palette", "blue,red", &err) == MW_OK);
    ck_assert(t.palette[0] == 1 && t.palette[1] == 0 && t.palette[2] == 1);
    ck_assert(parse(&t, "palette", "all", &err) == MW_OK);
    ck_assert(t.palette[0] && t.palette[1] && t.palette[2]);
    ck_assert(parse(&t, "depths", "3,1,100", &err) == MW_OK && t.n_depths == 3);
    ck_assert(t.depths[0] == 3 && t.depths[1] == 1 && t.depths[2] == 100);
    ck_assert(parse(&t, "hues", "green", &err) == MW_OK && t.n_hues == 1 && t.hues[0] == COLOR_GREEN);
    ck_assert(parse(&t, "image", "14x12", &err) == MW_OK && t.hw[0] == 14 && t.hw[1] == 12);
}
END_TEST

START_TEST(parse_refusals)
{
    refused("i", "0", "--i 0: allowed an integer 1..10");
    refused("i", "11", "1..10");
    refused("i", "3x", "1..10");
    refused("i", "", "1..10");
    refused("seed", "-1", "0..18446744073709551615");
    refused("seed", "18446744073709551616", "0..");
    refused("sz", "-3", "0..");
    refused("f", "1.5", "allowed a number in [0, 1]");
    refused("f", "nan", "[0, 1]");
    refused("f", "0.5x", "[0, 1]");
    refused("budget", "inf", "not a finite number");
    refused("budget", "5 apples", "give GFLOP");
    refused("wait", "30", "give a duration with its unit");
    refused("wait", "2d", "allowed 0 s to 24.0 h");
    refused("flag", "maybe", "allowed yes or no");
    refused("label", "abcdefgh", "longer than 7 characters");
    refused("label", "", "--label: an empty value");
    refused("c", "bleu", "unknown color 'bleu' (allowed: red, green, blue); did you mean blue?");
    refused("c", "zzzzzzzz", "allowed: red, green, blue");
    refused("palette", "red,,blue", "an empty item");
    refused("palette", "red,red", "'red' given twice");
    refused("palette", "red,purple", "unknown color 'purple'");
    refused("depths", "1,2,3,4,5", "at most 4 values");
    refused("depths", "1,0", "--depth 1,0: allowed an integer 1..100");
    refused("depths", "2,", "an empty item");
    refused("hues", "grene", "did you mean green?");
    refused("image", "14", "give HxW");
    refused("image", "14x0", "each 1..64");
    refused("image", "14x14x", "give HxW");
    /* a message never names a list item alone where the whole value was given */
    thing t;
    mw_err err;
    memset(&t, 0, sizeof t);
    ck_assert(parse(&t, "depths", "7,200", &err) == MW_ERR_ARG);
    ck_assert_msg(strncmp(err.msg, "--depth 7,200: ", 15) == 0, "%s", err.msg);
}
END_TEST

static thing sample(void)
{
    thing t;
    memset(&t, 0, sizeof t);
    t.i = 3, t.l = -4, t.big = 1LL << 60, t.seed = UINT64_MAX, t.sz = 7;
    t.f = 0.1, t.budget = NAN, t.wait = 3600, t.flag = 1;
    snprintf(t.label, sizeof t.label, "a\"b");
    t.c = COLOR_GREEN, t.palette[0] = t.palette[2] = 1;
    t.depths[0] = 2, t.depths[1] = 5, t.n_depths = 2;
    t.hues[0] = COLOR_BLUE, t.n_hues = 1;
    t.in = (inner){-INFINITY, -1}, t.pre = (inner){2.5, 9};
    return t;
}

/* JSON: every field under its name, nested records as objects, flattened ones inline,
 * enums and sets by name, non-finite numbers null, integers exact (an unsigned one above 2^53,
 * which readers holding numbers as doubles would round, as a string of its digits). */
START_TEST(json_of_a_record)
{
    thing t = sample();
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    mw_json j;
    mw_json_init(&j, f);
    mw_json_record(&j, NULL, &thing_record, &t);
    ck_assert(mw_json_finish(&j) == 0);
    fclose(f);
    char msg[128];
    jr_value *v = jr_parse(buf, msg, sizeof msg);
    ck_assert_msg(v != NULL, "%s: %s", msg, buf);
    ck_assert(jr_number(jr_get(v, "i")) == 3 && jr_number(jr_get(v, "l")) == -4);
    ck_assert_msg(strstr(buf, "\"big\": 1152921504606846976") &&
                  strstr(buf, "\"seed\": \"18446744073709551615\""), "%s", buf);
    ck_assert(jr_number(jr_get(v, "f")) == 0.1);
    ck_assert(jr_get(v, "budget")->type == JR_NULL);
    ck_assert(jr_get(v, "flag")->type == JR_BOOL && strcmp(jr_get(v, "flag")->text, "true") == 0);
    ck_assert_str_eq(jr_get(v, "label")->text, "a\"b");
    ck_assert_str_eq(jr_get(v, "c")->text, "green");
    const jr_value *p = jr_get(v, "palette");
    ck_assert(p->type == JR_ARRAY && p->n == 2);
    ck_assert_str_eq(p->items[0].text, "red");
    ck_assert_str_eq(p->items[1].text, "blue");
    const jr_value *d = jr_get(v, "depths");
    ck_assert(d->type == JR_ARRAY && d->n == 2 && jr_number(&d->items[1]) == 5);
    ck_assert_str_eq(jr_get(v, "hues")->items[0].text, "blue");
    const jr_value *in = jr_get(v, "in");
    ck_assert(in && in->type == JR_OBJECT);
    ck_assert(jr_get(in, "x")->type == JR_NULL && jr_get(in, "k")->type == JR_NULL);
    ck_assert(jr_number(jr_get(v, "x")) == 2.5 && jr_number(jr_get(v, "k")) == 9);
    jr_free(v);
    free(buf);
}
END_TEST

/* Text: by kind, units shown, non-finite never a bare number; lookup through nesting. */
START_TEST(text_and_lookup)
{
    thing t = sample();
    char buf[128];
    ck_assert_str_eq(mw_field_text(field("i"), &t, buf, sizeof buf), "3");
    ck_assert_str_eq(mw_field_text(field("seed"), &t, buf, sizeof buf), "18446744073709551615");
    ck_assert_str_eq(mw_field_text(field("f"), &t, buf, sizeof buf), "1.000e-01");
    ck_assert_str_eq(mw_field_text(field("budget"), &t, buf, sizeof buf), "nan");
    ck_assert_str_eq(mw_field_text(field("wait"), &t, buf, sizeof buf), "60 min");
    ck_assert_str_eq(mw_field_text(field("flag"), &t, buf, sizeof buf), "yes");
    ck_assert_str_eq(mw_field_text(field("c"), &t, buf, sizeof buf), "green");
    ck_assert_str_eq(mw_field_text(field("palette"), &t, buf, sizeof buf), "red,blue");
    ck_assert_str_eq(mw_field_text(field("depths"), &t, buf, sizeof buf), "2,5");
    t.budget = 12.5;
    ck_assert_str_eq(mw_field_text(field("budget"), &t, buf, sizeof buf), "12.5 GFLOP");
    /* a nested record's fields by dotted name; a flattened one's by their own */
    size_t base = 0;
    const mw_field *f = mw_record_find(&thing_record, "in.k", &base);
    ck_assert(f && base == offsetof(thing, in));
    ck_assert_str_eq(mw_field_text(f, (const char *)&t + base, buf, sizeof buf), "-");
    f = mw_record_find(&thing_record, "x", &base);
    ck_assert(f && base == offsetof(thing, pre) && mw_field_number(f, (char *)&t + base) == 2.5);
    ck_assert(mw_record_find(&thing_record, "nothing", &base) == NULL);
    ck_assert(mw_record_find(&thing_record, "i.x", &base) == NULL);
    ck_assert_str_eq(mw_fmt(buf, sizeof buf, -INFINITY), "-inf");
    ck_assert_str_eq(mw_fmt_seconds(buf, sizeof buf, 4 * 86400), "4 days");
}
END_TEST

/* A text table: columns by field, "-" where a column does not apply, 1 - cosine. */
static int never(const void *row)
{
    (void)row;
    return 0;
}

static int always(const void *row)
{
    (void)row;
    return 1;
}

START_TEST(text_tables)
{
    thing t = sample();
    t.pre.x = 0.75;
    const mw_column cols[] = {
        {"i", "i", 3, NULL, NULL, 0, NULL},
        {"x", "1-x", 9, "%.2e", NULL, 1, NULL},
        {"c", "c", 6, NULL, never, 0, NULL},
        {"i", "ulp", 4, NULL, NULL, 0, always},
        {"label", "label", -8, NULL, NULL, 0, NULL},
    };
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    mw_table_head(f, "  ", cols, 5);
    fputc('\n', f);
    mw_table_row(f, "  ", cols, 5, &thing_record, &t);
    fputc('\n', f);
    t.pre.x = 1.0 + 0x1p-52; /* a cosine rounded over 1: 1-x is 0, not -2.2e-16 */
    mw_table_row(f, "  ", cols, 5, &thing_record, &t);
    fputc('\n', f);
    t.pre.x = 1.0 + 0x1p-40; /* beyond rounding: shown as it is */
    mw_table_row(f, "  ", cols, 5, &thing_record, &t);
    fclose(f);
    ck_assert_str_eq(buf, "    i       1-x      c  ulp label\n"
                          "    3  2.50e-01      -  n/a a\"b\n"
                          "    3  0.00e+00      -  n/a a\"b\n"
                          "    3 -9.09e-13      -  n/a a\"b");
    free(buf);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("records");
    TCase *tc = tcase_create("records");
    tcase_add_test(tc, tables_well_formed);
    tcase_add_test(tc, parse_values);
    tcase_add_test(tc, parse_refusals);
    tcase_add_test(tc, json_of_a_record);
    tcase_add_test(tc, text_and_lookup);
    tcase_add_test(tc, text_tables);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
