/**
 * The attach hand-off: `X.attach(handle)` verifies what another worker sent, then builds the
 * object through X's own constructor (so attached and created objects share one shape, and V8
 * keeps their call sites monomorphic). The verified state travels to that one constructor call
 * through a hand-off: given just before the call, taken (and cleared) by the constructor.
 */
export class HandOff<T> {
  private value: T | null = null;

  /** Builds with `value` handed to the constructor `make` calls; cleared whatever happens. */
  build<R>(value: T, make: () => R): R {
    this.value = value;
    try {
      return make();
    } finally {
      this.value = null;
    }
  }

  /** What attach() handed over for this constructor call, or null for an ordinary one. */
  take(): T | null {
    const v = this.value;
    this.value = null;
    return v;
  }
}
