/** An image reference as ComfyUI's outputs give it. */
export interface ImageReference {
  readonly filename: string
  readonly subfolder?: string
  readonly type?: string
}
