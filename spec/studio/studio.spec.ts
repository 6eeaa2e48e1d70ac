import type { ServerResponse } from 'node:http'
import type { Browser, Page } from 'playwright-core'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium } from '../../examples/studio/launchChromium.js'
import { startStudio, type Studio, type StudioOptions } from '../../examples/studio/startStudio.js'

// The studio example in a real headless Chromium (Debian's, through playwright-core), against the
// embedded simulator: 40 sampler steps of 30 ms, slow enough for the bar to show several values.

const SLOW: StudioOptions = {
  simulator: { stepDurationMs: 30, previews: false },
  steps: 40,
  progressThrottleMs: 50,
  retryMs: 100,
}

/** What the page showed, recorded in the page as it changed: bar values and status texts. */
interface Shown {
  readonly values: number[]
  readonly statuses: string[]
}

declare global {
  interface Window {
    shown: Shown
  }
}

// Runs in the page before its own scripts: records every value the bar and the status text take.
function recordWhatIsShown(): void {
  window.shown = { values: [], statuses: [] }
  new MutationObserver(() => {
    const bar = document.querySelector('[role=progressbar]')
    const value = bar?.getAttribute('aria-valuenow')
    if (value != null && window.shown.values.at(-1) !== Number(value))
      window.shown.values.push(Number(value))
    const status = document.querySelector('.progress-status')?.textContent
    if (status != null && window.shown.statuses.at(-1) !== status)
      window.shown.statuses.push(status)
  }).observe(document, {
    subtree: true,
    childList: true,
    characterData: true,
    attributes: true,
    attributeFilter: ['aria-valuenow'],
  })
}

let browser: Browser
let studio: Studio | undefined
let page: Page | undefined

beforeAll(async () => {
  browser = await launchChromium()
  // Returned rather than an afterAll: it runs only once Chromium started, so that a Chromium that
  // could not start fails this file with that reason alone.
  return () => browser.close()
})

afterEach(async () => {
  await page?.close()
  page = undefined
  await studio?.close()
  studio = undefined
})

async function open(options: StudioOptions = SLOW): Promise<{ studio: Studio; page: Page }> {
  studio = await startStudio(options)
  page = await browser.newPage()
  await page.addInitScript(recordWhatIsShown)
  await page.goto(studio.url)
  return { studio, page }
}

const shown = (page: Page) => page.evaluate(() => window.shown)

function expectMonotonic(values: readonly number[]): void {
  expect(values.every((value, i) => i === 0 || value >= values[i - 1]!)).toBe(true)
}

async function expectImage(page: Page): Promise<void> {
  const image = page.getByRole('img', { name: 'Generated image' })
  await image.waitFor()
  // Loaded through the studio's proxy, not the pod's URL.
  expect(await image.getAttribute('src')).toMatch(
    /^\/api\/image\/comfyui\/[0-9a-f-]{36}\/images\/0$/,
  )
  await page.waitForFunction(() => {
    const img = document.querySelector<HTMLImageElement>('img.progress-image')
    return img !== null && img.complete && img.naturalWidth > 0
  })
}

describe('studio example in Chromium', () => {
  it('shows the bar pass through several values, then the image', async () => {
    const { page } = await open()
    await page.getByRole('button', { name: 'Generate' }).click()
    await expectImage(page)
    await expect.poll(() => page.locator('.progress-status').textContent()).toBe('Done')

    const { values, statuses } = await shown(page)
    expect(new Set(values).size).toBeGreaterThanOrEqual(3)
    expectMonotonic(values)
    expect(values.at(-1)).toBe(100)
    expect(statuses.some((status) => /^Processing\.\.\. \d+%$/.test(status))).toBe(true)
    expect(page.url()).toMatch(/\?prompt=[0-9a-f-]{36}$/)
  })

  it('recovers when the progress stream is cut mid-job', async () => {
    const { studio, page } = await open()
    const streams: string[] = []
    let cutBeforeTheEnd: boolean | undefined
    let finished = false
    studio.simulator!.on('promptFinished', () => (finished = true))
    studio.on('progressStream', (promptId, _req, res: ServerResponse) => {
      streams.push(promptId)
      if (streams.length > 1) return
      // Cut the first stream's socket right after it carried some progress, mid-job.
      const write = res.write.bind(res) as (chunk: unknown) => boolean
      res.write = ((chunk: unknown) => {
        const ok = write(chunk)
        if (/"status":"processing","progress":[1-9]/.test(String(chunk)) && !res.destroyed) {
          cutBeforeTheEnd = !finished
          res.socket?.destroy()
        }
        return ok
      }) as typeof res.write
    })

    await page.getByRole('button', { name: 'Generate' }).click()
    await expectImage(page)

    expect(cutBeforeTheEnd).toBe(true)
    expect(streams.length).toBeGreaterThanOrEqual(2)
    expect(new Set(streams).size).toBe(1)
    const { values } = await shown(page)
    expectMonotonic(values)
    expect(values.at(-1)).toBe(100)
  })

  it('shows the state where the job stands after a reload mid-job', async () => {
    const { page } = await open({ ...SLOW, steps: 80 })
    await page.getByRole('button', { name: 'Generate' }).click()
    await page.waitForFunction(() => window.shown.values.some((value) => value > 0))
    const before = (await shown(page)).values.at(-1)!

    await page.reload()
    await page.waitForFunction(() => window.shown.values.length > 0)
    const after = await shown(page)
    // The first value after the reload is the latest state, not a replay from zero.
    expect(after.values[0]).toBeGreaterThanOrEqual(before)
    await expectImage(page)
    expectMonotonic((await shown(page)).values)
  })

  it('shows a clear failure state when the workflow fails', async () => {
    const { studio, page } = await open()
    studio.simulator!.failNode({
      classType: 'KSampler',
      afterSteps: 5,
      message: 'CUDA out of memory',
    })
    await page.getByRole('button', { name: 'Generate' }).click()

    const alert = page.getByRole('alert')
    await alert.waitFor()
    expect(await alert.textContent()).toBe('A step of the workflow failed on the server.')
    await expect.poll(() => page.locator('.progress-status').textContent()).toBe('Failed')
    expect(await page.getByRole('img').count()).toBe(0)
    expect(await page.content()).not.toContain('CUDA')
  })
})
