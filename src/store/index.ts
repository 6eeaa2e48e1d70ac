// comfyui-rx/store: the Redis progress store, apart so that ioredis stays an optional peer.
export { RedisProgressStore } from './RedisProgressStore.js'
export type { RedisProgressStoreOptions } from './RedisProgressStoreOptions.js'
