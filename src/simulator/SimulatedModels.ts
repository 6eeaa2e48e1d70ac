/** Model files the loader nodes list (their combo inputs); the simulator's `models` option. */
export interface SimulatedModels {
  readonly checkpoints: readonly string[]
  readonly vae: readonly string[]
}
