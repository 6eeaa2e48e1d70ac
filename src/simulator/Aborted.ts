/** Thrown by the simulator's sleeps when it stops or restarts: the prompt just vanishes. */
export class Aborted extends Error {}
