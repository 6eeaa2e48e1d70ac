import { useState, type FormEvent } from 'react'
import { ProgressBar } from './ProgressBar.js'

/** The prompt followed, in the URL (`?prompt=…`), so that a reload comes back to it. */
function promptInUrl(): string | undefined {
  return new URLSearchParams(window.location.search).get('prompt') ?? undefined
}

export function App() {
  const [promptId, setPromptId] = useState(promptInUrl)
  const [text, setText] = useState('a lighthouse on a cliff at dusk, oil painting')
  const [sending, setSending] = useState(false)
  const [refusal, setRefusal] = useState<string>()

  async function generate(event: FormEvent) {
    event.preventDefault()
    setSending(true)
    setRefusal(undefined)
    try {
      const answer = await fetch('/api/image/generate', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: text }),
      })
      const body = (await answer.json()) as { promptId?: string; error?: string }
      if (body.promptId === undefined) throw new Error(body.error ?? 'The job was refused.')
      window.history.replaceState(null, '', `?prompt=${encodeURIComponent(body.promptId)}`)
      setPromptId(body.promptId)
    } catch (error) {
      setRefusal(error instanceof Error ? error.message : String(error))
    } finally {
      setSending(false)
    }
  }

  return (
    <main>
      <h1>comfyui-rx studio</h1>
      <p className="subtitle">Live ComfyUI progress over Server-Sent Events.</p>
      <form onSubmit={generate}>
        <input
          type="text"
          aria-label="Prompt"
          value={text}
          onChange={(event) => setText(event.target.value)}
        />
        <button type="submit" disabled={sending}>
          Generate
        </button>
      </form>
      {refusal === undefined ? null : (
        <p className="progress-error" role="alert">
          {refusal}
        </p>
      )}
      {promptId === undefined ? null : <ProgressBar key={promptId} promptId={promptId} />}
    </main>
  )
}
