import { useEffect, useState } from 'react'
import { progressUpdates$ } from '../../../src/browser/index.js'
import type { ProgressUpdate } from '../../../src/browser/index.js'

/** What a progress view shows: the latest update, the stream's connection, a fatal error. */
export interface ProgressView {
  readonly update: ProgressUpdate | undefined
  readonly connection: 'connecting' | 'open' | 'reconnecting' | 'closed'
  readonly error: string | undefined
}

const INITIAL: ProgressView = { update: undefined, connection: 'connecting', error: undefined }

/** Follows a prompt's progress stream while the component is mounted. */
export function useProgressUpdates(promptId: string): ProgressView {
  const [view, setView] = useState<ProgressView>(INITIAL)
  useEffect(() => {
    setView(INITIAL)
    const url = `/api/image/comfyui/${encodeURIComponent(promptId)}/progress`
    const subscription = progressUpdates$(url, {
      onConnection: (connection) => setView((current) => ({ ...current, connection })),
    }).subscribe({
      next: (update) => setView((current) => ({ ...current, update })),
      error: () =>
        setView((current) => ({
          ...current,
          connection: 'closed',
          error: 'This job is not known to the server.',
        })),
      complete: () => setView((current) => ({ ...current, connection: 'closed' })),
    })
    return () => subscription.unsubscribe()
  }, [promptId])
  return view
}
