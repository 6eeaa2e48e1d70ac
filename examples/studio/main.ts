/**
 * `npm run example:studio`: the studio page on http://127.0.0.1:3000 (PORT), running workflows on
 * the pod at COMFYUI_URL or, without it, on an embedded ComfyUI simulator.
 */
import { startStudio } from './startStudio.js'

const studio = await startStudio({
  ...(process.env['COMFYUI_URL'] === undefined ? {} : { comfyuiUrl: process.env['COMFYUI_URL'] }),
  port: Number(process.env['PORT'] ?? 3000),
})
console.log(
  `studio: ${studio.url}${studio.simulator === undefined ? '' : ' (embedded simulator; set COMFYUI_URL for a real pod)'}`,
)
const stop = () => void studio.close().then(() => process.exit(0))
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
