import { postPrompt } from './postPrompt.js'
import type { QueueItem } from './PromptQueue.js'
import { isDict, pyInt, pyTruthy } from './python.js'
import { readBody, readJson, TooLarge } from './readBody.js'
import { empty, json } from './Reply.js'
import type { Route, RouteArgs } from './Route.js'

// server.py's routes of the prompt queue: submit, list, delete, history, interrupt, free.

const jsonBody = ({ ctx, req }: RouteArgs) => readJson(req, ctx.maxUploadSize)

const queueTuple = (item: QueueItem) => [
  item.number,
  item.promptId,
  item.prompt,
  item.extraData,
  item.outputsToExecute,
]

/** /prompt, /queue, /history, /history/{prompt_id}, /interrupt and /free, in server.py's order. */
export const promptRoutes: readonly Route[] = [
  [
    /^\/prompt$/,
    {
      GET: ({ ctx }) =>
        json(200, { exec_info: { queue_remaining: ctx.runtime().queue.remaining } }),
      POST: async (args) => postPrompt(args.ctx, await jsonBody(args)),
    },
  ],
  [
    /^\/queue$/,
    {
      GET: ({ ctx }) => {
        const queue = ctx.runtime().queue
        return json(200, {
          queue_running: queue.current === undefined ? [] : [queueTuple(queue.current)],
          queue_pending: queue.pending.map(queueTuple),
        })
      },
      POST: async (args) => {
        const body = await jsonBody(args)
        const queue = args.ctx.runtime().queue
        if (isDict(body)) {
          if ('clear' in body && pyTruthy(body['clear'])) queue.wipe()
          if ('delete' in body && Array.isArray(body['delete'])) {
            for (const id of body['delete']) queue.delete(id)
          }
        }
        return empty
      },
    },
  ],
  [
    /^\/history$/,
    {
      GET: ({ ctx, query }) => {
        const maxItems = query.get('max_items')
        const offset = query.get('offset')
        return json(
          200,
          ctx
            .runtime()
            .queue.historySlice(
              maxItems === null ? undefined : pyInt(maxItems),
              offset === null ? -1 : pyInt(offset),
            ),
        )
      },
      POST: async (args) => {
        const body = await jsonBody(args)
        const queue = args.ctx.runtime().queue
        if (isDict(body)) {
          if ('clear' in body && pyTruthy(body['clear'])) queue.wipeHistory()
          if ('delete' in body && Array.isArray(body['delete'])) {
            for (const id of body['delete']) queue.deleteHistory(id)
          }
        }
        return empty
      },
    },
  ],
  [
    /^\/history\/(.+)$/,
    {
      GET: ({ ctx, param }) => {
        const entry = ctx.runtime().queue.historyEntry(param)
        return json(200, entry === undefined ? {} : { [param]: entry })
      },
    },
  ],
  [
    /^\/interrupt$/,
    {
      POST: async ({ ctx, req }) => {
        let body: unknown = {}
        try {
          body = JSON.parse((await readBody(req, ctx.maxUploadSize)).toString('utf8'))
        } catch (error) {
          if (error instanceof TooLarge) throw error
        }
        const runtime = ctx.runtime()
        const promptId = isDict(body) ? body['prompt_id'] : undefined
        // Targeted: only the prompt now running; a pending one is left alone.
        if (pyTruthy(promptId)) runtime.interruptIfRunning(promptId)
        else runtime.interrupt.requested = true
        return empty
      },
    },
  ],
  [
    /^\/free$/,
    {
      POST: async (args) => {
        const body = await jsonBody(args)
        if (isDict(body) && pyTruthy(body['free_memory'])) args.ctx.runtime().freeMemory()
        return empty
      },
    },
  ],
]
