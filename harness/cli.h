/* The command line of snapcheck: `snapcheck faults ...`, --help, --version. */
#ifndef SNAPCHECK_CLI_H
#define SNAPCHECK_CLI_H

#include "campaign.h"

#include <stdio.h>

enum cli_action { CLI_RUN, CLI_EXIT_OK, CLI_EXIT_USAGE };

/* Parse argv into out (defaults filled in). Prints help/version/usage errors itself.
 * @return CLI_RUN to run a campaign, CLI_EXIT_OK after --help/--version, CLI_EXIT_USAGE on a
 * bad command line (message on stderr). */
enum cli_action cli_parse(struct options *out, int argc, char **argv);

void cli_usage(FILE *f);
void cli_faults_usage(FILE *f);

#endif
