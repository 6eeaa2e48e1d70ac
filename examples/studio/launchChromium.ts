import { chromium, type Browser } from 'playwright-core'
import { chromiumPath } from './chromiumPath.js'

/**
 * Debian's Chromium (`apt-get install chromium`), headless, driven by playwright-core: no browser
 * download. CHROMIUM_PATH overrides the executable.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  })
}
