/* JUnit XML (junit.h), written with libxml2's text writer: it escapes every attribute and
 * text, and says when a write fails. */
#include "junit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/xmlwriter.h>

#include "h5util.h"

mw_status mw_junit_check_path(const char *path, int force, mw_err *err)
{
    return h5u_check_path("--junit", path, force, 0,
                          "exists (add --force to replace it)", err);
}

mw_status mw_junit_runs(const mw_report *r, mw_junit_case **out, size_t *n, mw_err *err)
{
    *out = NULL, *n = 0;
    if (!r->n_runs)
        return MW_OK;
    mw_junit_case *c = calloc(r->n_runs, sizeof *c);
    if (!c)
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    for (size_t k = 0; k < r->n_runs; k++) {
        const mw_report_run *run = &r->runs[k];
        const mw_report_network *net = mw_report_network_at(r, run->network);
        mw_junit_case *t = &c[k];
        if (net)
            snprintf(t->classname, sizeof t->classname, "mwverify.%s.%s.%s-%s.depth%d",
                     r->meta.suite, mw_name_of(&mw_arch_names, (int)net->spec.arch),
                     mw_act_name(net->spec.f_act),
                     mw_name_of(&mw_out_act_names, (int)net->spec.out_act), net->spec.depth);
        else
            snprintf(t->classname, sizeof t->classname, "mwverify.%s", r->meta.suite);
        snprintf(t->name, sizeof t->name, "network %ld %s %s (run %ld)", run->network,
                 mw_dtype_name(run->dtype), mw_method_name(run->method), run->index);
        double s = 0;
        for (size_t i = 0; i < run->n_steps; i++)
            if (isfinite(run->steps[i].seconds))
                s += run->steps[i].seconds;
        t->seconds = s;
        t->verdict = run->verdict;
        snprintf(t->message, sizeof t->message, "%s", run->why);
    }
    *out = c, *n = r->n_runs;
    return MW_OK;
}

/* Each call's status: a negative one is a failed write. */
#define W(call)                                                                                \
    do {                                                                                       \
        if ((call) < 0)                                                                        \
            goto failed;                                                                       \
    } while (0)

mw_status mw_junit_write(const char *path, const char *suite, const mw_junit_case *cases,
                         size_t n, double seconds, mw_err *err)
{
    size_t failures = 0, skipped = 0;
    for (size_t i = 0; i < n; i++)
        failures += cases[i].verdict == MW_VERDICT_FAIL, skipped += cases[i].verdict == MW_VERDICT_SKIP;
    /* built in memory, then written whole with every write checked (h5util.h) */
    xmlBufferPtr buf = xmlBufferCreate();
    xmlTextWriterPtr w = buf ? xmlNewTextWriterMemory(buf, 0) : NULL;
    if (!w) {
        xmlBufferFree(buf);
        return mw_err_set(err, MW_ERR_NOMEM, "--junit %s: out of memory", path);
    }
    W(xmlTextWriterSetIndent(w, 1));
    W(xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL));
    W(xmlTextWriterStartElement(w, BAD_CAST "testsuites"));
    W(xmlTextWriterWriteFormatAttribute(w, BAD_CAST "tests", "%zu", n));
    W(xmlTextWriterWriteFormatAttribute(w, BAD_CAST "failures", "%zu", failures));
    W(xmlTextWriterWriteAttribute(w, BAD_CAST "errors", BAD_CAST "0"));
    W(xmlTextWriterWriteFormatAttribute(w, BAD_CAST "time", "%.3f", seconds));
    W(xmlTextWriterStartElement(w, BAD_CAST "testsuite"));
    W(xmlTextWriterWriteFormatAttribute(w, BAD_CAST "name", "mwverify %s", suite));
    W(xmlTextWriterWriteFormatAttribute(w, BAD_CAST "tests", "%zu", n));
    W(xmlTextWriterWriteFormatAttribute(w, BAD_CAST "failures", "%zu", failures));
    W(xmlTextWriterWriteAttribute(w, BAD_CAST "errors", BAD_CAST "0"));
    W(xmlTextWriterWriteFormatAttribute(w, BAD_CAST "skipped", "%zu", skipped));
    W(xmlTextWriterWriteFormatAttribute(w, BAD_CAST "time", "%.3f", seconds));
    for (size_t i = 0; i < n; i++) {
        const mw_junit_case *c = &cases[i];
        W(xmlTextWriterStartElement(w, BAD_CAST "testcase"));
        W(xmlTextWriterWriteAttribute(w, BAD_CAST "classname", BAD_CAST c->classname));
        W(xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST c->name));
        if (isfinite(c->seconds))
            W(xmlTextWriterWriteFormatAttribute(w, BAD_CAST "time", "%.6f", c->seconds));
        if (c->verdict == MW_VERDICT_FAIL || c->verdict == MW_VERDICT_SKIP) {
            W(xmlTextWriterStartElement(w, BAD_CAST(c->verdict == MW_VERDICT_FAIL ? "failure"
                                                                                   : "skipped")));
            W(xmlTextWriterWriteAttribute(w, BAD_CAST "message", BAD_CAST c->message));
            if (c->verdict == MW_VERDICT_FAIL) {
                W(xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "mwverify"));
                W(xmlTextWriterWriteString(w, BAD_CAST c->message));
            }
            W(xmlTextWriterEndElement(w));
        } else if (c->message[0]) {
            W(xmlTextWriterWriteElement(w, BAD_CAST "system-out", BAD_CAST c->message));
        }
        W(xmlTextWriterEndElement(w));
    }
    W(xmlTextWriterEndDocument(w)); /* closes every open element */
    xmlFreeTextWriter(w); /* flushes into buf */
    mw_status st = h5u_write_bytes_atomic(path, xmlBufferContent(buf), (size_t)xmlBufferLength(buf),
                                          err);
    xmlBufferFree(buf);
    return st == MW_OK ? MW_OK : mw_err_prefix(err, "--junit");
failed:
    xmlFreeTextWriter(w);
    xmlBufferFree(buf);
    return mw_err_set(err, MW_ERR_NOMEM, "--junit %s: building the XML failed", path);
}
