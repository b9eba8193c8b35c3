/**
 * When a table's queued rows leave next: one timer at a time, or one `setImmediate` for rows due
 * now. An earlier time already set stays; a later one is not set over it.
 */
export class DrainTimer {
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private due = 0;

  constructor(private readonly fire: () => void) {}

  /** Set, and not fired yet. */
  get armed(): boolean {
    return this.timer !== undefined || this.immediate !== undefined;
  }

  /**
   * Fires at `due` (ms since the epoch), unless set for earlier already. Due now or before: after
   * the I/O callbacks of this turn, so rows arriving together share a batch.
   */
  arm(due: number): void {
    if (this.immediate) return;
    if (this.timer) {
      if (this.due <= due) return;
      this.cancel();
    }
    const delay = due - Date.now();
    if (delay <= 0) {
      this.immediate = setImmediate(() => {
        this.immediate = undefined;
        this.fire();
      });
      return;
    }
    this.due = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.fire();
    }, delay);
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }
}
