/** Deltas of a call that began before its attempt was confirmed: held until `attach`, then passed straight on. */
export class HeldDeltas {
  private held: string[] = [];
  private sink: ((text: string) => void) | null = null;

  readonly push = (text: string): void => {
    if (this.sink) this.sink(text);
    else this.held.push(text);
  };

  attach(sink: (text: string) => void): void {
    this.sink = sink;
    for (const text of this.held.splice(0)) sink(text);
  }
}
