import type { ObservableInput } from 'rxjs'
import { invalid, nonNegative, positiveOrInfinity } from '../internal/optionChecks.js'
import type { JobState } from './JobState.js'
import type { TrackPromptOptions } from './TrackPromptOptions.js'

/** How a job starts: its own id, its first state, and how its prompt gets queued. */
export interface FollowPlan {
  /** The id routed before anything is sent. */
  readonly ownId: string
  readonly initial: JobState
  /**
   * `POST /prompt`, sent once the socket is open (or given up on, with the fallback); answers
   * the pod's id. Absent for a prompt queued earlier, which starts with a REST round.
   */
  readonly submit?: () => ObservableInput<{ readonly promptId: string }>
}

/** A job's options with their defaults in place. */
export type JobSettings = Required<Omit<TrackPromptOptions, 'signal'>> & {
  readonly signal: AbortSignal | undefined
}

/**
 * The options every job has, with their defaults (the one place they are set) and checked. Jobs
 * that set none (or only defaults) share one settings object: 10,000 waiting jobs hold one.
 *
 * @throws TypeError naming the first invalid option
 */
export function resolveJobSettings(options: TrackPromptOptions): JobSettings {
  const settings = checkedSettings(options)
  return SETTING_NAMES.every((name) => settings[name] === DEFAULT_SETTINGS[name])
    ? DEFAULT_SETTINGS
    : settings
}

function checkedSettings(options: TrackPromptOptions): JobSettings {
  const {
    progressThrottleMs = 1000,
    timeoutMs = 1_800_000,
    queueTimeoutMs = Number.POSITIVE_INFINITY,
    pollIntervalMs = 1000,
    stallTimeoutMs = 60_000,
    cancelOnUnsubscribe = false,
    restFallback = true,
    socket = true,
    signal,
  } = options
  nonNegative('progressThrottleMs', progressThrottleMs)
  positiveOrInfinity('timeoutMs', timeoutMs)
  positiveOrInfinity('queueTimeoutMs', queueTimeoutMs)
  positiveOrInfinity('pollIntervalMs', pollIntervalMs)
  positiveOrInfinity('stallTimeoutMs', stallTimeoutMs)
  if (typeof cancelOnUnsubscribe !== 'boolean')
    invalid('cancelOnUnsubscribe', cancelOnUnsubscribe, 'a boolean')
  if (typeof restFallback !== 'boolean') invalid('restFallback', restFallback, 'a boolean')
  if (typeof socket !== 'boolean') invalid('socket', socket, 'a boolean')
  if (!socket && !restFallback) {
    throw new TypeError(
      'socket: false needs restFallback: a job without either has no way to follow',
    )
  }
  if (signal !== undefined && !(signal instanceof AbortSignal))
    invalid('signal', signal, 'an AbortSignal')
  return {
    progressThrottleMs,
    timeoutMs,
    queueTimeoutMs,
    pollIntervalMs,
    stallTimeoutMs,
    cancelOnUnsubscribe,
    restFallback,
    socket,
    signal,
  }
}

const DEFAULT_SETTINGS = checkedSettings({})
const SETTING_NAMES = Object.keys(DEFAULT_SETTINGS) as (keyof JobSettings)[]
