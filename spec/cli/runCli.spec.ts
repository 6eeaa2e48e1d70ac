import { once } from 'node:events'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startComfySimulator, type ComfySimulator } from '../../src/simulator/index.js'
import packageJson from '../../package.json' with { type: 'json' }
import { cli, closedPort, PNG_SIGNATURE, tempDir, txt2imgWith, writeJson } from './cliTestKit.js'

let sim: ComfySimulator
let dir: Awaited<ReturnType<typeof tempDir>>
let workflowFile: string

beforeEach(async () => {
  sim = await startComfySimulator({ stepDurationMs: 2, nodeDurationMs: 1 })
  dir = await tempDir()
  workflowFile = await writeJson(dir.path, 'txt2img.json', txt2imgWith(8))
})

afterEach(async () => {
  await sim.close()
  await dir.cleanup()
})

const viewUrl = (): RegExp =>
  new RegExp(`^${sim.url}/view\\?filename=ComfyUI_\\d+_\\.png&subfolder=&type=output$`, 'm')

/** Queues a workflow straight over HTTP, as another client would. */
async function queueElsewhere(clientId: string): Promise<string> {
  const response = await fetch(`${sim.url}/prompt`, {
    method: 'POST',
    body: JSON.stringify({ prompt: txt2imgWith(8), client_id: clientId }),
  })
  return ((await response.json()) as { prompt_id: string }).prompt_id
}

function waitForClient(clientId: string): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (!sim.clientIds.includes(clientId)) return
      sim.off('connection', check)
      resolve()
    }
    sim.on('connection', check)
    check()
  })
}

describe('comfyui-rx run', () => {
  it('runs a workflow to its end, printing progress lines and the URL of its image', async () => {
    const run = cli(['run', workflowFile, '--url', sim.url, '--progress-interval', '0'])
    expect(await run.code).toBe(0)
    expect(run.stderr.text).toBe('')
    const lines = run.stdout.lines
    expect(lines[0]).toMatch(/^pod: http:\/\/127\.0\.0\.1:\d+\/ \(client id [\w-]+\)$/)
    expect(lines[1]).toMatch(/^queued: prompt [\w-]+, position 0$/)
    expect(lines[2]).toBe('started')
    expect(lines).toContain('[##############################] 100.0%')
    expect(lines.some((line) => / node 3 KSampler \d\/8/.test(line))).toBe(true)
    expect(lines.at(-2)).toMatch(/^completed in \d+\.\ds: 1 image$/)
    const url = run.stdout.text.match(viewUrl())?.[0]
    expect(lines.at(-1)).toBe(url)
    const image = await fetch(url!)
    expect(Buffer.from(await image.arrayBuffer()).subarray(0, 8)).toEqual(PNG_SIGNATURE)
  })

  it('takes the pod from COMFYUI_URL when there is no --url', async () => {
    const run = cli(['run', workflowFile], { env: { COMFYUI_URL: sim.url } })
    expect(await run.code).toBe(0)
    expect(run.stdout.text).toMatch(viewUrl())
  })

  it('redraws one bar in place when stdout is a TTY', async () => {
    const run = cli(['run', workflowFile, '--url', sim.url, '--progress-interval', '0'], {
      tty: true,
    })
    expect(await run.code).toBe(0)
    expect(run.stdout.text).toContain('\r\x1b[2K[█')
    expect(run.stdout.text).toContain(`\r\x1b[2K[${'█'.repeat(30)}] 100.0%\ncompleted in`)
    expect(run.stdout.text).toMatch(viewUrl())
  })

  it('prints valid NDJSON with --json, ending with the completed event', async () => {
    const run = cli(['run', workflowFile, '--url', sim.url, '--json', '--progress-interval', '0'])
    expect(await run.code).toBe(0)
    const events = run.stdout.lines.map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(events[0]).toMatchObject({ type: 'queued', position: 0, source: 'websocket' })
    expect(events.filter((event) => event.type === 'completed')).toHaveLength(1)
    const completed = events.at(-1) as {
      type: string
      result: { status: string; images: { url: string }[] }
    }
    expect(completed.type).toBe('completed')
    expect(completed.result.status).toBe('completed')
    expect(completed.result.images[0]!.url).toMatch(viewUrl())
    const progress = events.filter((event) => event.type === 'progress')
    expect(progress.at(-1)).toMatchObject({ progress: 100 })
    const previews = events.filter((event) => event.type === 'preview')
    expect(previews).toHaveLength(8)
    expect(previews[0]).toMatchObject({
      mime: expect.stringMatching(/^image\//),
      bytes: expect.any(Number),
    })
    expect(previews[0]).not.toHaveProperty('image')
  })

  it('downloads the images into --out as PNG files, never overwriting one', async () => {
    const out = join(dir.path, 'images', 'today')
    await mkdir(out, { recursive: true })
    await writeFile(join(out, 'ComfyUI_00001_.png'), 'mine')
    const run = cli(['run', workflowFile, '--url', sim.url, '--out', out])
    expect(await run.code).toBe(0)
    const saved = join(out, 'ComfyUI_00001_-1.png')
    expect(run.stdout.lines.at(-1)).toBe(saved)
    expect(run.stdout.text).not.toMatch(viewUrl())
    expect((await readFile(saved)).subarray(0, 8)).toEqual(PNG_SIGNATURE)
    expect(await readFile(join(out, 'ComfyUI_00001_.png'), 'utf8')).toBe('mine')
  })

  it('reports each download as NDJSON before the completed line', async () => {
    const out = join(dir.path, 'new-dir')
    const run = cli(['run', workflowFile, '--url', sim.url, '--json', '--out', out])
    expect(await run.code).toBe(0)
    const events = run.stdout.lines.map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(events.slice(-2).map((event) => event.type)).toEqual(['downloaded', 'completed'])
    expect(events.at(-2)).toMatchObject({ path: join(out, 'ComfyUI_00001_.png') })
    expect(await readdir(out)).toEqual(['ComfyUI_00001_.png'])
  })

  it('fails with exit code 2 naming a workflow file that does not exist', async () => {
    const run = cli(['run', join(dir.path, 'missing.json'), '--url', sim.url])
    expect(await run.code).toBe(2)
    expect(run.stderr.text).toBe(
      `error: workflow file not found: ${join(dir.path, 'missing.json')}\n`,
    )
    expect(sim.historyPromptIds).toEqual([])
  })

  it('fails with exit code 2 and the line and column of invalid JSON', async () => {
    const file = await writeJson(
      dir.path,
      'broken.json',
      '{\n  "3": {\n    "class_type" "KSampler"\n',
    )
    const run = cli(['run', file, '--url', sim.url])
    expect(await run.code).toBe(2)
    expect(run.stderr.text).toMatch(/broken\.json is not valid JSON: .+ \(line 3, column 18\)\n$/)
  })

  it('fails with exit code 2 and explains how to export the API format for a UI-format workflow', async () => {
    const file = await writeJson(dir.path, 'ui.json', {
      last_node_id: 9,
      last_link_id: 9,
      nodes: [{ id: 3, type: 'KSampler', widgets_values: [156680208700286, 'randomize', 20] }],
      links: [[1, 4, 0, 3, 0, 'MODEL']],
      version: 0.4,
    })
    const run = cli(['run', file, '--url', sim.url])
    expect(await run.code).toBe(2)
    expect(run.stderr.text).toContain(`${file} is a workflow saved in ComfyUI's UI format`)
    expect(run.stderr.text).toContain('Export it in the API format')
    expect(run.stderr.text).toContain('Workflow → Export (API)')
    expect(run.stderr.text).toContain('"Save (API Format)"')
  })

  it('fails with exit code 2 for JSON that is not a map of nodes', async () => {
    const file = await writeJson(dir.path, 'nodes.json', { '3': { inputs: {} } })
    const run = cli(['run', file, '--url', sim.url])
    expect(await run.code).toBe(2)
    expect(run.stderr.text).toContain(
      'is not a ComfyUI workflow in the API format: node "3" has no "class_type"',
    )
  })

  it('fails with exit code 1 at once when the pod cannot be reached', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`
    const run = cli(['run', workflowFile, '--url', url])
    expect(await run.code).toBe(1)
    expect(run.stderr.text).toMatch(
      new RegExp(
        `^error: cannot reach the pod at ${url}/: .*ECONNREFUSED.*\\. Is ComfyUI running there\\?`,
      ),
    )
  })

  it('fails with exit code 2 for a --url that is not http(s)', async () => {
    const run = cli(['run', workflowFile, '--url', 'ftp://pod'])
    expect(await run.code).toBe(2)
    expect(run.stderr.text).toContain('--url must be an http(s) URL')
  })

  it('fails with exit code 1 and the node and exception when a node raises', async () => {
    sim.failNode({ classType: 'KSampler', message: 'CUDA out of memory', afterSteps: 3 })
    const run = cli(['run', workflowFile, '--url', sim.url])
    expect(await run.code).toBe(1)
    expect(run.stderr.text).toMatch(
      /^error: prompt [\w-]+ failed: node 3 \(KSampler\) failed: RuntimeError: CUDA out of memory\n$/,
    )
    // The error starts on a line of its own, after the last progress line.
    expect(run.stdout.text.endsWith('\n')).toBe(true)
  })

  it('fails with exit code 1 and the node errors when the pod rejects the workflow', async () => {
    const workflow = txt2imgWith(8)
    workflow['4'] = { ...workflow['4']!, inputs: { ckpt_name: 'missing.safetensors' } }
    const file = await writeJson(dir.path, 'rejected.json', workflow)
    const run = cli(['run', file, '--url', sim.url])
    expect(await run.code).toBe(1)
    expect(run.stderr.text).toMatch(
      /^error: the pod rejected the workflow: .+\nnode 4 CheckpointLoaderSimple: /,
    )
  })

  it('ends the NDJSON with an error line when the job fails', async () => {
    sim.failNode({ classType: 'VAEDecode' })
    const run = cli(['run', workflowFile, '--url', sim.url, '--json'])
    expect(await run.code).toBe(1)
    const last = JSON.parse(run.stdout.lines.at(-1)!) as Record<string, unknown>
    expect(last).toMatchObject({
      type: 'error',
      name: 'ComfyExecutionError',
      exitCode: 1,
      promptId: expect.any(String),
    })
    expect(last['message']).toContain('node 8 (VAEDecode) failed')
  })

  it('cancels its prompt on the pod and exits with 130 when the signal aborts', async () => {
    sim.pause()
    const controller = new AbortController()
    const queued = once(sim, 'promptQueued')
    const run = cli(['run', workflowFile, '--url', sim.url], { signal: controller.signal })
    const [promptId] = await queued
    expect(sim.pendingPromptIds).toEqual([promptId])
    controller.abort()
    expect(await run.code).toBe(130)
    expect(run.stderr.text).toBe(
      `error: cancelled: prompt ${promptId} was dropped from the pod's queue or interrupted\n`,
    )
    expect(sim.pendingPromptIds).toEqual([])
  })
})

describe('comfyui-rx watch', () => {
  it('follows a prompt queued under --client-id to its end, with live progress', async () => {
    sim.pause()
    const promptId = await queueElsewhere('queued-by-a-script')
    const run = cli([
      'watch',
      promptId,
      '--url',
      sim.url,
      '--client-id',
      'queued-by-a-script',
      '--progress-interval',
      '0',
    ])
    await Promise.all([run.stdout.until(/^queued: /m), waitForClient('queued-by-a-script')])
    sim.resume()
    expect(await run.code).toBe(0)
    expect(run.stdout.lines[0]).toBe(`pod: ${sim.url}/ (client id queued-by-a-script)`)
    expect(run.stdout.text).toContain(`queued: prompt ${promptId}, position 0\nstarted\n`)
    expect(run.stdout.text).toMatch(/ node 3 \d\/8/)
    expect(run.stdout.lines.at(-1)).toMatch(viewUrl())
  })

  it('follows a prompt over REST without --client-id', async () => {
    const promptId = await queueElsewhere('someone-else')
    const run = cli(['watch', promptId, '--url', sim.url, '--json'])
    expect(await run.code).toBe(0)
    const events = run.stdout.lines.map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(events.at(-1)).toMatchObject({ type: 'completed', promptId, source: 'rest_polling' })
    expect(sim.clientIds).toEqual([])
  })

  it('fails with exit code 1 when the pod does not know the prompt', async () => {
    const run = cli(['watch', 'no-such-prompt', '--url', sim.url])
    expect(await run.code).toBe(1)
    expect(run.stderr.text).toBe(
      "error: prompt no-such-prompt is in neither the pod's queue nor its history: it was lost\n",
    )
  })

  it('stops watching with exit code 130 on the signal, leaving the prompt on the pod', async () => {
    sim.pause()
    const promptId = await queueElsewhere('someone-else')
    const controller = new AbortController()
    const run = cli(['watch', promptId, '--url', sim.url], { signal: controller.signal })
    await run.stdout.until(/^queued: /m)
    controller.abort()
    expect(await run.code).toBe(130)
    expect(run.stderr.text).toBe(
      `error: stopped watching prompt ${promptId}; it goes on on the pod\n`,
    )
    expect(sim.pendingPromptIds).toEqual([promptId])
  })
})

describe('comfyui-rx simulate', () => {
  it('serves ComfyUI on --port 0 until the signal aborts', async () => {
    const controller = new AbortController()
    const simulate = cli(['simulate', '--port', '0', '--step-ms', '1', '--node-ms', '1'], {
      signal: controller.signal,
    })
    const [, url] = await simulate.stdout.until(/listening on (http:\/\/127\.0\.0\.1:\d+)\n/)
    const run = cli(['run', workflowFile, '--url', url!])
    expect(await run.code).toBe(0)
    expect(run.stdout.text).toContain(`${url}/view?filename=ComfyUI_00001_.png`)
    expect(simulate.stdout.text).toMatch(
      /prompt \w{8} queued\nprompt \w{8} started\nprompt \w{8} finished: success\n/,
    )
    controller.abort()
    expect(await simulate.code).toBe(0)
    expect(simulate.stdout.lines.at(-1)).toBe('simulator stopped')
    await expect(fetch(`${url}/system_stats`)).rejects.toThrow()
  })

  it('fails with exit code 1 when the port is taken', async () => {
    const simulate = cli(['simulate', '--port', String(sim.port)])
    expect(await simulate.code).toBe(1)
    expect(simulate.stderr.text).toBe(
      `error: port ${sim.port} on 127.0.0.1 is already in use: stop what listens there, or pick another port (--port 0 for a free one)\n`,
    )
  })

  it('behaves as ComfyUI 0.33 with --comfy-version 0.33', async () => {
    const controller = new AbortController()
    const simulate = cli(['simulate', '--port', '0', '--comfy-version', '0.33'], {
      signal: controller.signal,
    })
    const [, url] = await simulate.stdout.until(/listening on (http:\/\/127\.0\.0\.1:\d+)\n/)
    const stats = (await (await fetch(`${url}/system_stats`)).json()) as {
      system: { comfyui_version: string }
    }
    expect(stats.system.comfyui_version).toBe('0.33.0')
    expect((await fetch(`${url}/api/jobs`)).status).toBe(200)
    controller.abort()
    expect(await simulate.code).toBe(0)
  })

  it('fails with exit code 2 for an unknown --comfy-version', async () => {
    const simulate = cli(['simulate', '--comfy-version', '0.40'])
    expect(await simulate.code).toBe(2)
    expect(simulate.stderr.text).toContain('--comfy-version must be one of 0.3.64, 0.33')
  })

  it('fails with exit code 2 for a port out of range', async () => {
    const simulate = cli(['simulate', '--port', '70000'])
    expect(await simulate.code).toBe(2)
    expect(simulate.stderr.text).toContain(
      '--port must be an integer from 0 to 65535, received "70000"',
    )
  })
})

describe('comfyui-rx usage', () => {
  it('prints the usage on stdout with --help and exits 0', async () => {
    const help = cli(['--help'])
    expect(await help.code).toBe(0)
    expect(help.stdout.text).toMatch(/^Usage: comfyui-rx <command>/)
    expect(help.stdout.text).toContain('run <workflow.json>')
  })

  it("prints each command's usage with <command> --help", async () => {
    const run = cli(['run', '--help'])
    const watch = cli(['watch', '-h'])
    const simulate = cli(['help', 'simulate'])
    expect(await Promise.all([run.code, watch.code, simulate.code])).toEqual([0, 0, 0])
    expect(run.stdout.text).toContain('Workflow → Export (API)')
    expect(watch.stdout.text).toContain(
      'Without --client-id, watch follows the prompt over REST polling',
    )
    expect(simulate.stdout.text).toContain('--port <port>')
  })

  it('prints the usage on stderr and exits 2 without a command or with an unknown one', async () => {
    const none = cli([])
    const unknown = cli(['render'])
    expect(await none.code).toBe(2)
    expect(await unknown.code).toBe(2)
    expect(none.stderr.text).toMatch(/^Usage: comfyui-rx/)
    expect(unknown.stderr.text).toMatch(/^error: unknown command "render"\n\nUsage: comfyui-rx/)
  })

  it('exits 2 naming an unknown option or a missing argument', async () => {
    const option = cli(['run', workflowFile, '--colour'])
    const argument = cli(['run'])
    const interval = cli(['watch', 'p', '--progress-interval', 'soon'])
    expect(await Promise.all([option.code, argument.code, interval.code])).toEqual([2, 2, 2])
    expect(option.stderr.text).toBe(
      `error: Unknown option '--colour'\nRun "comfyui-rx run --help" for its usage.\n`,
    )
    expect(argument.stderr.text).toContain('run needs a workflow file')
    expect(interval.stderr.text).toContain(
      '--progress-interval must be a number of milliseconds >= 0',
    )
  })

  it('exits 2 for a header that is not "Name: value", without echoing its value', async () => {
    const run = cli(['run', workflowFile, '--url', sim.url, '-H', 'Authorization Bearer s3cret'])
    expect(await run.code).toBe(2)
    expect(run.stderr.text).toContain('--header must be "Name: value"')
    expect(run.stderr.text).not.toContain('s3cret')
  })

  it('prints the version', async () => {
    const version = cli(['--version'])
    expect(await version.code).toBe(0)
    expect(version.stdout.text).toBe(`${packageJson.version}\n`)
  })
})
