/** Where the command writes: `process.stdout`, `process.stderr`, or a test's recorder. */
export interface CliOutput {
  write(chunk: string): unknown
  /** Whether it is a terminal (progress bar redrawn in place) or not (one line per update). */
  readonly isTTY?: boolean
  /** The terminal's width. */
  readonly columns?: number
}

/** What every command gets from `runCli`, with the defaults applied. */
export interface CliContext {
  readonly stdout: CliOutput
  readonly stderr: CliOutput
  readonly env: Readonly<Record<string, string | undefined>>
  readonly fetch: typeof fetch
  readonly signal: AbortSignal | undefined
}
