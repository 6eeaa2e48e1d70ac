import {
  isDict,
  PyException,
  pyFloat,
  pyFloatOf,
  pyInt,
  pyRepr,
  pyStr,
  pyTruthy,
} from './python.js'
import type { SimulatedInputSpec } from './SimulatedNodeType.js'
import type { ValidationError } from './ValidationError.js'

/** An input's declaration as validate_inputs reports it: its type and a copy of its options. */
export type InputConfig = readonly [type: SimulatedInputSpec[0], extraInfo: Record<string, unknown>]

/**
 * validate_inputs for an input given as a value (a widget), not a link: converts the value to
 * the input's type in place in `inputs`, then checks min, max and the combo list, unless the node
 * validates that input itself (`customValidated`). Returns the error charged to the input, if any.
 */
export function widgetValueError(
  inputs: Record<string, unknown>,
  x: string,
  info: InputConfig,
  customValidated: boolean,
): ValidationError | undefined {
  const [inputType, extraInfo] = info
  let val = inputs[x]
  try {
    if (isDict(val) && '__value__' in val) {
      val = val['__value__']
      inputs[x] = val
    }
    if (inputType === 'INT') val = pyInt(val)
    if (inputType === 'FLOAT') val = pyFloatOf(val)
    if (inputType === 'STRING') val = pyStr(val)
    if (inputType === 'BOOLEAN') val = pyTruthy(val)
    inputs[x] = val
  } catch (error) {
    if (!(error instanceof PyException)) throw error
    return {
      type: 'invalid_input_type',
      message: `Failed to convert an input value to a ${pyStr(inputType)} value`,
      details: `${x}, ${pyStr(val)}, ${error.message}`,
      extra_info: {
        input_name: x,
        input_config: info,
        received_value: val,
        exception_message: error.message,
      },
    }
  }

  if (customValidated) return undefined
  const show = (v: unknown) =>
    inputType === 'FLOAT' && typeof v === 'number' ? pyFloat(v) : pyStr(v)
  if ('min' in extraInfo && typeof val === 'number' && val < (extraInfo['min'] as number)) {
    return {
      type: 'value_smaller_than_min',
      message: `Value ${show(val)} smaller than min of ${show(extraInfo['min'])}`,
      details: x,
      extra_info: { input_name: x, input_config: info, received_value: val },
    }
  }
  if ('max' in extraInfo && typeof val === 'number' && val > (extraInfo['max'] as number)) {
    return {
      type: 'value_bigger_than_max',
      message: `Value ${show(val)} bigger than max of ${show(extraInfo['max'])}`,
      details: x,
      extra_info: { input_name: x, input_config: info, received_value: val },
    }
  }
  if (Array.isArray(inputType) && !inputType.includes(val)) {
    // ComfyUI leaves long lists (scanned model files) out of the answer.
    const long = inputType.length > 20
    return {
      type: 'value_not_in_list',
      message: 'Value not in list',
      details: `${x}: '${pyStr(val)}' not in ${long ? `(list of length ${inputType.length})` : pyRepr(inputType)}`,
      extra_info: { input_name: x, input_config: long ? null : info, received_value: val },
    }
  }
  return undefined
}
