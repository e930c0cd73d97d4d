// The one error the CLI turns into an exit code: a one-line message, and exit 1 (the work failed) or
// 2 (the command line is wrong). Thrown by the commands and by what checks their input (config, proxy
// options, warning rules, tarball import); cli.ts main() catches it once. It imports nothing, so any
// layer may throw it.
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
  }
}

/** Bad flags or configuration: exit 2. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, 2);
  }
}

/**
 * A flag's (or environment variable's) value read with a value parser (params/values.ts); a wrong value
 * is a UsageError naming where it came from: `--max-timeout: 5 is missing a unit...`.
 */
export function parseFlag<T>(source: string, text: string, parse: (text: string) => T): T {
  try {
    return parse(text);
  } catch (error) {
    throw new UsageError(`${source}: ${(error as Error).message}`);
  }
}
