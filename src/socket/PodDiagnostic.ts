import type { DecodeIssue } from '../protocol/DecodeIssue.js'

/** A socket error that the pod will retry (or gave up on); the URL in it carries no credentials. */
export interface ConnectionIssue {
  readonly kind: 'connection_issue'
  readonly url: string
  readonly reason: string
  readonly attempt: number
}

/** What `pod.diagnostics$` reports: frames that could not be decoded, and connection errors. */
export type PodDiagnostic = DecodeIssue | ConnectionIssue
