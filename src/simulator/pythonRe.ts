import { executorFrames } from './executorFrames.js'
import { pyFrame } from './python.js'
import { SimulatedNodeError } from './SimulatedNodeError.js'

// Python's `re` and JavaScript's RegExp agree on the common syntax: the simulator translates the
// named-group spellings and reports syntax errors the way `re.error` words them.

/** `re.compile` for RegexReplace: a syntax error raises `re.error`, with RegexReplace's frames. */
export function pythonRegex(pattern: string, flags: string): RegExp {
  const source = pattern.replaceAll('(?P<', '(?<').replace(/\(\?P=(\w+)\)/g, '\\k<$1>')
  try {
    return new RegExp(source, flags)
  } catch (error) {
    throw new SimulatedNodeError(reError(pattern, (error as Error).message), {
      exceptionType: 're.error',
      traceback: [
        ...executorFrames,
        pyFrame(
          'ComfyUI/comfy_extras/nodes_string.py',
          363,
          'execute',
          'result = re.sub(regex_pattern, replace, string, count=count, flags=flags)',
        ),
        pyFrame(
          '/usr/lib/python3.11/re/__init__.py',
          185,
          'sub',
          'return _compile(pattern, flags).sub(repl, string, count)',
        ),
        pyFrame(
          '/usr/lib/python3.11/re/__init__.py',
          294,
          '_compile',
          'p = _compiler.compile(pattern, flags)',
        ),
      ],
    })
  }
}

function reError(pattern: string, jsMessage: string): string {
  const open: number[] = []
  let unmatchedClose = -1
  let classStart = -1
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]
    if (ch === '\\') {
      i++
    } else if (classStart >= 0) {
      if (ch === ']') classStart = -1
    } else if (ch === '[') {
      classStart = i
    } else if (ch === '(') {
      open.push(i)
    } else if (ch === ')') {
      if (open.pop() === undefined && unmatchedClose < 0) unmatchedClose = i
    }
  }
  if (/unterminated group/i.test(jsMessage) && open.length > 0) {
    return `missing ), unterminated subpattern at position ${open[0]}`
  }
  if (/unmatched '\)'/i.test(jsMessage) && unmatchedClose >= 0) {
    return `unbalanced parenthesis at position ${unmatchedClose}`
  }
  if (/unterminated character class/i.test(jsMessage) && classStart >= 0) {
    return `unterminated character set at position ${classStart}`
  }
  if (/\\ at end of pattern/i.test(jsMessage)) {
    return `bad escape (end of pattern) at position ${pattern.length - 1}`
  }
  if (/nothing to repeat/i.test(jsMessage)) return 'nothing to repeat at position 0'
  return `${jsMessage.replace(/^Invalid regular expression: \/.*\/\w*: /s, '').toLowerCase()} at position 0`
}

/** `re.sub` with a Python replacement template (`\1`, `\g<1>`, `\g<name>`); a count of 0 is all. */
export function pythonSub(regex: RegExp, template: string, text: string, count: number): string {
  const expand = (match: RegExpExecArray) =>
    template.replace(/\\(?:g<(\w+)>|(\d{1,2})|(.))/gs, (_, named, digits, other) => {
      const group = named ?? digits
      if (group !== undefined) {
        const value = /^\d+$/.test(group) ? match[Number(group)] : match.groups?.[group]
        return value ?? ''
      }
      const escapes: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\' }
      return escapes[other as string] ?? `\\${other as string}`
    })
  let out = ''
  let last = 0
  let done = 0
  for (const match of text.matchAll(regex)) {
    if (count > 0 && done >= count) break
    out += text.slice(last, match.index) + expand(match)
    last = match.index + match[0].length
    done++
  }
  return out + text.slice(last)
}
