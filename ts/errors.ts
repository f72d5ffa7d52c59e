/**
 * The error class every toolrouter function throws, in a module of its own so that the modules
 * under `ts/` can throw it without importing `index` (whose exports they are part of).
 *
 * @example
 * ```ts
 * try { await Router.load('missing.trm') } catch (e) { if (e instanceof ToolrouterError) console.log(e.code) }
 * ```
 */

/** Stable error codes; never renamed. */
export type ToolrouterErrorCode =
  | 'INVALID_ARGUMENT'
  | 'DATASET_INVALID'
  | 'TOOLS_INVALID'
  | 'MODEL_NOT_FOUND'
  | 'MODEL_INVALID'
  | 'MODEL_VERSION'
  | 'IO'
  | 'ABORTED'
  /** Training's loss or weights became non-finite (a learning rate far too high); nothing was saved. */
  | 'TRAINING_DIVERGED'
  | 'DEVICE_UNAVAILABLE'
  | 'INTERNAL'
  /** No prebuilt native addon fits this platform, or its package is not installed. */
  | 'BINARY_NOT_FOUND'

/** Every error toolrouter throws. `code` is stable; `message` names the file, line and field. */
export class ToolrouterError extends Error {
  readonly code: ToolrouterErrorCode
  constructor(code: ToolrouterErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ToolrouterError'
    this.code = code
  }
}

/** `ABORTED` once `signal` has fired: nothing more runs for an aborted call. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new ToolrouterError('ABORTED', 'aborted')
}
