import { pyFrame } from './python.js'

/** The frames ComfyUI's executor adds above a node's own code in a traceback. */
export const executorFrames: readonly string[] = [
  pyFrame(
    'ComfyUI/execution.py',
    496,
    'execute',
    'output_data, output_ui, has_subgraph, has_pending_tasks = await get_output_data(prompt_id, unique_id, obj, input_data_all, execution_block_cb=execution_block_cb, pre_execute_cb=pre_execute_cb, hidden_inputs=hidden_inputs)',
  ),
  pyFrame(
    'ComfyUI/execution.py',
    315,
    'get_output_data',
    'return_values = await _async_map_node_over_list(prompt_id, unique_id, obj, input_data_all, obj.FUNCTION, allow_interrupt=True, execution_block_cb=execution_block_cb, pre_execute_cb=pre_execute_cb, hidden_inputs=hidden_inputs)',
  ),
  pyFrame(
    'ComfyUI/execution.py',
    289,
    '_async_map_node_over_list',
    'await process_inputs(input_dict, i)',
  ),
  pyFrame('ComfyUI/execution.py', 277, 'process_inputs', 'result = f(**inputs)'),
]
