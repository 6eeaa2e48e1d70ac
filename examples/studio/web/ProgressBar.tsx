import type { ProgressUpdate } from '../../../src/browser/index.js'
import { useProgressUpdates } from './useProgressUpdates.js'

/** The live progress of one prompt: bar, status, time left, then the image or the failure. */
export function ProgressBar({ promptId }: { readonly promptId: string }) {
  const { update, connection, error } = useProgressUpdates(promptId)
  const percent = Math.round(update?.progress ?? 0)
  const failed = update?.status === 'failed'
  const image = update?.status === 'completed' ? update.images?.[0]?.url : undefined
  return (
    <section className={`progress${failed ? ' failed' : ''}`} aria-live="polite">
      <div className="progress-header">
        <span className="progress-status">{statusText(update, error)}</span>
        {connection === 'reconnecting' ? (
          <span className="progress-connection">Reconnecting…</span>
        ) : (
          <span className="progress-eta">{etaText(update)}</span>
        )}
      </div>
      <div
        className="progress-track"
        role="progressbar"
        aria-label="Generation progress"
        aria-valuemin={0}
        aria-valuemax={100}
        // No value until the server said where the job stands (after a reload, say).
        aria-valuenow={update === undefined ? undefined : percent}
      >
        <div className="progress-fill" style={{ width: `${percent}%` }} />
      </div>
      {failed ? (
        <p className="progress-error" role="alert">
          {update.message ?? 'The image could not be generated.'}
        </p>
      ) : null}
      {image === undefined ? null : (
        <img className="progress-image" src={image} alt="Generated image" />
      )}
    </section>
  )
}

function statusText(update: ProgressUpdate | undefined, error: string | undefined): string {
  if (error !== undefined) return error
  switch (update?.status) {
    case undefined:
      return 'Connecting…'
    case 'queued':
      return update.queuePosition ? `Queued (${update.queuePosition} ahead)…` : 'Queued…'
    case 'processing':
      return `Processing... ${Math.round(update.progress)}%`
    case 'completed':
      return 'Done'
    case 'failed':
      return 'Failed'
  }
}

function etaText(update: ProgressUpdate | undefined): string {
  const seconds = update?.status === 'processing' ? update.estimatedTimeRemaining : undefined
  if (seconds === undefined) return ''
  return seconds < 60
    ? `about ${Math.ceil(seconds)} s left`
    : `about ${Math.ceil(seconds / 60)} min left`
}
