/** What a job produces, as the analytics events name it. */
export type JobType = 'image_generation' | 'lora_training' | 'face_swap'

/**
 * Why a job left the socket for REST polling: the socket never opened for it
 * (`connection_failed`), the last attempt to open it timed out (`timeout`), or it was lost
 * (`error`).
 */
export type FallbackReason = 'connection_failed' | 'timeout' | 'error'

/** A pod's socket opened. `connectionTime` in ms. */
export interface WebSocketConnectedEvent {
  readonly event: 'comfyui_websocket_connected'
  readonly properties: {
    readonly clientId: string
    /** The pod's URL, without credentials. */
    readonly serverUrl: string
    readonly connectionTime: number
  }
}

/** An open socket closed or was lost. `duration` in s, since it opened. */
export interface WebSocketDisconnectedEvent {
  readonly event: 'comfyui_websocket_disconnected'
  readonly properties: {
    readonly clientId: string
    /** `idle`, `pod closed`, `closed`, `refused`, `stalled`, … (no credentials). */
    readonly reason: string
    readonly duration: number
  }
}

/** An attempt to open a pod's socket failed (the funnel's connection success rate). */
export interface WebSocketConnectionFailedEvent {
  readonly event: 'comfyui_websocket_connection_failed'
  readonly properties: {
    readonly clientId: string
    /** The pod's URL, without credentials. */
    readonly serverUrl: string
    /** `refused`, `timeout`, `closed`, `http_502`, … or the final error (no credentials). */
    readonly reason: string
    /** 1 for the first attempt after an open (or ever), 2 for the next, … */
    readonly attempt: number
  }
}

/** A job gave up the socket and goes on by REST polling. Sent once per job. */
export interface WebSocketFallbackEvent {
  readonly event: 'comfyui_websocket_fallback'
  readonly properties: {
    readonly promptId: string
    readonly reason: FallbackReason
    readonly fallbackMethod: 'rest_polling'
  }
}

/** A job's progress, 0–100; at most one per throttle window. */
export interface ProgressUpdateEvent {
  readonly event: 'comfyui_progress_update'
  readonly properties: {
    readonly promptId: string
    readonly progress: number
    readonly jobType: JobType
  }
}

/** A job completed; its end was seen on the socket. `duration` in s. */
export interface JobWebSocketCompletedEvent {
  readonly event: 'comfyui_job_websocket_completed'
  readonly properties: {
    readonly promptId: string
    readonly duration: number
    readonly progressUpdates: number
    readonly method: 'websocket'
  }
}

/** A job failed while it used the socket. */
export interface JobWebSocketFailedEvent {
  readonly event: 'comfyui_job_websocket_failed'
  readonly properties: {
    readonly promptId: string
    /** `ErrorName: message`, without credentials. */
    readonly error: string
    readonly method: 'websocket'
  }
}

/** A job completed; its end was found by REST polling. `duration` in s. */
export interface JobRestPollingCompletedEvent {
  readonly event: 'comfyui_job_rest_polling_completed'
  readonly properties: {
    readonly promptId: string
    readonly duration: number
    readonly progressUpdates: number
    readonly method: 'rest_polling'
  }
}

/** A job failed after it had fallen back to REST polling. */
export interface JobRestPollingFailedEvent {
  readonly event: 'comfyui_job_rest_polling_failed'
  readonly properties: {
    readonly promptId: string
    /** `ErrorName: message`, without credentials. */
    readonly error: string
    readonly method: 'rest_polling'
  }
}

/** Every event an `AnalyticsSink` receives, with exactly the original design's property names. */
export type AnalyticsEvent =
  | WebSocketConnectedEvent
  | WebSocketDisconnectedEvent
  | WebSocketConnectionFailedEvent
  | WebSocketFallbackEvent
  | ProgressUpdateEvent
  | JobWebSocketCompletedEvent
  | JobWebSocketFailedEvent
  | JobRestPollingCompletedEvent
  | JobRestPollingFailedEvent

/** The name of an analytics event. */
export type AnalyticsEventName = AnalyticsEvent['event']
