/* `snapcheck conform`: checks an implementation against docs/FORMAT.md (decoder conformance on
 * the golden vectors, interoperability with the reference) and docs/ADAPTER.md (corruption
 * probing, the adapter contract, the fault campaign), and reports one verdict per requirement.
 * docs/CONFORMANCE.md is the user's guide. */
#ifndef SNAPCHECK_CONFORM_H
#define SNAPCHECK_CONFORM_H

#include <stdio.h>

#include <stddef.h>

/* Run `snapcheck conform ARGS` (argv[0] is "conform"). Prints its report; writes --json and
 * --junit. @return 0 conforms, 1 a requirement failed, 2 usage or set-up error. */
int conform_main(int argc, char **argv);

/* Run `snapcheck fuzz ARGS` (argv[0] is "fuzz"): a budgeted mutation loop over the IUT's
 * load, differential against libsnapref (conform_fuzz.c). @return 0, 1 findings, 2 set-up. */
int conform_fuzz_main(int argc, char **argv);

/* `snapcheck fuzz --lib`: the libFuzzer driver over an adapter library (fuzz_lib.c). */
int fuzz_lib_main(int argc, char **argv);
void fuzz_lib_usage(FILE *f);

/* Find libsnapfault.so as `snapcheck faults` does (main.c): explicit (may be NULL), else
 * $SNAPCHECK_INTERPOSER, else installed, else the build's, else beside the executable.
 * @return 0 with the real path in dst, or non-zero after printing why on stderr. */
int snapcheck_locate_interposer(char *dst, size_t cap, const char *explicit_path);

#endif
