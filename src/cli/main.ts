#!/usr/bin/env node
// The `comfyui-rx` bin. Everything testable is in runCli; this file only wires the process.
import { runCli } from './runCli.js'

const controller = new AbortController()
const onSignal = (signal: NodeJS.Signals): void => {
  // A second Ctrl-C does not wait for the cancellation the first one started.
  if (controller.signal.aborted) process.exit(130)
  controller.abort(new Error(`received ${signal}`))
}
process.on('SIGINT', onSignal)
process.on('SIGTERM', onSignal)
// `comfyui-rx run … | head -3`: once the reader has gone, the job still runs to its end and the
// exit code still tells how it went; an EPIPE must not crash the process half-way.
process.stdout.on('error', () => undefined)

// No top-level await: the bin is also built as CommonJS.
runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: controller.signal,
}).then(
  (code) => {
    process.exitCode = code
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  },
  (error: unknown) => {
    console.error(error)
    process.exitCode = 1
  },
)
