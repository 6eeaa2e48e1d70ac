import type { TrackPromptOptions } from './TrackPromptOptions.js'

/** How a pod renders the previews of one prompt (`extra_data.preview_method`, ComfyUI 0.5+). */
export type PreviewMethod = 'none' | 'auto' | 'latent2rgb' | 'taesd' | 'default'

/** Every `PreviewMethod`. */
export const PREVIEW_METHODS: readonly PreviewMethod[] = [
  'none',
  'auto',
  'latent2rgb',
  'taesd',
  'default',
]

/** Options of `pod.executeWorkflow$(workflow, options)`. */
export interface ExecuteWorkflowOptions extends TrackPromptOptions {
  /**
   * `extra_data` sent with the prompt (e.g. `{extra_pnginfo: {workflow}}`); `client_id` is set
   * by the pod.
   * @default {}
   */
  readonly extraData?: Readonly<Record<string, unknown>>
  /**
   * Put the prompt at the front of the pod's queue.
   * @default false
   */
  readonly front?: boolean
  /**
   * The prompt id to ask of the pod (servers from 0.3.45 use it; older ones pick their own, and
   * the events carry theirs). Known before anything is sent, so that a caller can record the job
   * first. Never reuse one. A lower-case hyphenated UUID, as ComfyUI 0.25+ requires
   * (`crypto.randomUUID()`); anything else is a `TypeError` before anything is sent.
   * @default a random UUID
   */
  readonly promptId?: string
  /**
   * Previews for this prompt alone (`extra_data.preview_method`): `'none'` turns them off,
   * the others ask for them even on a pod started without `--preview-method`. ComfyUI 0.5+; older
   * pods ignore it.
   * @default the pod's own setting
   */
  readonly previewMethod?: PreviewMethod
}
