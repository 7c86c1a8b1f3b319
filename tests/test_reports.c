/* Tests of reports/: the JSON writer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "jsonr.h"
#include "testutil.h"

START_TEST(json_writer_output)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    mw_json j;
    mw_json_init(&j, f);
    mw_json_object_begin(&j, NULL);
    mw_json_string(&j, "name", "a \"quoted\"\\ line\n");
    mw_json_number(&j, "x", 0.1);
    mw_json_number(&j, "nan", NAN);
    mw_json_number(&j, "inf", -INFINITY);
    mw_json_integer(&j, "n", -42);
    mw_json_bool(&j, "yes", 1);
    mw_json_array_begin(&j, "list");
    mw_json_integer(&j, NULL, 1);
    mw_json_object_begin(&j, NULL);
    mw_json_null(&j, "z");
    mw_json_object_end(&j);
    mw_json_array_end(&j);
    mw_json_object_end(&j);
    ck_assert(mw_json_finish(&j) == 0);
    fclose(f);
    ck_assert_str_eq(buf, "{\"name\": \"a \\\"quoted\\\"\\\\ line\\n\", \"x\": 0.10000000000000001, "
                          "\"nan\": null, \"inf\": null, \"n\": -42, \"yes\": true, "
                          "\"list\": [1, {\"z\": null}]}\n");
    /* and it reads back, 0.1 exactly */
    char err[128];
    jr_value *v = jr_parse(buf, err, sizeof err);
    ck_assert_msg(v != NULL, "%s", err);
    ck_assert(jr_number(jr_get(v, "x")) == 0.1);
    ck_assert_str_eq(jr_get(v, "name")->text, "a \"quoted\"\\ line\n");
    ck_assert(jr_get(v, "nan")->type == JR_NULL);
    jr_free(v);
    free(buf);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("reports");
    TCase *tc = tcase_create("json");
    tcase_add_test(tc, json_writer_output);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
