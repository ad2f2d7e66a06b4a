import type { Connection } from '../../aws/clients.ts';

/** The connection uploads use in this tab; the connection settings view replaces it, everything else reads it. */
class ConnectionState {
  current = $state.raw<Connection>({ kind: 'emulator' });

  /** A short name for the header: where blocks are going. */
  label = $derived.by(() => connectionLabel(this.current));

  /** Switches every new upload to another connection. */
  set(connection: Connection): void {
    this.current = connection;
  }
}

/** A short human name for a connection: "In-browser emulator", "AWS eu-west-1", "Endpoint 127.0.0.1:4566". */
export function connectionLabel(c: Connection): string {
  if (c.kind === 'emulator') return c.encryptionByDefault ? 'In-browser emulator (encryption by default)' : 'In-browser emulator';
  if (c.kind === 'aws') return `AWS ${c.settings.region}`;
  if (c.endpoint) {
    try {
      return `Endpoint ${new URL(c.endpoint).host}`;
    } catch {
      return `Endpoint ${c.endpoint}`;
    }
  }
  return `AWS ${c.region}`;
}

/** The one connection state of the page. */
export const connection = new ConnectionState();
