import type { ServerResponse } from 'node:http'
import { invalid } from '../internal/optionChecks.js'
import type { EndpointFailure, NodeFailure } from './ComfySimulator.js'
import type { InjectedFailure } from './ExecutionEnv.js'
import { stripApi } from './handleHttpRequest.js'
import { INTERNAL_ERROR_TEXT } from './Reply.js'

interface ActiveFailure<T> {
  readonly spec: T
  remaining: number
}

const STATUS_BODIES: Record<number, string> = { 500: INTERNAL_ERROR_TEXT }

// `times` may be Infinity ("until cleared"), which the finite-number checks refuse.
function checkTimes(name: string, times: unknown): void {
  if (typeof times !== 'number' || !(times >= 1)) invalid(name, times, 'a number >= 1')
}

/**
 * What the fault controls of a simulator have set: node failures and HTTP answers still to
 * inject, refused sockets, and the downtime of a restart.
 */
export class FaultInjector {
  /** While on, WebSocket upgrades are refused. */
  refusingSockets = false
  /** From the start of a restart to the end of its downtime: every TCP connection is reset. */
  down = false
  private readonly nodeFailures: ActiveFailure<NodeFailure>[] = []
  private readonly endpointFailures: ActiveFailure<EndpointFailure>[] = []
  private downtime: { readonly timer: NodeJS.Timeout; readonly end: () => void } | undefined

  failNode(failure: NodeFailure): void {
    if (failure.nodeId === undefined && failure.classType === undefined) {
      throw new TypeError('NodeFailure needs a nodeId or a classType, got neither')
    }
    const { times = 1 } = failure
    checkTimes('NodeFailure.times', times)
    this.nodeFailures.push({ spec: failure, remaining: times })
  }

  clearNodeFailures(): void {
    this.nodeFailures.length = 0
  }

  failEndpoint(failure: EndpointFailure): void {
    const { status, times = 1 } = failure
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 100) {
      invalid('EndpointFailure.status', status, 'an integer >= 100')
    }
    checkTimes('EndpointFailure.times', times)
    this.endpointFailures.push({ spec: failure, remaining: times })
  }

  clearEndpointFailures(): void {
    this.endpointFailures.length = 0
  }

  /** The failure to inject into this execution of a node, used up by it. */
  takeNodeFailure(nodeId: string, classType: string): InjectedFailure | undefined {
    const i = this.nodeFailures.findIndex(
      ({ spec }) =>
        (spec.nodeId === undefined || spec.nodeId === nodeId) &&
        (spec.classType === undefined || spec.classType === classType),
    )
    const failure = this.nodeFailures[i]
    if (failure === undefined) return undefined
    if (--failure.remaining <= 0) this.nodeFailures.splice(i, 1)
    return {
      message: failure.spec.message ?? 'Simulated failure',
      exceptionType: failure.spec.exceptionType ?? 'RuntimeError',
      afterSteps: failure.spec.afterSteps,
    }
  }

  /** The answer to inject for this request (path without `/api`), used up by it. */
  takeEndpointFailure(method: string, path: string): EndpointFailure | undefined {
    const i = this.endpointFailures.findIndex(({ spec }) => {
      if (spec.method !== undefined && spec.method.toUpperCase() !== method) return false
      return typeof spec.path === 'string' ? stripApi(spec.path) === path : spec.path.test(path)
    })
    const failure = this.endpointFailures[i]
    if (failure === undefined) return undefined
    if (--failure.remaining <= 0) this.endpointFailures.splice(i, 1)
    return failure.spec
  }

  /** Answers an HTTP request with the injected answer, if there is one; returns whether it did. */
  answerEndpointFailure(method: string, path: string, res: ServerResponse): boolean {
    const failure = this.takeEndpointFailure(method, path)
    if (failure === undefined) return false
    const body =
      failure.body === undefined
        ? (STATUS_BODIES[failure.status] ?? `${failure.status}: Simulated failure`)
        : failure.body
    const isText = typeof body === 'string'
    res.writeHead(failure.status, {
      'Content-Type': isText ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8',
    })
    res.end(isText ? body : JSON.stringify(body))
    return true
  }

  /** Waits out a restart's downtime, unless `endDowntime()` cuts it short. */
  async waitDowntime(downtimeMs: number): Promise<void> {
    if (downtimeMs <= 0) return
    await new Promise<void>((resolve) => {
      this.downtime = { timer: setTimeout(resolve, downtimeMs), end: resolve }
    })
    this.downtime = undefined
  }

  endDowntime(): void {
    if (this.downtime === undefined) return
    clearTimeout(this.downtime.timer)
    this.downtime.end()
  }
}
