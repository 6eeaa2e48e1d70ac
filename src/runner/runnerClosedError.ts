import { ComfyConnectionError } from '../errors/ComfyConnectionError.js'

/** The error of the jobs a runner's `close()` ends, and of those given to it afterwards. */
export function runnerClosedError(): ComfyConnectionError {
  return new ComfyConnectionError('the job runner is closed', '', 'runner_closed')
}
