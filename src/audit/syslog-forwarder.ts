import { hostname } from 'node:os';
import { Socket } from 'node:net';

export interface SyslogOptions {
  readonly host: string;
  readonly port: number;
  /** Records kept while the receiver is away or not reading; past that the oldest are dropped and counted. */
  readonly maxQueue: number;
  /** Bytes handed to the socket and not yet taken by the kernel, at most (a receiver that stopped reading). */
  readonly maxSocketBytes?: number;
  readonly onDrop?: (count: number) => void;
}

export interface SyslogStats {
  /** Records given to `send`. */
  readonly sent: number;
  /** Handed to the kernel (what happens after that, TCP without acknowledgements cannot tell). */
  readonly written: number;
  /** Dropped: queue full, or still in the socket's buffer at a disconnect. */
  readonly dropped: number;
  /** Waiting in the queue. */
  readonly queued: number;
  /** In the socket's buffer, not yet taken by the kernel. */
  readonly inFlight: number;
  /** Bytes held in memory (queue and socket buffer). */
  readonly bufferedBytes: number;
}

/**
 * A copy of the audit trail to a syslog receiver over TCP (RFC 5424 messages, RFC 6587
 * octet-counting framing), records exactly as written locally, chain fields included, so
 * the remote copy verifies too. The local sink stays the record of truth: this copy is
 * sent in the background and reconnects on its own.
 *
 * Memory is bounded whatever the receiver does: while it is away, refusing, or connected but
 * not reading, at most `maxSocketBytes` wait in the socket and `maxQueue` records in the
 * queue; the oldest queued copies are dropped beyond that. Every copy is accounted for:
 * sent = written + dropped + queued + inFlight.
 */
export class SyslogForwarder {
  readonly #o: SyslogOptions;
  readonly #maxSocketBytes: number;
  readonly #host = hostname().replace(/\s/g, '') || '-';
  #socket: Socket | undefined;
  #connected = false;
  /** Bumped at each connection: write callbacks of a closed one are ignored (counted at its close). */
  #generation = 0;
  #queue: string[] = [];
  #queueHead = 0;
  #queuedBytes = 0;
  #inFlight = 0;
  #inFlightBytes = 0;
  #sent = 0;
  #written = 0;
  #dropped = 0;
  #retry: NodeJS.Timeout | undefined;
  #backoff = 100;
  #closed = false;

  constructor(options: SyslogOptions) {
    this.#o = options;
    this.#maxSocketBytes = options.maxSocketBytes ?? 256 * 1024;
    this.#connect();
  }

  stats(): SyslogStats {
    return {
      sent: this.#sent,
      written: this.#written,
      dropped: this.#dropped,
      queued: this.#queue.length - this.#queueHead,
      inFlight: this.#inFlight,
      bufferedBytes: this.#queuedBytes + (this.#socket?.writableLength ?? 0),
    };
  }

  #connect(): void {
    if (this.#closed) return;
    const socket = new Socket();
    this.#socket = socket;
    const generation = ++this.#generation;
    socket.setNoDelay(true);
    socket.on('connect', () => {
      this.#connected = true;
      this.#backoff = 100;
      this.#drain();
    });
    socket.on('drain', () => this.#drain());
    socket.on('error', () => {});
    // Receivers send nothing back; reading anyway notices a receiver that hung up at once.
    socket.resume();
    socket.on('close', () => {
      if (generation !== this.#generation) return;
      this.#connected = false;
      // Copies still in the socket's buffer are gone with it: counted, never silently.
      if (this.#inFlight > 0) this.#drop(this.#inFlight);
      this.#inFlight = 0;
      this.#inFlightBytes = 0;
      if (this.#closed) return;
      this.#generation++;
      this.#retry = setTimeout(() => this.#connect(), this.#backoff);
      this.#retry.unref();
      this.#backoff = Math.min(this.#backoff * 2, 5000);
    });
    socket.connect(this.#o.port, this.#o.host);
    socket.unref();
  }

  #drop(n: number): void {
    this.#dropped += n;
    this.#o.onDrop?.(n);
  }

  /** One audit line (without its newline); `warn` records go out with severity warning. */
  send(line: string, level: 'info' | 'warn'): void {
    const pri = 16 * 8 + (level === 'warn' ? 4 : 6); // facility local0
    const msg = `<${pri}>1 ${new Date().toISOString()} ${this.#host} verdict ${process.pid} audit - ${line}`;
    const framed = `${Buffer.byteLength(msg)} ${msg}`;
    this.#sent++;
    this.#queue.push(framed);
    this.#queuedBytes += framed.length;
    const queued = this.#queue.length - this.#queueHead;
    if (queued > this.#o.maxQueue) {
      const n = queued - this.#o.maxQueue;
      for (let i = 0; i < n; i++) this.#queuedBytes -= this.#queue[this.#queueHead++]!.length;
      this.#compact();
      this.#drop(n);
    }
    this.#drain();
  }

  #compact(): void {
    if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#queueHead);
      this.#queueHead = 0;
    }
  }

  /** Moves queued copies to the socket while it takes them (its buffer below the bound). */
  #drain(): void {
    const socket = this.#socket;
    if (!this.#connected || !socket) return;
    const generation = this.#generation;
    while (this.#queueHead < this.#queue.length && socket.writableLength < this.#maxSocketBytes) {
      let bytes = 0;
      const from = this.#queueHead;
      while (this.#queueHead < this.#queue.length && bytes < 64 * 1024) bytes += this.#queue[this.#queueHead++]!.length;
      const chunk = this.#queue.slice(from, this.#queueHead);
      this.#queuedBytes -= bytes;
      const n = chunk.length;
      this.#inFlight += n;
      this.#inFlightBytes += bytes;
      socket.write(chunk.join(''), (e) => {
        if (e || generation !== this.#generation) return;
        this.#inFlight -= n;
        this.#inFlightBytes -= bytes;
        this.#written += n;
      });
    }
    this.#compact();
    if (this.#queueHead === this.#queue.length) {
      this.#queue = [];
      this.#queueHead = 0;
    }
  }

  /** Sends what is queued if connected (up to a second), then closes; what is left is counted as dropped. */
  async close(): Promise<void> {
    this.#drain();
    this.#closed = true;
    clearTimeout(this.#retry);
    await new Promise<void>((resolve) => {
      if (!this.#socket || !this.#connected) return resolve();
      const timer = setTimeout(resolve, 1000);
      timer.unref();
      const flushLeft = () => {
        this.#drain();
        if (this.#queueHead < this.#queue.length) return;
        this.#socket!.end(() => {
          clearTimeout(timer);
          resolve();
        });
      };
      if (this.#queueHead < this.#queue.length) this.#socket.on('drain', flushLeft);
      else flushLeft();
    });
    const left = this.#queue.length - this.#queueHead + this.#inFlight;
    this.#queue = [];
    this.#queueHead = 0;
    this.#queuedBytes = 0;
    this.#inFlight = 0;
    this.#socket?.destroy();
    if (left > 0) this.#drop(left);
  }
}
