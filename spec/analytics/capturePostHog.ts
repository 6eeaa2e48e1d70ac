import { createServer, type IncomingHttpHeaders } from 'node:http'
import { gunzipSync } from 'node:zlib'

/** One event of a batch, as posthog-node sends it. */
export interface CapturedEvent {
  readonly event: string
  readonly distinct_id: string
  readonly properties: Record<string, unknown>
  readonly timestamp: string
  readonly uuid: string
}

/** One POST the server received, decoded. */
export interface CapturedBatch {
  readonly path: string
  readonly headers: IncomingHttpHeaders
  /** The body as sent (before gunzip), as text when it was not compressed. */
  readonly raw: Buffer
  readonly json: { api_key: string; batch: CapturedEvent[]; sent_at: string }
}

/** A local stand-in for PostHog's ingestion: records and decodes every batch posted to it. */
export async function capturePostHog(status = 200) {
  const batches: CapturedBatch[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const raw = Buffer.concat(chunks)
      const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw
      batches.push({
        path: req.url ?? '',
        headers: req.headers,
        raw,
        json: JSON.parse(body.toString('utf8')) as CapturedBatch['json'],
      })
      res.writeHead(status, { 'content-type': 'application/json' }).end('{"status":1}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return {
    url: `http://127.0.0.1:${address.port}`,
    batches,
    /** Every event of every batch, in the order sent. */
    get events(): CapturedEvent[] {
      return batches.flatMap((batch) => batch.json.batch)
    },
    /** Every body, decompressed, as text. */
    get bodies(): string {
      return batches
        .map((batch) =>
          (batch.headers['content-encoding'] === 'gzip'
            ? gunzipSync(batch.raw)
            : batch.raw
          ).toString('utf8'),
        )
        .join('\n')
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
