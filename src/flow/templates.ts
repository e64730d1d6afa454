// Persistence templates (ipvsadm -p), with IPVS's semantics:
// - a template binds a client (its address under the -M netmask) to one real server of one
//   service, so all its new connections go there while the template lives;
// - every use restarts the template's timer (the kernel's ip_vs_conn_put on the template);
// - a template that expires while connections it placed are still open restarts its timer
//   instead of dying (the kernel's "controlled" connections), so a client is never moved while a
//   connection of it is alive;
// - a template stays bound to a quiesced (weight 0) server (expire_quiescent_template = 0, the
//   default); the caller drops it when the server leaves or cannot be reached.
// Storage: typed arrays indexed by template id plus one Map from key to id; ids are reused through
// a free list, so steady state allocates nothing. A connection holds a *reference* word (8-bit
// generation, 24-bit id + 1), so releasing a connection of a template that was dropped (its server
// left) and whose id was reused cannot touch the new template.

export class TemplateTable {
  readonly capacity: number;
  private readonly ids = new Map<number, number>();
  private readonly keyOf: Float64Array;
  readonly slot: Uint32Array;
  readonly expires: Uint32Array;
  readonly timeout: Uint32Array;
  /** Live connections placed by this template. */
  readonly controlled: Uint32Array;
  private readonly gen: Uint8Array;
  private readonly free: Int32Array;
  private freeTop = 0;
  /** Templates that could not be created because the table was full (the connection is still
   *  scheduled, just not remembered for its client). */
  full = 0;

  /** At most 2^24 - 1 templates (the reference word's id field). `onCount` hears every change of
   *  the number of templates bound to a slot (the kernel's persistconns). */
  constructor(capacity: number, private readonly onCount: ((slot: number, delta: number) => void) | null = null) {
    capacity = Math.min(capacity, 0xffffff - 1);
    this.capacity = capacity;
    this.gen = new Uint8Array(capacity);
    this.keyOf = new Float64Array(capacity);
    this.slot = new Uint32Array(capacity);
    this.expires = new Uint32Array(capacity);
    this.timeout = new Uint32Array(capacity);
    this.controlled = new Uint32Array(capacity);
    this.free = new Int32Array(capacity);
    for (let i = capacity - 1; i >= 0; i--) this.free[this.freeTop++] = i;
  }

  /** Key of a client of a service: masked client address and a service number < 2^20. */
  static key(maskedClient: number, serviceId: number): number {
    return maskedClient * 1048576 + serviceId;
  }

  get size(): number {
    return this.ids.size;
  }

  /** Live template id for the key, or -1 (an expired one is left for expire()). */
  find(key: number, now: number): number {
    const id = this.ids.get(key);
    if (id === undefined) return -1;
    return this.expires[id]! > now || this.controlled[id]! > 0 ? id : -1;
  }

  /** Bind the key to a slot (replacing any old binding). Returns the id, or -1 when full. */
  bind(key: number, slot: number, timeout: number, now: number): number {
    let id = this.ids.get(key);
    if (id === undefined) {
      if (this.freeTop === 0) {
        this.full++;
        return -1;
      }
      id = this.free[--this.freeTop]!;
      this.ids.set(key, id);
      this.keyOf[id] = key;
      this.controlled[id] = 0;
      this.onCount?.(slot, 1);
    } else if (this.slot[id] !== slot) {
      this.onCount?.(this.slot[id]!, -1);
      this.onCount?.(slot, 1);
    }
    this.slot[id] = slot;
    this.timeout[id] = timeout;
    this.expires[id] = now + timeout;
    return id;
  }

  /** A new connection was placed by template `id`: restart its timer, count it, and return the
   *  reference word the connection keeps (never 0). */
  use(id: number, now: number): number {
    this.controlled[id]!++;
    this.expires[id] = now + this.timeout[id]!;
    return ((this.gen[id]! << 24) | (id + 1)) >>> 0;
  }

  /** A connection holding reference word `ref` went away. */
  release(ref: number): void {
    const id = (ref & 0xffffff) - 1;
    if (id < 0 || this.gen[id] !== ref >>> 24) return;
    if (this.controlled[id]! > 0) this.controlled[id]!--;
  }

  drop(id: number): void {
    const key = this.keyOf[id]!;
    if (this.ids.get(key) !== id) return;
    this.ids.delete(key);
    this.onCount?.(this.slot[id]!, -1);
    this.controlled[id] = 0;
    this.gen[id] = (this.gen[id]! + 1) & 0xff;
    this.free[this.freeTop++] = id;
  }

  /** Expire templates whose time is up; one still controlling connections gets another period. */
  expire(now: number): void {
    for (const id of this.ids.values()) {
      if (this.expires[id]! > now) continue;
      if (this.controlled[id]! > 0) this.expires[id] = now + this.timeout[id]!;
      else this.drop(id);
    }
  }

  /** Drop every template bound to a slot that left its service or lost its MAC. */
  dropSlot(slot: number): void {
    for (const id of this.ids.values()) if (this.slot[id] === slot) this.drop(id);
  }
}
