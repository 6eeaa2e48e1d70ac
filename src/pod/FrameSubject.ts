import { Observable, type Observer, type Subscriber } from 'rxjs'

/**
 * The Subject that `share` multicasts a pod's frames through. Not a stock `Subject`: Node loads
 * RxJS's ES5 build, whose `Subject.next` allocates a closure, an iterator and a result per
 * observer on every call — on every frame of the socket. Here `next` walks an array by index, and
 * the array is replaced, never changed, when an observer comes or goes, so that one leaving
 * during `next` makes no other miss the value. Like a `Subject`, an observer that comes after
 * the end hears it.
 */
export class FrameSubject<T> extends Observable<T> implements Observer<T> {
  private observers: readonly Subscriber<T>[] = []
  private ended: { readonly error: unknown } | 'complete' | undefined

  constructor() {
    super((subscriber) => {
      const { ended } = this
      if (ended === 'complete') return subscriber.complete()
      if (ended !== undefined) return subscriber.error(ended.error)
      this.observers = [...this.observers, subscriber]
      return () => {
        this.observers = this.observers.filter((observer) => observer !== subscriber)
      }
    })
  }

  next(value: T): void {
    const { observers } = this
    for (let i = 0; i < observers.length; i++) observers[i]!.next(value)
  }

  error(error: unknown): void {
    if (this.ended !== undefined) return
    this.ended = { error }
    for (const observer of this.end()) observer.error(error)
  }

  complete(): void {
    if (this.ended !== undefined) return
    this.ended = 'complete'
    for (const observer of this.end()) observer.complete()
  }

  private end(): readonly Subscriber<T>[] {
    const { observers } = this
    this.observers = []
    return observers
  }
}
