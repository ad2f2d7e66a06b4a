// One in-memory credential cache per thread: fetched once, refreshed ahead of expiry, shared by every client.
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { serviceClock } from './service-clock.ts';

/** Options of a RefreshingCredentials cache. */
export interface RefreshOptions {
  /** The service's time in epoch ms (expiry is the service's to enforce); default: this thread's service clock. */
  now?: () => number;
  /** Longest lead before expiry at which to refresh (default 5 minutes, as the SDK does). */
  maxLeadMs?: number;
}

/** Lifecycle events, for the UI and for tests that must see a refresh happen. */
export interface RefreshEvent {
  kind: 'fetched' | 'refreshed' | 'failed';
  /** Why a refresh happened: ahead of expiry ('due'), or because the service refused the credentials ('rejected'). */
  reason?: 'due' | 'rejected';
  /** Expiry of the credentials now held (epoch ms), when known. */
  expiration?: number;
  error?: unknown;
}

// Each cache's provider → the cache, so code handed only the provider can still force a refresh through it.
const owners = new WeakMap<AwsCredentialIdentityProvider, RefreshingCredentials>();

/** The cache behind a provider made by RefreshingCredentials, if it is one. */
export function refreshingOf(provider: AwsCredentialIdentityProvider): RefreshingCredentials | undefined {
  return owners.get(provider);
}

/** What a fetch is for: `stale` names the access key the service refused (a forced refresh). */
export interface FetchRequest {
  stale?: string;
}

/**
 * Caches credentials from `fetcher`; refreshes when less than min(maxLead, half the lifetime) remains by the
 * service's clock, so even 2-minute credentials are replaced before they expire. Never persists anything.
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
    private readonly fetcher: (req: FetchRequest) => Promise<AwsCredentialIdentity>,
    opts: RefreshOptions = {},
  ) {
    this.now = opts.now ?? (() => serviceClock.now());
    this.maxLeadMs = opts.maxLeadMs ?? 5 * 60_000;
    owners.set(this.provider, this);
  }

  /**
   * The provider to hand to SDK clients. Marked memoized so the SDK asks it on every request instead of keeping
   * its own copy until 5 minutes before expiry by the local clock (which a slow laptop clock makes too late).
   */
  readonly provider: AwsCredentialIdentityProvider = Object.assign(() => this.get(), { memoized: true });

  /** Fresh-enough credentials: cached, or fetched once for all concurrent callers. */
  get(): Promise<AwsCredentialIdentity> {
    if (this.current && !this.due()) return Promise.resolve(this.current);
    return (this.pending ??= this.fetch());
  }

  /** Drops the cached credentials (e.g. after the service called them expired); the next get fetches. */
  invalidate(): void {
    this.current = undefined;
  }

  /**
   * The service refused `stale` as expired: fetch new credentials once for every caller that saw the refusal.
   * When the cache already holds other credentials (someone refreshed meanwhile), those are returned as they are.
   */
  refreshRejected(stale: string | undefined): Promise<AwsCredentialIdentity> {
    if (this.pending) return this.pending;
    if (this.current && stale !== undefined && this.current.accessKeyId !== stale) return Promise.resolve(this.current);
    return (this.pending = this.fetch({ stale: stale ?? this.current?.accessKeyId ?? '' }));
  }

  /** The access key id of the credentials held now, if any. */
  get accessKeyId(): string | undefined {
    return this.current?.accessKeyId;
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

  private async fetch(req: FetchRequest = {}): Promise<AwsCredentialIdentity> {
    const had = this.current !== undefined || this.fetches > 0;
    try {
      const creds = await this.fetcher(req);
      const exp = creds.expiration?.getTime();
      this.lead = exp === undefined ? 0 : Math.min(this.maxLeadMs, Math.max(0, (exp - this.now()) / 2));
      this.current = creds;
      this.fetches++;
      this.emit(had ? { kind: 'refreshed', reason: req.stale !== undefined ? 'rejected' : 'due', expiration: exp } : { kind: 'fetched', expiration: exp });
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
