/** The state of a pod's WebSocket, as `pod.connection$` reports it. */
export type ConnectionState =
  | { readonly state: 'connecting'; readonly attempt: number }
  | { readonly state: 'open'; readonly connectTimeMs: number }
  | {
      readonly state: 'reconnecting'
      readonly attempt: number
      readonly delayMs: number
      readonly reason: string
    }
  | { readonly state: 'closed'; readonly reason: string }
  | {
      readonly state: 'failed'
      readonly reason: string
      /** `timeout`, `refused`, `closed`, `stalled`, `http_<status>`, `auth`, `error`. */
      readonly code: string
    }
