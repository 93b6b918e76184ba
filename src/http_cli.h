/* http_cli.h - the commands of the `http` source: `sluice backfill` (poll a date range
 * of a windowed source into its topic, resumably) and `sluice record` (save a live
 * response as a replay cassette).  main.c dispatches to them.
 *
 * Both take argv as main gives it to a command (argv[0] is the command name) and
 * return an exit code: 0 ok, 1 failure of the operation (record: the file could not be
 * written), 2 usage error, 3 fatal runtime error (journal, network after retries). */
#ifndef SLUICE_HTTP_CLI_H
#define SLUICE_HTTP_CLI_H

/* sluice backfill FILE SOURCE --from YYYY-MM-DD --to YYYY-MM-DD
 * Splits [from, to] into windows of the source's window size, fetches each (rate limit
 * and Retry-After honoured, failures retried with backoff), appends the records to the
 * source's topic with the source's key/ts, and commits the last finished window as the
 * cursor of the writer "<source>:backfill:<from>:<to>" in the same transaction: a rerun
 * of the same range continues after it.  Progress on stderr. */
int sl_cmd_backfill(int argc, char **argv);

/* sluice record FILE SOURCE DIR
 * Makes the source's request once (its first window when windowed) and saves the body
 * as DIR/SOURCE/<UTC timestamp>.json and the status line + headers as
 * DIR/SOURCE/<UTC timestamp>.http; prints the body's path on stdout. */
int sl_cmd_record(int argc, char **argv);

#endif
