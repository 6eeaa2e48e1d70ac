import { invalid } from '../internal/optionChecks.js'
import type { JobType } from './AnalyticsEvent.js'

const JOB_TYPES: readonly unknown[] = ['image_generation', 'lora_training', 'face_swap']

/** Throws the `TypeError` of a `jobType` option that is not one of the design's job types. */
export function assertJobType(jobType: unknown): asserts jobType is JobType {
  if (!JOB_TYPES.includes(jobType)) invalid('jobType', jobType, JOB_TYPES.join(' | '))
}
