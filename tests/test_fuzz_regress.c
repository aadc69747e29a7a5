/* Every seed (fuzz/corpus/<target>/) and every input a fuzzer once crashed on
 * (fuzz/regress/<target>/) through the same entry point the libFuzzer target uses, in the
 * normal build: each must return 0 without crashing, leaking (under LVIT_SANITIZE) or exiting.
 * The fuzz_*.c files are compiled in here with LLVMFuzzerTestOneInput renamed. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#define LLVMFuzzerTestOneInput fuzz_safetensors_one
#include "../fuzz/fuzz_safetensors.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_dataset_one
#include "../fuzz/fuzz_dataset.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_json_one
#include "../fuzz/fuzz_json.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_args_one
#include "../fuzz/fuzz_args.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_state_one
#include "../fuzz/fuzz_state.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_convert_one
#include "../fuzz/fuzz_convert.c"
#undef LLVMFuzzerTestOneInput

typedef int (*FuzzEntry)(const uint8_t *, size_t);

/* Feeds every regular file of LVIT_SOURCE_DIR/fuzz/<sub>/<target>/ to fn; returns how many. */
static int feed_dir(const char *sub, const char *target, FuzzEntry fn) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/fuzz/%s/%s", LVIT_SOURCE_DIR, sub, target);
    DIR *d = opendir(dir);
    if (!d) return 0;   /* a target with no regressions yet */
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (e->d_name[0] == '.' || stat(path, &sb) || !S_ISREG(sb.st_mode)) continue;
        FILE *fp = fopen(path, "rb");
        assert_non_null(fp);
        uint8_t *buf = malloc((size_t)sb.st_size + 1);
        assert_non_null(buf);
        size_t got = fread(buf, 1, (size_t)sb.st_size, fp);
        fclose(fp);
        assert_int_equal(got, (size_t)sb.st_size);
        fprintf(stderr, "  %s/%s/%s (%zu bytes)\n", sub, target, e->d_name, got);
        assert_int_equal(fn(buf, got), 0);
        free(buf);
        n++;
    }
    closedir(d);
    return n;
}

static void run_target(const char *target, FuzzEntry fn) {
    int seeds = feed_dir("corpus", target, fn);
    feed_dir("regress", target, fn);
    assert_true(seeds > 0);   /* the committed seed corpus must be there */
}

static void test_safetensors(void **state) { (void)state; run_target("safetensors", fuzz_safetensors_one); }
static void test_dataset(void **state) { (void)state; run_target("dataset", fuzz_dataset_one); }
static void test_json(void **state) { (void)state; run_target("json", fuzz_json_one); }
static void test_args(void **state) { (void)state; run_target("args", fuzz_args_one); }
static void test_state(void **state) { (void)state; run_target("state", fuzz_state_one); }
static void test_convert(void **state) { (void)state; run_target("convert", fuzz_convert_one); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_safetensors),
        cmocka_unit_test(test_dataset),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_state),
        cmocka_unit_test(test_convert),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
