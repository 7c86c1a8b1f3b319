/* Field tables (mw_record.h): access, text, parsing, JSON and text tables, for any record. */
#include "mw_record.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void *mw_field_at(const mw_field *f, void *rec)
{
    return (char *)rec + f->offset;
}

const void *mw_field_at_c(const mw_field *f, const void *rec)
{
    return (const char *)rec + f->offset;
}

/* The value of one element of kind k at p (a field, or an item of a list). */
static double number_at(mw_kind k, const void *p)
{
    switch (k) {
    case MW_FK_INT:
    case MW_FK_BOOL:
    case MW_FK_ENUM: return *(const int *)p;
    case MW_FK_LONG: return (double)*(const long *)p;
    case MW_FK_I64: return (double)*(const long long *)p;
    case MW_FK_U64: return (double)*(const uint64_t *)p;
    case MW_FK_SIZE: return (double)*(const size_t *)p;
    case MW_FK_F64: return *(const double *)p;
    default: return NAN;
    }
}

static void set_number_at(mw_kind k, void *p, double v)
{
    switch (k) {
    case MW_FK_INT:
    case MW_FK_BOOL:
    case MW_FK_ENUM: *(int *)p = (int)v; break;
    case MW_FK_LONG: *(long *)p = (long)v; break;
    case MW_FK_I64: *(long long *)p = (long long)v; break;
    case MW_FK_U64: *(uint64_t *)p = (uint64_t)v; break;
    case MW_FK_SIZE: *(size_t *)p = (size_t)v; break;
    case MW_FK_F64: *(double *)p = v; break;
    default: break;
    }
}

size_t mw_field_elem_size(const mw_field *f)
{
    if (f->elem == MW_FK_STR)
        return f->elem_bytes;
    switch (f->elem) {
    case MW_FK_U64: return sizeof(uint64_t);
    case MW_FK_F64: return sizeof(double);
    case MW_FK_I64: return sizeof(long long);
    case MW_FK_LONG: return sizeof(long);
    case MW_FK_SIZE: return sizeof(size_t);
    default: return sizeof(int);
    }
}

double mw_field_number(const mw_field *f, const void *rec)
{
    return number_at(f->kind, mw_field_at_c(f, rec));
}

void mw_field_set_number(const mw_field *f, void *rec, double v)
{
    set_number_at(f->kind, mw_field_at(f, rec), v);
}

long long mw_field_integer(const mw_field *f, const void *rec)
{
    const void *p = mw_field_at_c(f, rec);
    switch (f->kind) {
    case MW_FK_LONG: return *(const long *)p;
    case MW_FK_I64: return *(const long long *)p;
    case MW_FK_U64: return (long long)*(const uint64_t *)p;
    case MW_FK_SIZE: return (long long)*(const size_t *)p;
    default: return *(const int *)p;
    }
}

int mw_field_present(const mw_field *f, const void *rec)
{
    return !f->when || f->when(rec);
}

static int is_integer_kind(mw_kind k)
{
    return k == MW_FK_INT || k == MW_FK_LONG || k == MW_FK_I64 || k == MW_FK_U64 ||
           k == MW_FK_SIZE;
}

/* One value of kind k at p (a field, or an item of a list), as mw_record_sane checks it. */
static mw_status item_sane(const mw_record *r, const mw_field *f, mw_kind k, const void *p,
                           size_t str_bytes, mw_err *err)
{
    if (k == MW_FK_STR) {
        if (!memchr(p, '\0', str_bytes))
            return mw_err_set(err, MW_ERR_FORMAT, "%s.%s: a string without its end", r->name,
                              f->name);
    } else if (k == MW_FK_ENUM) {
        int v = *(const int *)p;
        if (v < 0 || v >= f->names->n || !f->names->names[v])
            return mw_err_set(err, MW_ERR_FORMAT, "%s.%s: %d is no %s", r->name, f->name, v,
                              f->names->what);
    } else if (k == MW_FK_BOOL) {
        if (*(const int *)p != 0 && *(const int *)p != 1)
            return mw_err_set(err, MW_ERR_FORMAT, "%s.%s: %d is not 0 or 1", r->name, f->name,
                              *(const int *)p);
    } else if (is_integer_kind(k) && f->lo < f->hi) {
        double v = number_at(k, p);
        if (!((f->flags & MW_F_NULL_NEG) && v < 0) && (v < f->lo || v > f->hi))
            return mw_err_set(err, MW_ERR_FORMAT, "%s.%s: %.0f is outside %.0f..%.0f", r->name,
                              f->name, v, f->lo, f->hi);
    }
    return MW_OK;
}

mw_status mw_record_sane(const mw_record *r, const void *rec, mw_err *err)
{
    for (const mw_field *f = r->fields; f->name; f++) {
        const void *p = mw_field_at_c(f, rec);
        mw_status st = MW_OK;
        switch (f->kind) {
        case MW_FK_RECORD: st = mw_record_sane(f->sub, p, err); break;
        case MW_FK_SET:
            for (int i = 0; i < f->names->n && st == MW_OK; i++)
                if (((const int *)p)[i] != 0 && ((const int *)p)[i] != 1)
                    st = mw_err_set(err, MW_ERR_FORMAT, "%s.%s: item %d is not 0 or 1", r->name,
                                    f->name, i);
            break;
        case MW_FK_LIST: {
            int count = *(const int *)((const char *)rec + f->count);
            if (count < 0 || (size_t)count > f->size)
                return mw_err_set(err, MW_ERR_FORMAT, "%s.%s: %d items in a list of at most %zu",
                                  r->name, f->name, count, f->size);
            for (int i = 0; i < count && st == MW_OK; i++)
                st = item_sane(r, f, f->elem,
                               (const char *)p + (size_t)i * mw_field_elem_size(f),
                               f->elem_bytes, err);
            break;
        }
        default:
            if (mw_field_present(f, rec))
                st = item_sane(r, f, f->kind, p, f->size, err);
            else if (f->kind == MW_FK_STR || f->kind == MW_FK_ENUM)
                st = item_sane(r, f, f->kind, p, f->size, err); /* absent, but still read */
            break;
        }
        if (st != MW_OK)
            return st;
    }
    return r->check ? r->check(rec, err) : MW_OK;
}

const mw_field *mw_record_find(const mw_record *r, const char *name, size_t *base)
{
    const char *dot = strchr(name, '.');
    size_t head = dot ? (size_t)(dot - name) : strlen(name);
    for (const mw_field *f = r->fields; f->name; f++) {
        if (strlen(f->name) == head && strncmp(f->name, name, head) == 0) {
            if (!dot) {
                *base = 0;
                return f;
            }
            if (f->kind != MW_FK_RECORD)
                return NULL;
            const mw_field *g = mw_record_find(f->sub, dot + 1, base);
            if (g)
                *base += f->offset;
            return g;
        }
        if (f->kind == MW_FK_RECORD && !(f->flags & MW_F_NEST)) {
            const mw_field *g = mw_record_find(f->sub, name, base);
            if (g) {
                *base += f->offset;
                return g;
            }
        }
    }
    return NULL;
}

/* ---- text ---- */

const char *mw_fmt(char *buf, size_t n, double v)
{
    if (isnan(v))
        snprintf(buf, n, "nan");
    else if (!isfinite(v))
        snprintf(buf, n, v > 0 ? "inf" : "-inf");
    else
        snprintf(buf, n, "%.3e", v);
    return buf;
}

const char *mw_fmt_seconds(char *buf, size_t n, double s)
{
    if (!isfinite(s))
        return mw_fmt(buf, n, s);
    if (s < 120)
        snprintf(buf, n, "%.3g s", s);
    else if (s < 7200)
        snprintf(buf, n, "%.0f min", s / 60);
    else if (s < 3 * 86400)
        snprintf(buf, n, "%.1f h", s / 3600);
    else if (s < 365 * 86400)
        snprintf(buf, n, "%.0f days", s / 86400);
    else
        snprintf(buf, n, "%.3g years", s / (365.25 * 86400));
    return buf;
}

/* One list item or scalar of kind k at p as text. */
static void item_text(mw_kind k, const mw_names *names, const void *p, char *buf, size_t n)
{
    switch (k) {
    case MW_FK_ENUM: snprintf(buf, n, "%s", mw_name_of(names, *(const int *)p)); break;
    case MW_FK_U64: snprintf(buf, n, "%" PRIu64, *(const uint64_t *)p); break;
    case MW_FK_F64: snprintf(buf, n, "%g", *(const double *)p); break;
    case MW_FK_STR: snprintf(buf, n, "%s", (const char *)p); break;
    default: snprintf(buf, n, "%.0f", number_at(k, p)); break;
    }
}

const char *mw_field_text(const mw_field *f, const void *rec, char *buf, size_t n)
{
    const void *p = mw_field_at_c(f, rec);
    buf[0] = '\0';
    switch (f->kind) {
    case MW_FK_INT:
    case MW_FK_LONG:
    case MW_FK_I64:
    case MW_FK_SIZE: {
        double v = mw_field_number(f, rec);
        if ((f->flags & MW_F_NULL_NEG) && v < 0)
            snprintf(buf, n, "-");
        else
            item_text(f->kind, NULL, p, buf, n);
        break;
    }
    case MW_FK_U64:
    case MW_FK_ENUM: item_text(f->kind, f->names, p, buf, n); break;
    case MW_FK_F64: {
        double v = *(const double *)p;
        if (f->unit == MW_UNIT_GFLOP && isfinite(v))
            snprintf(buf, n, "%g GFLOP", v);
        else if (f->unit == MW_UNIT_SECONDS)
            mw_fmt_seconds(buf, n, v);
        else
            mw_fmt(buf, n, v);
        break;
    }
    case MW_FK_BOOL: snprintf(buf, n, "%s", *(const int *)p ? "yes" : "no"); break;
    case MW_FK_STR: snprintf(buf, n, "%s", (const char *)p); break;
    case MW_FK_SET: {
        size_t used = 0;
        for (int v = 0; v < f->names->n && used < n; v++)
            if (((const int *)p)[v])
                used += (size_t)snprintf(buf + used, n - used, "%s%s", used ? "," : "",
                                         mw_name_of(f->names, v));
        break;
    }
    case MW_FK_LIST: {
        int count = *(const int *)((const char *)rec + f->count);
        size_t used = 0, es = mw_field_elem_size(f);
        for (int i = 0; i < count && used < n; i++) {
            char item[64];
            item_text(f->elem, f->names, (const char *)p + (size_t)i * es, item, sizeof item);
            used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? "," : "", item);
        }
        break;
    }
    case MW_FK_RECORD: break;
    }
    return buf;
}

/* ---- parsing ---- */

static const char *opt_name(const mw_field *f)
{
    return f->opt ? f->opt : f->name;
}

/* Parse one item of kind k (a scalar field, or one element of a list) into p. */
static mw_status parse_item(const mw_field *f, mw_kind k, void *p, const char *item,
                            const char *whole, mw_err *err)
{
    const char *o = opt_name(f);
    const int ranged = f->lo < f->hi;
    char *end;
    errno = 0;
    switch (k) {
    case MW_FK_INT:
    case MW_FK_LONG:
    case MW_FK_I64:
    case MW_FK_SIZE: {
        long long lo = ranged ? (long long)f->lo : (k == MW_FK_INT ? -2147483647LL - 1 : LLONG_MIN);
        long long hi = ranged ? (long long)f->hi : (k == MW_FK_INT ? 2147483647LL : LLONG_MAX);
        if (k == MW_FK_SIZE && !ranged)
            lo = 0;
        long long x = strtoll(item, &end, 10);
        if (*item == '\0' || *end != '\0' || errno == ERANGE || x < lo || x > hi)
            return mw_err_set(err, MW_ERR_ARG, "--%s %s: allowed an integer %lld..%lld", o, whole,
                              lo, hi);
        set_number_at(k, p, (double)x);
        if (k == MW_FK_I64)
            *(long long *)p = x; /* exactly, beyond 2^53 too */
        return MW_OK;
    }
    case MW_FK_U64: {
        unsigned long long x = strtoull(item, &end, 10);
        if (*item == '\0' || *item == '-' || *item == '+' || *end != '\0' || errno == ERANGE)
            return mw_err_set(err, MW_ERR_ARG,
                              "--%s %s: allowed an integer 0..18446744073709551615", o, whole);
        *(uint64_t *)p = (uint64_t)x;
        return MW_OK;
    }
    case MW_FK_F64: {
        double x = strtod(item, &end), scale = 1.0;
        if (end == item || !isfinite(x))
            goto bad_number;
        if (f->unit == MW_UNIT_GFLOP) {
            if (*end == '\0' || strcasecmp(end, "GFLOP") == 0)
                scale = 1.0;
            else if (strcasecmp(end, "MFLOP") == 0)
                scale = 1e-3;
            else if (strcasecmp(end, "TFLOP") == 0)
                scale = 1e3;
            else if (strcasecmp(end, "PFLOP") == 0)
                scale = 1e6;
            else
                return mw_err_set(err, MW_ERR_ARG, "--%s %s: give GFLOP, e.g. 50, 50GFLOP or "
                                  "2TFLOP", o, whole);
        } else if (f->unit == MW_UNIT_SECONDS) {
            if (strcmp(end, "s") == 0 || strcmp(end, "sec") == 0)
                scale = 1.0;
            else if (strcmp(end, "min") == 0)
                scale = 60.0;
            else if (strcmp(end, "h") == 0)
                scale = 3600.0;
            else if (strcmp(end, "d") == 0)
                scale = 86400.0;
            else if (!(*end == '\0' && x == 0.0))
                return mw_err_set(err, MW_ERR_ARG, "--%s %s: give a duration with its unit, "
                                  "e.g. 30s, 10min, 2h or 1d", o, whole);
        } else if (*end != '\0') {
            goto bad_number;
        }
        x *= scale;
        if (ranged && (x < f->lo || x > f->hi))
            goto bad_number;
        *(double *)p = x;
        return MW_OK;
    bad_number:
        if (!ranged)
            return mw_err_set(err, MW_ERR_ARG, "--%s %s: not a finite number", o, whole);
        if (f->unit == MW_UNIT_SECONDS) {
            char a[32], b[32];
            return mw_err_set(err, MW_ERR_ARG, "--%s %s: allowed %s to %s", o, whole,
                              mw_fmt_seconds(a, sizeof a, f->lo), mw_fmt_seconds(b, sizeof b, f->hi));
        }
        return mw_err_set(err, MW_ERR_ARG, "--%s %s: allowed a number in [%g, %g]%s", o, whole,
                          f->lo, f->hi, f->unit == MW_UNIT_GFLOP ? " GFLOP" : "");
    }
    case MW_FK_STR:
        if (strlen(item) >= f->elem_bytes)
            return mw_err_set(err, MW_ERR_ARG, "--%s %s: '%s' is longer than %zu characters", o,
                              whole, item, f->elem_bytes - 1);
        snprintf(p, f->elem_bytes, "%s", item);
        return MW_OK;
    case MW_FK_ENUM: {
        int v;
        if (mw_name_parse(f->names, item, &v) == 0) {
            *(int *)p = v;
            return MW_OK;
        }
        char allowed[256];
        const char *near = mw_nearest(item, f->names->names, (size_t)f->names->n);
        return mw_err_set(err, MW_ERR_ARG, "--%s %s: unknown %s '%s' (allowed: %s)%s%s%s", o,
                          whole, f->names->what, item,
                          mw_names_list(f->names, allowed, sizeof allowed),
                          near ? "; did you mean " : "", near ? near : "", near ? "?" : "");
    }
    default:
        return mw_err_set(err, MW_ERR_ARG, "--%s: not a value of its own", o);
    }
}

/* Split a comma list into items: none empty, at most max. */
static mw_status split_list(const mw_field *f, const char *text, char *buf, size_t buf_len,
                            char **items, int max, int *n, mw_err *err)
{
    const char *o = opt_name(f);
    if (strlen(text) >= buf_len)
        return mw_err_set(err, MW_ERR_ARG, "--%s: the list is too long", o);
    strcpy(buf, text);
    *n = 0;
    char *p = buf;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (*p == '\0')
            return mw_err_set(err, MW_ERR_ARG, "--%s '%s': an empty item; give a comma list "
                              "without gaps, e.g. 1,2", o, text);
        if (*n == max)
            return mw_err_set(err, MW_ERR_ARG, "--%s %s: at most %d values", o, text, max);
        items[(*n)++] = p;
        if (!comma)
            return MW_OK;
        p = comma + 1;
    }
}

mw_status mw_field_parse(const mw_field *f, void *rec, const char *text, mw_err *err)
{
    if (f->parse)
        return f->parse(f, rec, text, err);
    void *p = mw_field_at(f, rec);
    const char *o = opt_name(f);
    switch (f->kind) {
    case MW_FK_BOOL:
        if (strcmp(text, "1") == 0 || strcmp(text, "true") == 0 || strcmp(text, "yes") == 0)
            return *(int *)p = 1, MW_OK;
        if (strcmp(text, "0") == 0 || strcmp(text, "false") == 0 || strcmp(text, "no") == 0)
            return *(int *)p = 0, MW_OK;
        return mw_err_set(err, MW_ERR_ARG, "--%s %s: allowed yes or no", o, text);
    case MW_FK_STR:
        if (text[0] == '\0')
            return mw_err_set(err, MW_ERR_ARG, "--%s: an empty value", o);
        if (strlen(text) >= f->size)
            return mw_err_set(err, MW_ERR_ARG, "--%s: longer than %zu characters", o,
                              f->size - 1);
        snprintf(p, f->size, "%s", text);
        return MW_OK;
    case MW_FK_SET:
    case MW_FK_LIST: {
        char buf[1024], *items[256];
        int n = 0, cap = f->kind == MW_FK_SET ? f->names->n : (int)f->size;
        int *flags = p;
        mw_status st = split_list(f, text, buf, sizeof buf, items, 256, &n, err);
        if (st != MW_OK)
            return st;
        if (f->kind == MW_FK_SET && n == 1 && strcmp(items[0], "all") == 0) {
            for (int v = 0; v < f->names->n; v++)
                flags[v] = 1;
            return MW_OK;
        }
        if (n > cap)
            return mw_err_set(err, MW_ERR_ARG, "--%s %s: at most %d values", o, text, cap);
        size_t es = mw_field_elem_size(f);
        char scratch[256 * sizeof(uint64_t)];
        if ((size_t)n * (es > sizeof(int) ? es : sizeof(int)) > sizeof scratch)
            return mw_err_set(err, MW_ERR_ARG, "--%s: the list is too long", o);
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < i; k++)
                if (strcmp(items[k], items[i]) == 0)
                    return mw_err_set(err, MW_ERR_ARG, "--%s %s: '%s' given twice", o, text,
                                      items[i]);
            if (f->kind == MW_FK_SET) {
                int v;
                mw_field item_field = *f;
                item_field.kind = MW_FK_ENUM;
                if ((st = parse_item(&item_field, MW_FK_ENUM, &v, items[i], text, err)) != MW_OK)
                    return st;
                ((int *)scratch)[i] = v;
            } else if ((st = parse_item(f, f->elem, scratch + (size_t)i * es, items[i], text,
                                        err)) != MW_OK) {
                return st;
            }
        }
        if (f->kind == MW_FK_SET) {
            for (int v = 0; v < f->names->n; v++)
                flags[v] = 0;
            for (int i = 0; i < n; i++)
                flags[((int *)scratch)[i]] = 1;
        } else {
            memcpy(p, scratch, (size_t)n * es);
            *(int *)((char *)rec + f->count) = n;
        }
        return MW_OK;
    }
    case MW_FK_RECORD:
        return mw_err_set(err, MW_ERR_ARG, "--%s: not an option", o);
    default:
        return parse_item(f, f->kind, p, text, text, err);
    }
}

mw_status mw_parse_hxw(const mw_field *f, void *rec, const char *v, mw_err *err)
{
    int *hw = mw_field_at(f, rec); /* h, then w */
    char *end;
    long a = strtol(v, &end, 10), b = -1;
    if (end != v && (*end == 'x' || *end == 'X')) {
        const char *q = end + 1;
        b = strtol(q, &end, 10);
        if (end == q)
            b = -1;
    }
    const long lo = f->lo < f->hi ? (long)f->lo : 1, hi = f->lo < f->hi ? (long)f->hi : 4096;
    if (a < lo || a > hi || b < lo || b > hi || *end != '\0')
        return mw_err_set(err, MW_ERR_ARG, "--%s %s: give HxW, e.g. 14x14, each %ld..%ld",
                          opt_name(f), v, lo, hi);
    hw[0] = (int)a, hw[1] = (int)b;
    return MW_OK;
}

/* ---- JSON ---- */

static void json_item(mw_json *j, mw_kind k, const mw_names *names, const void *p)
{
    switch (k) {
    case MW_FK_STR: mw_json_string(j, NULL, p); break;
    case MW_FK_ENUM: mw_json_string(j, NULL, mw_name_of(names, *(const int *)p)); break;
    case MW_FK_U64: mw_json_unsigned(j, NULL, (unsigned long long)*(const uint64_t *)p); break;
    case MW_FK_F64: mw_json_number(j, NULL, *(const double *)p); break;
    default: mw_json_integer(j, NULL, (long long)number_at(k, p)); break;
    }
}

void mw_json_members(mw_json *j, const mw_record *r, const void *rec)
{
    mw_json_members_except(j, r, rec, 0);
}

void mw_json_members_except(mw_json *j, const mw_record *r, const void *rec, unsigned skip)
{
    for (const mw_field *f = r->fields; f->name; f++) {
        if ((f->flags & (MW_F_NO_JSON | skip)) || !mw_field_present(f, rec))
            continue;
        const void *p = mw_field_at_c(f, rec);
        switch (f->kind) {
        case MW_FK_INT:
        case MW_FK_LONG:
        case MW_FK_I64:
        case MW_FK_SIZE: {
            long long v = mw_field_integer(f, rec); /* LLONG_MAX has no double */
            if ((f->flags & MW_F_NULL_NEG) && v < 0)
                mw_json_null(j, f->name);
            else
                mw_json_integer(j, f->name, v);
            break;
        }
        case MW_FK_U64: mw_json_unsigned(j, f->name, (unsigned long long)*(const uint64_t *)p); break;
        case MW_FK_F64: mw_json_number(j, f->name, *(const double *)p); break;
        case MW_FK_BOOL: mw_json_bool(j, f->name, *(const int *)p); break;
        case MW_FK_STR: mw_json_string(j, f->name, *(const char *)p ? (const char *)p : NULL); break;
        case MW_FK_ENUM: mw_json_string(j, f->name, mw_name_of(f->names, *(const int *)p)); break;
        case MW_FK_SET:
            mw_json_array_begin(j, f->name);
            for (int v = 0; v < f->names->n; v++)
                if (((const int *)p)[v])
                    mw_json_string(j, NULL, mw_name_of(f->names, v));
            mw_json_array_end(j);
            break;
        case MW_FK_LIST: {
            int count = *(const int *)((const char *)rec + f->count);
            mw_json_array_begin(j, f->name);
            for (int i = 0; i < count; i++)
                json_item(j, f->elem, f->names,
                          (const char *)p + (size_t)i * mw_field_elem_size(f));
            mw_json_array_end(j);
            break;
        }
        case MW_FK_RECORD:
            if (f->flags & MW_F_NEST)
                mw_json_record(j, f->name, f->sub, p);
            else
                mw_json_members(j, f->sub, p);
            break;
        }
    }
}

void mw_json_record(mw_json *j, const char *key, const mw_record *r, const void *rec)
{
    mw_json_object_begin(j, key);
    mw_json_members(j, r, rec);
    mw_json_object_end(j);
}

void mw_json_group(mw_json *j, const mw_optgroup *g, const void *state)
{
    if (!g->key)
        return;
    mw_json_object_begin(j, g->key);
    mw_json_members_except(j, g->record, (const char *)state + g->offset, g->skip);
    mw_json_object_end(j);
    if (g->offset2) {
        mw_json_object_begin(j, g->key2);
        mw_json_members_except(j, g->record, (const char *)state + g->offset2, g->skip);
        mw_json_object_end(j);
    }
}

/* ---- text tables ---- */

static void cell(FILE *f, int width, int last, const char *text)
{
    if (last && width < 0)
        fputs(text, f); /* no padding after the last column */
    else
        fprintf(f, "%*s", width, text);
}

void mw_table_head(FILE *f, const char *indent, const mw_column *cols, int n)
{
    fputs(indent, f);
    for (int i = 0; i < n; i++) {
        if (i)
            fputc(' ', f);
        cell(f, cols[i].width, i == n - 1, cols[i].head);
    }
}

void mw_table_row(FILE *f, const char *indent, const mw_column *cols, int n,
                  const mw_record *r, const void *row)
{
    fputs(indent, f);
    for (int i = 0; i < n; i++) {
        const mw_column *c = &cols[i];
        char text[256] = "-";
        size_t base = 0;
        const mw_field *fd = mw_record_find(r, c->field, &base);
        const void *rec = (const char *)row + base;
        if (fd && (!c->applies || c->applies(row)) && c->meaningless && c->meaningless(row)) {
            snprintf(text, sizeof text, "n/a");
        } else if (fd && (!c->applies || c->applies(row))) {
            if (fd->kind == MW_FK_F64 && (c->fmt || c->one_minus)) {
                double v = *(const double *)mw_field_at_c(fd, rec);
                if (c->one_minus) /* a computed cosine a few ulps over 1 is rounding */
                    v = 1.0 - v < 0.0 && 1.0 - v >= -0x1p-50 ? 0.0 : 1.0 - v;
                if (!isfinite(v) || !c->fmt)
                    mw_fmt(text, sizeof text, v);
                else
                    snprintf(text, sizeof text, c->fmt, v);
            } else {
                mw_field_text(fd, rec, text, sizeof text);
            }
        }
        if (i)
            fputc(' ', f);
        cell(f, c->width, i == n - 1, text);
    }
}

/* ---- schema ---- */

static const char *kind_name(const mw_field *f, int h5)
{
    switch (f->kind) {
    case MW_FK_INT:
    case MW_FK_LONG:
    case MW_FK_I64:
    case MW_FK_SIZE: return h5 ? "int64" : "integer";
    case MW_FK_U64: return h5 ? "uint64" : "integer";
    case MW_FK_F64: return h5 ? "float64" : "number";
    case MW_FK_BOOL: return h5 ? "int" : "boolean";
    case MW_FK_STR: return "string";
    case MW_FK_ENUM: return "string (name)";
    case MW_FK_SET: return "names";
    case MW_FK_LIST: return f->elem == MW_FK_F64 ? "float64 array" : "array";
    case MW_FK_RECORD: return "record";
    }
    return "?";
}

static void schema_rows(FILE *out, const mw_record *r, const char *prefix, int h5)
{
    for (const mw_field *f = r->fields; f->name; f++) {
        if ((h5 && (f->flags & MW_F_NO_H5)) || (!h5 && (f->flags & MW_F_NO_JSON)))
            continue;
        char name[128];
        snprintf(name, sizeof name, "%s%s", prefix, f->name);
        if (f->kind == MW_FK_RECORD) {
            char sub[160] = "";
            if (h5 ? (f->flags & MW_F_PREFIX) : (f->flags & MW_F_NEST))
                snprintf(sub, sizeof sub, "%s%s", name, h5 ? "_" : ".");
            else
                snprintf(sub, sizeof sub, "%s", prefix);
            schema_rows(out, f->sub, sub, h5);
            continue;
        }
        char names[256] = "";
        if (f->names)
            mw_names_list(f->names, names, sizeof names);
        fprintf(out, "| `%s` | %s | ", name, kind_name(f, h5));
        for (const char *h = f->help ? f->help : ""; *h; h++) /* a table cell: | escaped */
            *h == '|' ? fputs("\\|", out) : fputc(*h == '\n' ? ' ' : *h, out);
        if (names[0])
            fprintf(out, " (%s)", names);
        fputs(" |\n", out);
    }
}

void mw_record_schema(FILE *f, const mw_record *r, int h5)
{
    fprintf(f, "| field | type | meaning |\n|---|---|---|\n");
    schema_rows(f, r, "", h5);
}

/* ---- comparison ---- */

static int is_measured_time(const mw_field *f)
{
    return strstr(f->name, "seconds") != NULL;
}

int mw_record_diff(const mw_record *r, const void *a, const void *b, int skip_times, char *why,
                   size_t n)
{
    for (const mw_field *f = r->fields; f->name; f++) {
        if (skip_times && is_measured_time(f))
            continue;
        const int pa = mw_field_present(f, a), pb = mw_field_present(f, b);
        if (pa != pb) {
            snprintf(why, n, "%s.%s: in one only", r->name, f->name);
            return 1;
        }
        if (!pa)
            continue;
        const void *va = mw_field_at_c(f, a), *vb = mw_field_at_c(f, b);
        int differ = 0;
        switch (f->kind) {
        case MW_FK_STR: differ = strncmp(va, vb, f->size) != 0; break;
        case MW_FK_F64: differ = memcmp(va, vb, sizeof(double)) != 0; break; /* bit for bit */
        case MW_FK_U64: differ = *(const uint64_t *)va != *(const uint64_t *)vb; break;
        case MW_FK_SET: differ = memcmp(va, vb, (size_t)f->names->n * sizeof(int)) != 0; break;
        case MW_FK_RECORD:
            if (mw_record_diff(f->sub, va, vb, skip_times, why, n))
                return 1;
            break;
        case MW_FK_LIST: {
            const int ca = *(const int *)((const char *)a + f->count);
            const int cb = *(const int *)((const char *)b + f->count);
            differ = ca != cb;
            for (int i = 0; !differ && i < ca; i++) {
                const char *ia = (const char *)va + (size_t)i * mw_field_elem_size(f);
                const char *ib = (const char *)vb + (size_t)i * mw_field_elem_size(f);
                differ = f->elem == MW_FK_STR ? strncmp(ia, ib, f->elem_bytes) != 0
                                              : memcmp(ia, ib, mw_field_elem_size(f)) != 0;
            }
            break;
        }
        default: differ = mw_field_integer(f, a) != mw_field_integer(f, b); break;
        }
        if (differ) {
            char ta[64], tb[64];
            if (f->kind == MW_FK_STR || f->kind == MW_FK_LIST || f->kind == MW_FK_SET)
                snprintf(why, n, "%s.%s differs", r->name, f->name);
            else if (f->kind == MW_FK_F64)
                snprintf(why, n, "%s.%s: %.17g against %.17g", r->name, f->name,
                         *(const double *)va, *(const double *)vb);
            else
                snprintf(why, n, "%s.%s: %s against %s", r->name, f->name,
                         mw_field_text(f, a, ta, sizeof ta), mw_field_text(f, b, tb, sizeof tb));
            return 1;
        }
    }
    return 0;
}
