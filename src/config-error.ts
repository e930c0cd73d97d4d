// The error for bad configuration or flags: one line, exit code 2.
export class UsageError extends Error {
  readonly exitCode = 2;
}
