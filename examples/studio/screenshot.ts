/**
 * `npx tsx examples/studio/screenshot.ts`: the README's screenshot of the studio mid-job
 * (examples/studio/screenshot.png), in Debian's headless Chromium.
 */
import { fileURLToPath } from 'node:url'
import { launchChromium } from './launchChromium.js'
import { startStudio } from './startStudio.js'

const studio = await startStudio({ simulator: { stepDurationMs: 80, previews: false }, steps: 40 })
const browser = await launchChromium()
try {
  const page = await browser.newPage({ viewport: { width: 760, height: 340 } })
  await page.goto(studio.url)
  await page.getByRole('button', { name: 'Generate' }).click()
  await page.waitForFunction(() => {
    const value = document.querySelector('[role=progressbar]')?.getAttribute('aria-valuenow')
    return value != null && Number(value) >= 40 && Number(value) <= 60
  })
  // Freeze the job where it is, so that the picture shows it mid-way.
  studio.simulator?.hangWorker()
  await page.waitForFunction(() =>
    /^Processing\.\.\. \d+%$/.test(document.querySelector('.progress-status')?.textContent ?? ''),
  )
  const path = fileURLToPath(new URL('screenshot.png', import.meta.url))
  await page.screenshot({ path })
  console.log(`saved ${path}`)
} finally {
  await browser.close()
  await studio.close()
}
