/* Tests of spec/: validation of every field with messages that name it, and the
 * canonical parameter layout of docs/architecture.md §2. */
#include <string.h>

#include "mw_spec.h"
#include "testutil.h"

/* A spec with one field changed must be refused with a message naming that field. */
static void expect_refused(mw_spec s, const char *field)
{
    char msg[256] = "";
    ck_assert_msg(mw_spec_validate(&s, msg, sizeof msg) != 0, "%s: accepted", field);
    ck_assert_msg(strncmp(msg, field, strlen(field)) == 0, "message '%s' does not start with '%s'",
                  msg, field);
}

START_TEST(defaults_are_valid)
{
    mw_spec s = mw_spec_default();
    char msg[256];
    ck_assert_msg(mw_spec_validate(&s, msg, sizeof msg) == 0, "%s", msg);
    ck_assert_int_eq(s.width, 16);
    ck_assert_int_eq(s.hidden, 32);
    ck_assert_int_eq(s.units, 2);
    ck_assert(!s.bn);
}
END_TEST

START_TEST(bad_fields_are_named)
{
    mw_spec d = mw_spec_default(), s;
    s = d, s.width = 7, expect_refused(s, "width 7");
    s = d, s.width = 0, expect_refused(s, "width 0");
    s = d, s.width = -4, expect_refused(s, "width -4");
    s = d, s.depth = 0, expect_refused(s, "depth 0");
    s = d, s.depth = 5000, expect_refused(s, "depth 5000");
    s = d, s.units = 0, expect_refused(s, "units 0");
    s = d, s.hidden = -1, expect_refused(s, "hidden -1");
    s = d, s.batch = 0, expect_refused(s, "batch 0");
    s = d, s.bn = 1, s.batch = 1, expect_refused(s, "batch 1");
    s = d, s.classes = 1, expect_refused(s, "classes 1");
    s = d, s.out_act = MW_ACT_RELU, expect_refused(s, "out-act relu");
    s = d, s.leaky_slope = -0.1, expect_refused(s, "leaky-slope");
    s = d, s.init_scale = 0, expect_refused(s, "init-scale 0");
    s = d, s.init_scale = INFINITY, expect_refused(s, "init-scale inf");
    s = d, s.init_scale = NAN, expect_refused(s, "init-scale");
    s = d, s.bn_eps = 0, expect_refused(s, "bn-eps");
    /* each size allowed alone, together far too many parameters */
    s = d, s.width = 65536, s.hidden = 65536, s.depth = 4096, expect_refused(s, "depth 4096");
}
END_TEST

/* revnet: the derived fields, the per-block shapes (ψ quadruples the channels and halves
 * H and W), the squeeze positions, unit shapes (C/2, or hidden for inner units), the
 * layout's 4-D conv weights and the pooled head, and refusals that name the option. */
START_TEST(revnet_shapes_and_refusals)
{
    mw_spec s = mw_spec_revnet_default();
    char msg[256];
    ck_assert_msg(mw_spec_validate(&s, msg, sizeof msg) == 0, "%s", msg);
    ck_assert(s.arch == MW_ARCH_REVNET && s.bn && s.units == 1 && s.hidden == 0);
    ck_assert_int_eq(s.width, 4 * 8 * 8);
    ck_assert_int_eq(s.depth, 3);
    s.layers_per_block = 2, s.units = 2, s.hidden = 3;
    mw_spec_complete(&s);
    ck_assert_int_eq(s.depth, 6);
    static const int want[7][3] = {{0}, {4, 8, 8}, {4, 8, 8}, {16, 4, 4},
                                   {16, 4, 4}, {64, 2, 2}, {64, 2, 2}};
    for (int l = 1; l <= 6; l++) {
        mw_shape sh = mw_spec_layer_shape(&s, l);
        ck_assert(sh.c == want[l][0] && sh.h == want[l][1] && sh.w == want[l][2]);
        ck_assert_int_eq(mw_spec_squeeze_before(&s, l), l == 3 || l == 5);
        int o, i;
        mw_spec_unit_shape(&s, l, 1, &o, &i);
        ck_assert(i == want[l][0] / 2 && o == 3);
        mw_spec_unit_shape(&s, l, 2, &o, &i);
        ck_assert(i == 3 && o == want[l][0] / 2);
    }
    ck_assert_int_eq(mw_spec_head_features(&s), 64);
    mw_layout lay;
    ck_assert(mw_layout_build(&s, &lay) == 0);
    const mw_param_info *w = &lay.params[mw_layout_find(&lay, "layer5.unit1.W")];
    ck_assert(w->ndim == 4 && w->dims[0] == 3 && w->dims[1] == 32 && w->dims[2] == 3 &&
              w->dims[3] == 3 && w->count == 3 * 32 * 9 && w->fan_in == 32 * 9);
    const mw_param_info *h = &lay.params[mw_layout_find(&lay, "head.W")];
    ck_assert(h->ndim == 2 && h->dims[0] == s.classes && h->dims[1] == 64);
    const mw_param_info *g = &lay.params[mw_layout_find(&lay, "layer2.unit2.gamma")];
    ck_assert(g->ndim == 1 && g->count == 2);
    mw_layout_free(&lay);
    char line[256];
    mw_spec_describe(&s, line, sizeof line);
    ck_assert_msg(strstr(line, "revnet 4x8x8, 3 blocks of 2 layers, hidden 3"), "%s", line);

    mw_spec d = mw_spec_revnet_default(), b;
    b = d, b.channels = 3, mw_spec_complete(&b), expect_refused(b, "channels 3");
    b = d, b.image_h = 6, mw_spec_complete(&b), expect_refused(b, "image 6x8");
    b = d, b.blocks = 0, mw_spec_complete(&b), expect_refused(b, "blocks 0");
    b = d, b.blocks = 9, mw_spec_complete(&b), expect_refused(b, "blocks 9");
    b = d, b.layers_per_block = 0, mw_spec_complete(&b), expect_refused(b, "layers-per-block 0");
    b = d, b.hidden = -2, expect_refused(b, "hidden -2");
    b = d, b.image_h = b.image_w = 4096, b.blocks = 1, mw_spec_complete(&b);
    expect_refused(b, "image 4096x4096");
    b = d, b.layers_per_block = 2; /* not completed: depth still 3 */
    expect_refused(b, "width 256, depth 3");
}
END_TEST

START_TEST(names_parse_and_print)
{
    for (int a = 0; a < 4; a++) {
        int back;
        ck_assert(mw_name_parse(&mw_act_names, mw_act_name((mw_act)a), &back) == 0 && back == a);
    }
    int o;
    ck_assert(mw_name_parse(&mw_out_act_names, "none", &o) == 0 && o == MW_ACT_IDENTITY);
    ck_assert(mw_name_parse(&mw_out_act_names, "identity", &o) == 0 && o == MW_ACT_IDENTITY);
    ck_assert(mw_name_parse(&mw_act_names, "sigmoid", &o) != 0);
    /* relu parses as σ, so that validation can say why it is refused */
    ck_assert(mw_name_parse(&mw_out_act_names, "relu", &o) == 0 && o == MW_ACT_RELU);
    mw_spec r = mw_spec_default();
    r.out_act = MW_ACT_RELU;
    char why[256];
    ck_assert(mw_spec_validate(&r, why, sizeof why) != 0 && strstr(why, "not invertible"));
    ck_assert_str_eq(mw_out_act_name(MW_ACT_IDENTITY), "none");
    mw_spec s = mw_spec_default();
    ck_assert(mw_spec_invertible(&s));
    s.out_act = MW_ACT_LEAKY, s.leaky_slope = 0;
    ck_assert(!mw_spec_invertible(&s));
}
END_TEST

/* Layer 1..L, unit 1..k, then W, c, γ, β; then head.W, head.c. W is [out][in]: the first
 * unit (hidden x n/2), the last (n/2 x hidden), one unit alone (n/2 x n/2). */
START_TEST(layout_is_canonical)
{
    mw_spec s = mw_spec_default();
    s.width = 6, s.hidden = 5, s.units = 3, s.depth = 2, s.classes = 4, s.bn = 1;
    mw_layout lay;
    ck_assert(mw_layout_build(&s, &lay) == 0);
    ck_assert_int_eq(lay.n_params, 2 * 3 * 4 + 2);
    static const char *first[] = {"layer1.unit1.W", "layer1.unit1.c", "layer1.unit1.gamma",
                                  "layer1.unit1.beta", "layer1.unit2.W"};
    for (int i = 0; i < 5; i++)
        ck_assert_str_eq(lay.params[i].name, first[i]);
    const mw_param_info *w1 = &lay.params[0], *w3 = &lay.params[8];
    ck_assert(w1->rows == 5 && w1->cols == 3);
    ck_assert_str_eq(w3->name, "layer1.unit3.W");
    ck_assert(w3->rows == 3 && w3->cols == 5);
    ck_assert_str_eq(lay.params[lay.n_params - 2].name, "head.W");
    ck_assert(lay.params[lay.n_params - 2].rows == 4 && lay.params[lay.n_params - 2].cols == 6);
    ck_assert_str_eq(lay.params[lay.n_params - 1].name, "head.c");
    size_t off = 0;
    for (int i = 0; i < lay.n_params; i++) {
        ck_assert_uint_eq(lay.params[i].offset, off);
        off += lay.params[i].count;
    }
    ck_assert_uint_eq(lay.total, off);
    ck_assert_uint_eq(lay.layer_offset[1], 0);
    ck_assert_uint_eq(lay.layer_offset[2], lay.params[12].offset);
    ck_assert_uint_eq(lay.layer_offset[3], lay.params[lay.n_params - 2].offset);
    ck_assert_uint_eq(lay.layer_offset[4], lay.total);
    ck_assert_int_eq(mw_layout_find(&lay, "layer2.unit1.beta"), 15);
    ck_assert_int_eq(mw_layout_find(&lay, "layer3.unit1.W"), -1);
    mw_layout_free(&lay);

    s.units = 1, s.bn = 0;
    ck_assert(mw_layout_build(&s, &lay) == 0);
    ck_assert(lay.params[0].rows == 3 && lay.params[0].cols == 3);
    mw_layout_free(&lay);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("spec");
    TCase *tc = tcase_create("spec");
    tcase_add_test(tc, defaults_are_valid);
    tcase_add_test(tc, bad_fields_are_named);
    tcase_add_test(tc, names_parse_and_print);
    tcase_add_test(tc, layout_is_canonical);
    tcase_add_test(tc, revnet_shapes_and_refusals);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
