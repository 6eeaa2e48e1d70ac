export { ComfyPod } from './pod/ComfyPod.js'
export type { ImageReference } from './pod/ImageReference.js'
export type { QueuedPrompt } from './pod/QueuedPrompt.js'
export type { QueueWorkflowOptions } from './pod/QueueWorkflowOptions.js'
export type { ComfyPodOptions, WebSocketFactory } from './pod/ComfyPodOptions.js'
export type { ConnectionState } from './socket/ConnectionState.js'
export type { ConnectionIssue, PodDiagnostic } from './socket/PodDiagnostic.js'

export type { ExecuteWorkflowOptions, PreviewMethod } from './job/ExecuteWorkflowOptions.js'
export type { TrackPromptOptions } from './job/TrackPromptOptions.js'
export type {
  JobCompleted,
  JobEvent,
  JobNodeExecuted,
  JobPreview,
  JobProgress,
  JobQueued,
  JobStarted,
  NodeProgressSummary,
  ProgressActivity,
} from './job/JobEvent.js'
export { CostModel } from './job/CostModel.js'
export type { CostModelOptions, LearnedCost } from './job/CostModel.js'
export type { ClassCost, NodeRun } from './job/ClassCost.js'
export type { ComfyImage, ComfyUIJobResult, JobMethod } from './job/ComfyUIJobResult.js'
export { Workflow, WorkflowNode } from './job/Workflow.js'

export { ComfyError } from './errors/ComfyError.js'
export { ComfyAuthError } from './errors/ComfyAuthError.js'
export { ComfyConnectionError } from './errors/ComfyConnectionError.js'
export { ComfyExecutionError } from './errors/ComfyExecutionError.js'
export { ComfyHttpError } from './errors/ComfyHttpError.js'
export { ComfyInterruptedError } from './errors/ComfyInterruptedError.js'
export { ComfyCancelledError, type CancelledPhase } from './errors/ComfyCancelledError.js'
export { ComfyPromptLostError } from './errors/ComfyPromptLostError.js'
export { ComfyStoreError } from './errors/ComfyStoreError.js'
export { ComfyQueueError } from './errors/ComfyQueueError.js'
export type { ComfyQueueErrorReason } from './errors/ComfyQueueError.js'
export { ComfyTimeoutError } from './errors/ComfyTimeoutError.js'
export { ComfyValidationError, type MissingNodeType } from './errors/ComfyValidationError.js'
export { promptRejectionError } from './errors/promptRejectionError.js'

export { ComfyUIPodClient } from './compat/ComfyUIPodClient.js'
export type { ComfyUIPodClientOptions, ProgressHandler } from './compat/ComfyUIPodClient.js'
export { ComfyUIWebSocketClient } from './compat/ComfyUIWebSocketClient.js'
export type {
  ComfyUIWebSocketClientOptions,
  CompletionHandler,
  ErrorHandler,
} from './compat/ComfyUIWebSocketClientOptions.js'
export type { HandlerErrorReporter } from './compat/callHandler.js'

export { ComfyUIJobRunner } from './runner/ComfyUIJobRunner.js'
export type {
  ComfyUIJobRunnerOptions,
  RunJobOptions,
  SubmitJobOptions,
  PromptTarget,
} from './runner/ComfyUIJobRunnerOptions.js'
export type { RunnerPod, RunnerPodStatus } from './runner/RunnerPod.js'
export type { RunnerMetrics } from './runner/RunnerMetrics.js'

export { InMemoryProgressStore } from './store/InMemoryProgressStore.js'
export type { InMemoryProgressStoreOptions } from './store/InMemoryProgressStore.js'
export type { ProgressStore, ProgressStoreDiagnostic } from './store/ProgressStore.js'
export { publishProgress } from './store/publishProgress.js'
export type { PublishProgressOptions } from './store/publishProgress.js'
export { watchProgress$ } from './store/watchProgress.js'
export type { CostStore } from './store/CostStore.js'
export { shareCostModel } from './store/shareCostModel.js'
export type { ShareCostModelOptions } from './store/shareCostModel.js'

export type { AnalyticsSink } from './analytics/AnalyticsSink.js'
export type {
  AnalyticsEvent,
  AnalyticsEventName,
  FallbackReason,
  JobType,
  JobRestPollingCompletedEvent,
  JobRestPollingFailedEvent,
  JobWebSocketCompletedEvent,
  JobWebSocketFailedEvent,
  ProgressUpdateEvent,
  WebSocketConnectedEvent,
  WebSocketConnectionFailedEvent,
  WebSocketDisconnectedEvent,
  WebSocketFallbackEvent,
} from './analytics/AnalyticsEvent.js'
export { noopAnalyticsSink } from './analytics/noopAnalyticsSink.js'
export { reportJob } from './analytics/reportJob.js'
export type { ReportJobOptions } from './analytics/reportJob.js'
export { reportPod } from './analytics/reportPod.js'
export type { ReportedPod, ReportPodOptions } from './analytics/reportPod.js'

export { toServerSentEvents } from './sse/toServerSentEvents.js'
export { toEventStreamResponse } from './sse/toEventStreamResponse.js'
export type { EventStreamResponseOptions } from './sse/toEventStreamResponse.js'
export type { PromptCanceller, ServerSentEventsOptions } from './sse/ServerSentEventsOptions.js'
export { toProgressUpdate } from './progress/toProgressUpdate.js'
export { toProgressUpdates } from './progress/toProgressUpdates.js'
export type { ProgressUpdateOptions } from './progress/ProgressUpdateOptions.js'
export type { ProgressImage, ProgressStatus, ProgressUpdate } from './progress/ProgressUpdate.js'
export { userSafeMessage } from './progress/userSafeMessage.js'

export { decodeFrame } from './protocol/decodeFrame.js'
export type { PodMessage } from './protocol/decodeFrame.js'
export type { DecodeIssue } from './protocol/DecodeIssue.js'
export type {
  BinaryFrame,
  PreviewImageFrame,
  PreviewImageWithMetadataFrame,
  ProgressTextFrame,
  UnknownBinaryFrame,
} from './protocol/BinaryFrame.js'
export {
  ExecutedMessage,
  ExecutingMessage,
  ExecutionCachedMessage,
  ExecutionErrorMessage,
  ExecutionInterruptedMessage,
  ExecutionStartMessage,
  ExecutionSuccessMessage,
  FeatureFlagsMessage,
  LogsMessage,
  NodeOutput,
  NodeProgress,
  ProgressMessage,
  ProgressStateMessage,
  StatusMessage,
  UnknownMessage,
} from './protocol/ComfyMessage.js'
export type {
  ComfyMessage,
  ExecutionErrorData,
  ExecutionInterruptedData,
} from './protocol/ComfyMessage.js'
export { PreviewMetadata } from './protocol/BinaryFrame.js'
export { History, HistoryEntry, HistoryStatus } from './protocol/History.js'
export {
  DependencyCycleInfo,
  MissingNodeTypeInfo,
  NodeErrors,
  PromptAccepted,
  PromptError,
  PromptRejected,
} from './protocol/PromptResponse.js'
export { Queue, QueueItem } from './protocol/Queue.js'
export { ComfyPackageVersion, SystemStats } from './protocol/SystemStats.js'
export {
  Job,
  JobCancelAnswer,
  JobList,
  JobPagination,
  JobPreviewOutput,
  JobStatus,
  JobWorkflow,
  KnownJobStatus,
} from './protocol/Jobs.js'
