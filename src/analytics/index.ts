// comfyui-rx/analytics: the PostHog sink, apart so that posthog-node stays an optional peer.
export { posthogSink } from './posthogSink.js'
export type { PostHogSink, PostHogSinkOptions } from './posthogSink.js'
