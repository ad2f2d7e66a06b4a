// One in-memory credential cache per thread: fetched once, refreshed ahead of expiry, shared by every client.
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

/** Options of a RefreshingCredentials cache. */
export interface RefreshOptions {
  /** Epoch ms; injectable for tests. */
  now?: () => number;
  /** Longest lead before expiry at which to refresh (default 5 minutes, as the SDK does). */
  maxLeadMs?: number;
}

/** Lifecycle events, for the UI and for tests that must see a refresh happen. */
export interface RefreshEvent {
  kind: 'fetched' | 'refreshed' | 'failed';
  /** Expiry of the credentials now held (epoch ms), when known. */
  expiration?: number;
  error?: unknown;
}

/**
 * Caches credentials from `fetcher`; refreshes when less than min(maxLead, half the lifetime) remains,
 * so even 2-minute credentials are replaced before they expire. Never persists anything.
 */
export class RefreshingCredentials {
  private current?: AwsCredentialIdentity;
  private lead = 0;
  private pending?: Promise<AwsCredentialIdentity>;
  private listeners = new Set<(e: RefreshEvent) => void>();
  private readonly now: () => number;
  private readonly maxLeadMs: number;
  /** How many times credentials were fetched (1 = the first fetch; more = refreshes). */
  fetches = 0;

  constructor(
    private readonly fetcher: () => Promise<AwsCredentialIdentity>,
    opts: RefreshOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.maxLeadMs = opts.maxLeadMs ?? 5 * 60_000;
  }

  /** The provider to hand to SDK clients. */
  readonly provider: AwsCredentialIdentityProvider = () => this.get();

  /** Fresh-enough credentials: cached, or fetched once for all concurrent callers. */
  get(): Promise<AwsCredentialIdentity> {
    if (this.current && !this.due()) return Promise.resolve(this.current);
    return (this.pending ??= this.fetch());
  }

  /** Drops the cached credentials (e.g. after the service called them expired); the next get fetches. */
  invalidate(): void {
    this.current = undefined;
  }

  /** Expiry of the held credentials (epoch ms), if any. */
  get expiration(): number | undefined {
    return this.current?.expiration?.getTime();
  }

  /** Subscribes to fetch/refresh/failure events; returns the unsubscribe function. */
  onEvent(cb: (e: RefreshEvent) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  private due(): boolean {
    const exp = this.current?.expiration?.getTime();
    return exp !== undefined && exp - this.now() <= this.lead;
  }

  private async fetch(): Promise<AwsCredentialIdentity> {
    const had = this.current !== undefined || this.fetches > 0;
    try {
      const creds = await this.fetcher();
      const exp = creds.expiration?.getTime();
      this.lead = exp === undefined ? 0 : Math.min(this.maxLeadMs, Math.max(0, (exp - this.now()) / 2));
      this.current = creds;
      this.fetches++;
      this.emit({ kind: had ? 'refreshed' : 'fetched', expiration: exp });
      return creds;
    } catch (error) {
      this.emit({ kind: 'failed', error });
      throw error;
    } finally {
      this.pending = undefined;
    }
  }

  private emit(e: RefreshEvent): void {
    for (const cb of this.listeners) cb(e);
  }
}
