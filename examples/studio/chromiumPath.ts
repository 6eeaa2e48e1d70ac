/**
 * The Chromium that `launchChromium` runs: CHROMIUM_PATH, or Debian's (`apt-get install
 * chromium`). A file of its own, so that the tests' setup can check it without loading Playwright.
 */
export function chromiumPath(): string {
  return process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium'
}
