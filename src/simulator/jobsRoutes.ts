import { cancelJob, cancelJobs, getJob, listJobs } from './jobsApi.js'
import type { JobsAnswer } from './jobsApi.js'
import { readBody } from './readBody.js'
import { json } from './Reply.js'
import type { Route } from './Route.js'

const answer = ({ status, body }: JobsAnswer) => json(status, body)

/**
 * The Jobs API of 0.33. Registered as /api/jobs… in server.py's table, so served at /api/jobs and
 * /api/api/jobs only.
 */
export const jobsRoutes: readonly Route[] = [
  [/^\/api\/jobs$/, { GET: ({ ctx, query }) => answer(listJobs(ctx.runtime().queue, query)) }],
  [
    /^\/api\/jobs\/cancel$/,
    {
      POST: async ({ ctx, req }) =>
        answer(cancelJobs(ctx.runtime(), (await readBody(req, ctx.maxUploadSize)).toString())),
    },
  ],
  [
    /^\/api\/jobs\/([^{}/]+)\/cancel$/,
    { POST: ({ ctx, param }) => answer(cancelJob(ctx.runtime(), param)) },
  ],
  [
    /^\/api\/jobs\/([^{}/]+)$/,
    { GET: ({ ctx, param }) => answer(getJob(ctx.runtime().queue, param)) },
  ],
]
