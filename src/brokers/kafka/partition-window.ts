/**
 * The partitions one broker's Fetch session reads at once. A topic of thousands of partitions
 * read all together ends them all late, each holding an open archive block until then; read a
 * window at a time, they end one after another and few open blocks coexist. A partition is
 * admitted, in the order given, as soon as one of the window is done with.
 */
export class PartitionWindow<T> {
  private readonly waiting: readonly T[];
  private next = 0;
  private current: T[] = [];

  constructor(partitions: readonly T[], private readonly size: number) {
    if (!(size >= 1)) throw new RangeError(`partition window: size ${size}`);
    this.waiting = partitions;
    this.admit();
  }

  /** The partitions being read now, at most `size`, in the order they were admitted. */
  get active(): readonly T[] {
    return this.current;
  }

  /** Keeps the active partitions for which `still` holds, admits waiting ones in their place and returns the active ones. */
  keep(still: (p: T) => boolean): readonly T[] {
    this.current = this.current.filter(still);
    this.admit();
    return this.current;
  }

  /** The partitions not admitted yet (left for a later session when this one stops early). */
  notAdmitted(): T[] {
    return this.waiting.slice(this.next);
  }

  private admit(): void {
    while (this.current.length < this.size && this.next < this.waiting.length) this.current.push(this.waiting[this.next++]!);
  }
}
