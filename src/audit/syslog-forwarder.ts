import { hostname } from 'node:os';
import { Socket } from 'node:net';

export interface SyslogOptions {
  readonly host: string;
  readonly port: number;
  /** Records kept while the receiver is away; past that they are dropped and counted. */
  readonly maxQueue: number;
  readonly onDrop?: (count: number) => void;
}

/**
 * A copy of the audit trail to a syslog receiver over TCP (RFC 5424 messages, RFC 6587
 * octet-counting framing), records exactly as written locally, chain fields included, so
 * the remote copy verifies too. The local sink stays the record of truth: this copy is
 * sent in the background and reconnects on its own.
 */
export class SyslogForwarder {
  readonly #o: SyslogOptions;
  readonly #host = hostname().replace(/\s/g, '') || '-';
  #socket: Socket | undefined;
  #connected = false;
  #queue: string[] = [];
  #retry: NodeJS.Timeout | undefined;
  #backoff = 100;
  #closed = false;

  constructor(options: SyslogOptions) {
    this.#o = options;
    this.#connect();
  }

  #connect(): void {
    if (this.#closed) return;
    const socket = new Socket();
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on('connect', () => {
      this.#connected = true;
      this.#backoff = 100;
      this.#drain();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.#connected = false;
      if (this.#closed) return;
      this.#retry = setTimeout(() => this.#connect(), this.#backoff);
      this.#retry.unref();
      this.#backoff = Math.min(this.#backoff * 2, 5000);
    });
    socket.connect(this.#o.port, this.#o.host);
    socket.unref();
  }

  /** One audit line (without its newline); `warn` records go out with severity warning. */
  send(line: string, level: 'info' | 'warn'): void {
    const pri = 16 * 8 + (level === 'warn' ? 4 : 6); // facility local0
    const msg = `<${pri}>1 ${new Date().toISOString()} ${this.#host} verdict ${process.pid} audit - ${line}`;
    this.#queue.push(`${Buffer.byteLength(msg)} ${msg}`);
    if (this.#queue.length > this.#o.maxQueue) {
      const dropped = this.#queue.length - this.#o.maxQueue;
      this.#queue.splice(0, dropped);
      this.#o.onDrop?.(dropped);
    }
    this.#drain();
  }

  #drain(): void {
    if (!this.#connected || !this.#socket || this.#queue.length === 0) return;
    this.#socket.write(this.#queue.join(''));
    this.#queue = [];
  }

  /** Sends what is queued if connected, then closes. */
  async close(): Promise<void> {
    this.#drain();
    this.#closed = true;
    clearTimeout(this.#retry);
    await new Promise<void>((resolve) => {
      if (!this.#socket || !this.#connected) return resolve();
      this.#socket.end(() => resolve());
      setTimeout(resolve, 1000).unref();
    });
    this.#socket?.destroy();
  }
}
