import type { Observable } from 'rxjs'
import { followPrompt } from './followPrompt.js'
import { resolveJobSettings } from './JobSettings.js'
import type { JobContext } from './JobContext.js'
import type { JobEvent } from './JobEvent.js'
import { initialJobState } from './initialJobState.js'
import type { TrackPromptOptions } from './TrackPromptOptions.js'
import { invalid } from '../internal/optionChecks.js'

/**
 * Follows a prompt queued earlier — by this process, or by a previous one with the same
 * clientId: reconciled over REST first (its graph comes from the queue), then the socket.
 *
 * @throws TypeError for an empty promptId or an invalid option
 */
export function trackPrompt(
  context: JobContext,
  promptId: string,
  options: TrackPromptOptions = {},
): Observable<JobEvent> {
  if (typeof promptId !== 'string' || promptId === '') {
    invalid('promptId', promptId, 'a non-empty string')
  }
  const settings = resolveJobSettings(options)
  return followPrompt(context, settings, () => ({
    ownId: promptId,
    initial: initialJobState(
      promptId,
      undefined,
      context.scheduler.now(),
      context.viewUrl,
      context.costModel,
      'queued',
    ),
  }))
}
