/* Unit tests of the helpers behind trustworthy verdicts and reports: strict number parsing,
 * shell quoting (round-tripped through a real sh), UTF-8 cleaning and cutting, and directory
 * images with subdirectories, symlinks and sparse files. */
#include "dirimage.h"
#include "util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void write_text(const char *path, const char *s)
{
    assert_int_equal(file_write(path, s, strlen(s)), 0);
}

static void util__parse_uint_is_strict(void **st)
{
    (void)st;
    uint64_t v = 77;
    const char *bad[] = {"",
                         "-1",
                         "+1",
                         " 1",
                         "1 ",
                         "0x10",
                         "1e3",
                         "1/2",
                         "1.",
                         "--",
                         "18446744073709551616",
                         "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse_uint(&v, bad[i], 0, UINT64_MAX), -1);
        assert_int_equal(v, 77);
    }
    assert_int_equal(parse_uint(&v, "18446744073709551615", 0, UINT64_MAX), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(parse_uint(&v, "0", 0, 5), 0);
    assert_int_equal(v, 0);
    assert_int_equal(parse_uint(&v, "0", 1, 5), -1); /* below the range */
    assert_int_equal(parse_uint(&v, "6", 1, 5), -1); /* above the range */
    assert_int_equal(parse_uint(&v, "007", 1, 7), 0);
    assert_int_equal(v, 7);
}

/* Each hostile string, quoted, must reach sh's printf as exactly itself and run nothing. */
static void util__shell_quote_survives_sh(void **st)
{
    (void)st;
    char dir[] = "/tmp/snapcheck-test-quote-XXXXXX";
    assert_non_null(mkdtemp(dir));
    const char *hostile[] = {"q';touch${IFS}PWNED;'",
                             "'",
                             "''",
                             "",
                             "$(touch PWNED)",
                             "`touch PWNED`",
                             "a\"b\\c",
                             "x\ny; touch PWNED",
                             "*",
                             "~root",
                             "!!",
                             "-n",
                             "'\\''; touch PWNED; echo '",
                             "tab\there"};
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        char *q = shell_quote(hostile[i]);
        char *cmd = xasprintf("cd %s && printf '%%s' %s", dir, q);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        char out[256];
        size_t n = fread(out, 1, sizeof out - 1, p);
        out[n] = 0;
        assert_int_equal(pclose(p), 0);
        assert_string_equal(out, hostile[i]);
        char pwned[128];
        snprintf(pwned, sizeof pwned, "%s/PWNED", dir);
        assert_int_equal(access(pwned, F_OK), -1);
        free(cmd);
        free(q);
    }
    path_remove_tree(dir);
}

static void util__utf8_clean_replaces_invalid_bytes(void **st)
{
    (void)st;
    struct {
        const char *in, *out;
    } t[] = {
        {"plain ascii", "plain ascii"},
        {"d\xc3\xa9tail \xe2\x80\x94 \xf0\x9f\x98\x80",
         "d\xc3\xa9tail \xe2\x80\x94 \xf0\x9f\x98\x80"},
        {"a\xff"
         "b",
         "a\xef\xbf\xbd"
         "b"},                                    /* invalid byte */
        {"\xc3", "\xef\xbf\xbd"},                 /* cut short at the end */
        {"\xe2\x80", "\xef\xbf\xbd\xef\xbf\xbd"}, /* cut short: each byte replaced */
        {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"}, /* overlong '/' */
        {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},                 /* a surrogate */
        {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* > U+10FFFF */
        {"esc\x1b[31m", "esc\xef\xbf\xbd[31m"},                                   /* C0 control */
        {"tab\tnl\n", "tab\tnl\n"},                                               /* kept */
        {"\xef\xbf\xbe", "\xef\xbf\xbd"}, /* U+FFFE, not an XML character */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char *c = utf8_clean(t[i].in);
        assert_string_equal(c, t[i].out);
        free(c);
    }
}

static void util__first_line_cut_at_a_character_boundary(void **st)
{
    (void)st;
    char dir[] = "/tmp/snapcheck-test-utf8-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/err", dir);
    /* 'x' then 2-byte and 3-byte characters: a 200-byte buffer ends inside one of them. */
    for (const char *ch = "\xc3\xa9"; ch; ch = !strcmp(ch, "\xc3\xa9") ? "\xe2\x80\x94" : NULL) {
        char text[1200] = "x";
        for (int i = 0; i < 300; i++)
            strcat(text, ch);
        strcat(text, "\nsecond line\n");
        write_text(path, text);
        char line[200];
        file_first_line(line, sizeof line, path);
        assert_true(strlen(line) >= sizeof line - 4);
        char *clean = utf8_clean(line);
        assert_string_equal(clean, line); /* nothing to replace: no split character */
        free(clean);
    }
    char buf[11] = "";
    str_append(buf, sizeof buf, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9");
    assert_string_equal(buf, "\xc3\xa9\xc3\xa9\xc3\xa9..."); /* "..." after a whole 'é' */
    char trimmed[] = "ab\xe2\x80";
    utf8_trim_partial(trimmed);
    assert_string_equal(trimmed, "ab");
    char whole[] = "ab\xe2\x80\x94";
    utf8_trim_partial(whole);
    assert_string_equal(whole, "ab\xe2\x80\x94");
    path_remove_tree(dir);
}

/* A template with a subdirectory, a symlink inside, one pointing out of the tree (to a
 * directory holding a file that must not be read, copied or removed), and a sparse file. */
static void make_tree(const char *a, const char *outside)
{
    char p[300];
    assert_int_equal(mkdir(a, 0755), 0);
    snprintf(p, sizeof p, "%s/pairs", a);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/pairs/vm.pair", a);
    write_text(p, "pair bytes");
    snprintf(p, sizeof p, "%s/pairs/vm.latest", a);
    assert_int_equal(symlink("vm.pair", p), 0);
    snprintf(p, sizeof p, "%s/pairs/out", a);
    assert_int_equal(symlink(outside, p), 0);
    snprintf(p, sizeof p, "%s/top.snap", a);
    write_text(p, "top");
}

static void dirimage__subdirectories_and_symlinks(void **st)
{
    (void)st;
    char dir[] = "/tmp/snapcheck-test-tree-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char a[128], outside[128], copy[160], p[300], names[256];
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(outside, sizeof outside, "%s/outside", dir);
    snprintf(copy, sizeof copy, "%s/copy", dir);
    assert_int_equal(mkdir(outside, 0755), 0);
    snprintf(p, sizeof p, "%s/keep-me", outside);
    write_text(p, "not part of the image");
    make_tree(a, outside);

    struct dir_image img;
    assert_int_equal(dir_image_take(&img, a), 0);
    assert_int_equal(img.n, 5); /* pairs, pairs/out, pairs/vm.latest, pairs/vm.pair, top.snap */
    assert_int_equal(dir_list(names, sizeof names, a), 5);
    assert_string_equal(names, "pairs, pairs/out, pairs/vm.latest, pairs/vm.pair, top.snap");
    assert_int_equal(dir_image_write(&img, copy), 0);
    assert_true(dir_image_same(&img, copy));
    struct stat sb;
    snprintf(p, sizeof p, "%s/pairs/out", copy);
    assert_int_equal(lstat(p, &sb), 0);
    assert_true(S_ISLNK(sb.st_mode)); /* copied as a link, not followed */

    snprintf(p, sizeof p, "%s/pairs/vm.pair", copy);
    write_text(p, "pair bytez"); /* same size, other bytes, in the subdirectory */
    assert_false(dir_image_same(&img, copy));
    write_text(p, "pair bytes");
    assert_true(dir_image_same(&img, copy));
    snprintf(p, sizeof p, "%s/pairs/vm.pair.tmp", copy);
    write_text(p, "");
    assert_false(dir_image_same(&img, copy)); /* an extra file in the subdirectory */
    assert_int_equal(dir_new_entries(names, sizeof names, copy, a), 1);
    assert_string_equal(names, "pairs/vm.pair.tmp");
    unlink(p);
    snprintf(p, sizeof p, "%s/pairs/vm.latest", copy);
    unlink(p);
    assert_int_equal(symlink("elsewhere", p), 0);
    assert_false(dir_image_same(&img, copy)); /* another link target */
    unlink(p);
    assert_int_equal(symlink("vm.pair", p), 0);
    assert_true(dir_image_same(&img, copy));

    /* Hard links (in-process mode): the subdirectory and links are recreated. */
    char linked[180];
    snprintf(linked, sizeof linked, "%s/linked", dir);
    assert_int_equal(dir_image_link(&img, linked, copy), 0);
    assert_true(dir_image_links_same(&img, linked, copy, false));

    /* Removal does not follow the symlink out of the tree. */
    assert_int_equal(path_remove_tree(copy), 0);
    assert_int_equal(path_remove_tree(linked), 0);
    snprintf(p, sizeof p, "%s/keep-me", outside);
    assert_int_equal(access(p, F_OK), 0);
    dir_image_finish(&img);
    path_remove_tree(dir);
}

static void dirimage__sparse_file_stays_sparse(void **st)
{
    (void)st;
    char dir[] = "/tmp/snapcheck-test-sparse-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char a[128], copy[160], p[300];
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(copy, sizeof copy, "%s/copy", dir);
    assert_int_equal(mkdir(a, 0755), 0);
    snprintf(p, sizeof p, "%s/pad.sparse", a);
    int fd = open(p, O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "d", 1, 4096 * 3), 1);
    assert_int_equal(ftruncate(fd, (off_t)256 << 20), 0);
    close(fd);
    struct dir_image img;
    assert_int_equal(dir_image_take(&img, a), 0);
    assert_int_equal(img.n, 1);
    assert_true(img.files[0].len == (uint64_t)256 << 20);
    assert_int_equal(dir_image_write(&img, copy), 0);
    snprintf(p, sizeof p, "%s/pad.sparse", copy);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    assert_true(sb.st_size == (off_t)256 << 20);
    assert_true((uint64_t)sb.st_blocks * 512 < (1u << 20)); /* not 256 MiB of disk */
    assert_true(dir_image_same(&img, copy));
    fd = open(p, O_WRONLY);
    assert_int_equal(pwrite(fd, "e", 1, 4096 * 3), 1);
    close(fd);
    assert_false(dir_image_same(&img, copy));
    dir_image_finish(&img);
    path_remove_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(util__parse_uint_is_strict),
        cmocka_unit_test(util__shell_quote_survives_sh),
        cmocka_unit_test(util__utf8_clean_replaces_invalid_bytes),
        cmocka_unit_test(util__first_line_cut_at_a_character_boundary),
        cmocka_unit_test(dirimage__subdirectories_and_symlinks),
        cmocka_unit_test(dirimage__sparse_file_stays_sparse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
