/** One entry of `error` or `node_errors[id].errors` in a 400 body. */
export interface ValidationError {
  readonly type: string
  readonly message: string
  readonly details: string
  readonly extra_info: Record<string, unknown>
}

/** What validate_inputs returns for a node: `(valid, errors, id)`. */
export type Validated = readonly [valid: boolean, reasons: ValidationError[], id: string]
