import { ComfyError } from './ComfyError.js'

/** The job did not end within its `timeoutMs`, or did not leave the queue within `queueTimeoutMs`. */
export class ComfyTimeoutError extends ComfyError {
  override readonly name = 'ComfyTimeoutError'

  constructor(
    /** The prompt, when it had been queued. */
    readonly promptId: string | undefined,
    /** The limit that was passed. */
    readonly timeoutMs: number,
    /** `job`: the whole job (`timeoutMs`); `queue`: the wait in the queue (`queueTimeoutMs`). */
    readonly phase: 'job' | 'queue' = 'job',
  ) {
    super(
      `${phase === 'queue' ? 'prompt' : 'job'}${promptId === undefined ? '' : ` ${promptId}`} ${
        phase === 'queue' ? 'did not leave the queue' : 'did not end'
      } within ${timeoutMs} ms`,
    )
  }
}
