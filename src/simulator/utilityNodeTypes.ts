import { num } from './nodeValues.js'
import { pyStr } from './python.js'
import { pythonRegex, pythonSub } from './pythonRe.js'
import type { SimulatedNodeType } from './SimulatedNodeType.js'

// PreviewAny's text: strings as they are, numbers and booleans with str(), the rest as JSON.
function previewText(value: unknown): string {
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return pyStr(value)
  try {
    return JSON.stringify(value, null, 4)
  } catch {
    return 'source exists, but could not be serialized.'
  }
}

type UtilityNode = 'RegexReplace' | 'PreviewAny'

/** The string and preview utilities. */
export const utilityNodeTypes: Readonly<Record<UtilityNode, SimulatedNodeType>> = {
  RegexReplace: {
    input: {
      required: {
        string: ['STRING', { multiline: true }],
        regex_pattern: ['STRING', { multiline: true }],
        replace: ['STRING', { multiline: true }],
      },
      optional: {
        case_insensitive: ['BOOLEAN', { default: true }],
        multiline: ['BOOLEAN', { default: false }],
        dotall: [
          'BOOLEAN',
          {
            default: false,
            tooltip:
              "When enabled, the dot (.) character will match any character including newline characters. When disabled, dots won't match newlines.",
          },
        ],
        count: [
          'INT',
          {
            default: 0,
            min: 0,
            max: 100,
            tooltip:
              'Maximum number of replacements to make. Set to 0 to replace all occurrences (default). Set to 1 to replace only the first match, 2 for the first two matches, etc.',
          },
        ],
      },
    },
    output: ['STRING'],
    displayName: 'Regex Replace',
    description: 'Find and replace text using regex patterns.',
    category: 'utils/string',
    pythonModule: 'comfy_extras.nodes_string',
    execute: ({ inputs }) => {
      let flags = 'g'
      if (inputs['case_insensitive'] ?? true) flags += 'i'
      if (inputs['multiline'] === true) flags += 'm'
      if (inputs['dotall'] === true) flags += 's'
      const regex = pythonRegex(pyStr(inputs['regex_pattern']), flags)
      const result = pythonSub(
        regex,
        pyStr(inputs['replace']),
        pyStr(inputs['string']),
        num(inputs['count'], 0),
      )
      return { outputs: [result] }
    },
  },
  PreviewAny: {
    input: { required: { source: ['*', {}] } },
    output: [],
    outputNode: true,
    displayName: 'Preview Any',
    category: 'utils',
    pythonModule: 'comfy_extras.nodes_preview_any',
    execute: ({ inputs }) => ({ ui: { text: [previewText(inputs['source'])] } }),
  },
}
