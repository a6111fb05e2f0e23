// The one error the CLI reports as a sentence: main prints `flotilla: <message>` and exits with its code.
export class CliError extends Error {
  constructor(
    message: string,
    /** Process exit code: 1 failure, 2 usage, 3 unauthorized/forbidden, 4 not found, 5 conflict, 6 retry later. */
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
