import { CliError, ExitCode } from './CliError.js'
import { DEFAULT_URL } from './openPod.js'

const POD_OPTIONS = `  --url <url>               the pod (default: $COMFYUI_URL, else ${DEFAULT_URL})
  -H, --header <header>     "Name: value" sent with every request, e.g. an Authorization
                            header; repeatable (credentials may also go in the URL:
                            http://user:password@host:port)`

const OUTPUT_OPTIONS = `  --out <dir>               download the output images into <dir> (created if missing)
                            instead of printing their URLs
  --json                    NDJSON on stdout: one job event per line (queued, started,
                            progress, preview, node_executed, downloaded), then one
                            "completed" line, or an "error" line
  --progress-interval <ms>  least time between two progress updates
                            (default: 100 on a terminal, else 1000)`

/** `comfyui-rx --help`. */
export const MAIN_USAGE = `Usage: comfyui-rx <command> [options]

Runs ComfyUI workflows on a ComfyUI server ("pod") from the terminal, with live progress.

Commands:
  run <workflow.json>   queue a workflow (API format) and follow it to its end
  watch <promptId>      follow a prompt queued earlier to its end
  simulate              start a ComfyUI simulator, for tests and demos

Options:
  -h, --help            this help; "comfyui-rx <command> --help" for a command's
  -v, --version         the version

Exit codes: 0 done, 1 the job failed or the pod could not be used, 2 bad usage or
input, 130 stopped by Ctrl-C.
`

/** `comfyui-rx run --help`. */
export const RUN_USAGE = `Usage: comfyui-rx run <workflow.json> [options]

Queues a workflow and follows it to its end: a progress bar (percent, node, ETA) on a
terminal, plain lines otherwise. Prints the URLs of the output images, or downloads them.

The workflow must be in ComfyUI's API format: in ComfyUI, menu Workflow → Export (API)
(older versions: turn on "Enable Dev mode Options" in the settings, then "Save (API Format)").

Options:
${POD_OPTIONS}
${OUTPUT_OPTIONS}
  --client-id <id>          the client id to queue the prompt under (default: a random
                            one, printed), for "comfyui-rx watch" to re-attach to it later
  -h, --help                this help

Ctrl-C cancels the prompt on the pod (exit code 130).

Example:
  comfyui-rx run examples/workflows/txt2img.json --url http://127.0.0.1:8188 --out images
`

/** `comfyui-rx watch --help`. */
export const WATCH_USAGE = `Usage: comfyui-rx watch <promptId> [options]

Follows a prompt queued earlier, by this tool or any other client, from where it stands
now to its end, like "run" does; an unknown prompt fails as lost.

ComfyUI sends a prompt's live messages (node, steps, previews) only to the client id it
was queued with. Give it with --client-id to get the live progress bar; this takes over
that client id's messages, so use it when the client that queued the prompt has gone.
Without --client-id, watch follows the prompt over REST polling (/queue, /history):
queued, started and completed, without step progress.

Options:
${POD_OPTIONS}
  --client-id <id>          the client id the prompt was queued with
${OUTPUT_OPTIONS}
  -h, --help                this help

Ctrl-C stops watching and leaves the prompt running (exit code 130).
`

/** `comfyui-rx simulate --help`. */
export const SIMULATE_USAGE = `Usage: comfyui-rx simulate [options]

Starts a ComfyUI simulator: a real HTTP + WebSocket server speaking ComfyUI's protocol
(queue, progress, previews, history, PNG outputs), without a GPU or models. Runs until
Ctrl-C.

Options:
  --port <port>             port to listen on; 0 for a free one (default: 8188)
  --host <host>             address to listen on (default: 127.0.0.1)
  --step-ms <ms>            time of each sampler step (default: 100)
  --node-ms <ms>            time of each node without steps (default: 20)
  --comfy-version <v>       the ComfyUI to behave as: 0.3.64 or 0.33 (Jobs API, UUID
                            prompt ids, newer validation errors) (default: 0.3.64)
  -h, --help                this help
`

/**
 * Runs a `parseArgs` call and words its errors for the CLI.
 *
 * @throws CliError with exit code 2, naming the command's help
 */
export function parseCommandArgs<T>(command: string, parse: () => T): T {
  try {
    return parse()
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause)
    // Node explains at length how to pass a positional that starts with '-'; the first sentence says it.
    throw usageError(command, message.replace(/\. To specify a positional.*$/s, ''), cause)
  }
}

/** A usage error that names the command's help. */
export function usageError(command: string, message: string, cause?: unknown): CliError {
  return new CliError(
    `${message}\nRun "comfyui-rx ${command} --help" for its usage.`,
    ExitCode.usage,
    cause === undefined ? undefined : { cause },
  )
}

/** The options of the commands that follow a job (`run`, `watch`). */
export const FOLLOW_OPTIONS = {
  url: { type: 'string' },
  header: { type: 'string', short: 'H', multiple: true },
  'client-id': { type: 'string' },
  out: { type: 'string' },
  json: { type: 'boolean', default: false },
  'progress-interval': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const
