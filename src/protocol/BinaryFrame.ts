import * as t from 'io-ts'

/** The metadata JSON in front of a type-4 preview (§2.14). */
export const PreviewMetadata = t.intersection([
  t.type({ node_id: t.string, prompt_id: t.string }),
  t.partial({
    display_node_id: t.string,
    parent_node_id: t.union([t.string, t.null]),
    real_node_id: t.string,
    image_type: t.string,
  }),
])
export type PreviewMetadata = t.TypeOf<typeof PreviewMetadata>

/** Binary type 1: a preview image with no node or prompt id (§2.14). */
export interface PreviewImageFrame {
  readonly type: 'preview_image'
  readonly mime: 'image/jpeg' | 'image/png'
  readonly image: Uint8Array
}

/** Binary type 4: a preview image with the node and prompt it belongs to (§2.14). */
export interface PreviewImageWithMetadataFrame {
  readonly type: 'preview_image_with_metadata'
  readonly mime: string
  readonly image: Uint8Array
  readonly metadata: PreviewMetadata
}

/** Binary type 3: a node's progress text; no prompt id (§2.14). */
export interface ProgressTextFrame {
  readonly type: 'progress_text'
  readonly nodeId: string
  readonly text: string
}

/** A binary frame of an event type this library does not know, kept raw. */
export interface UnknownBinaryFrame {
  readonly type: 'unknown_binary'
  readonly eventType: number
  readonly data: Uint8Array
}

/** Every decoded binary frame. */
export type BinaryFrame =
  PreviewImageFrame | PreviewImageWithMetadataFrame | ProgressTextFrame | UnknownBinaryFrame
