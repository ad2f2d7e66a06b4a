// The EBS direct API state machine over a store. No I/O of its own: time comes from `clock`, state from the store.
// Constraint checks (shape 2) are the wire layer's job; the model checks semantics, state and tokens.
import { EbsError, checksumMismatch, snapshotNotFound, validation } from './errors.ts';
import {
  BLOCK_SIZE,
  isRejection,
  type BlockRecord,
  type EmulatorStore,
  type SnapshotRecord,
  type StoreRejection,
  type StoredTag,
} from './store.ts';
import { TokenSigner, fromBase64, sha256Base64, toBase64 } from './tokens.ts';
import { Throttle } from './throttle.ts';

/** Runtime-changeable behaviour of the emulator. */
export interface EbsModelConfig {
  /** How long a completed-requested snapshot stays `pending` (ms). */
  completionDelayMs: number;
  /** For this long after StartSnapshot, puts answer 404 (observed AWS lag; 0 = off). */
  putAfterStartLagMs: number;
  /** For this long after completion, reads answer 404 (observed AWS lag; 0 = off). */
  readAfterCompleteLagMs: number;
  /** Pending snapshots allowed per account (AWS: 100). */
  maxPendingSnapshots: number;
  /** 12-digit account id used as OwnerId. */
  accountId: string;
  /** Region of the emulated endpoint (KMS keys must be in it). */
  region: string;
  /** Enforce the per-second request quotas of the reference (per model instance; off by default). */
  enforceQuotas: boolean;
  /** The account's EBS encryption by default: every new snapshot is encrypted whatever `Encrypted` says. */
  encryptionByDefault: boolean;
}

/** EBS direct API operation names. */
export type EbsOperation = 'StartSnapshot' | 'PutSnapshotBlock' | 'CompleteSnapshot' | 'GetSnapshotBlock' | 'ListSnapshotBlocks' | 'ListChangedBlocks';

/** An error to answer instead of running an operation (fault injection for tests and the server's admin endpoint). */
export interface InjectedFault {
  /** Exception name, e.g. `ServiceQuotaExceededException`. */
  code: string;
  status: number;
  message: string;
  reason?: string;
}

/** Options of a model: a store, an optional clock (ms) and any config overrides. */
export interface EbsModelOptions extends Partial<EbsModelConfig> {
  store: EmulatorStore;
  clock?: () => number;
}

/** The visible state of a snapshot at a moment. */
export type SnapshotState = 'pending' | 'completed' | 'error';

/** A snapshot as the EC2 view and the UI see it. */
export interface SnapshotView {
  id: string;
  state: SnapshotState;
  stateMessage: string | null;
  /** 0–100. */
  progress: number;
  volumeSize: number;
  parentId: string | null;
  description: string | null;
  tags: StoredTag[];
  /** ms since epoch. */
  startTime: number;
  encrypted: boolean;
  kmsKeyArn: string | null;
  ownerId: string;
  /** Distinct indices written to this snapshot (inherited ones excluded). */
  ownBlocks: number;
  /** ownBlocks × 524288. */
  ownBytes: number;
  /** Accepted PutSnapshotBlock calls. */
  puts: number;
}

/** The encryption a new snapshot gets: inherited from its parent, asked for, or the account's default. */
type Encryption = Pick<SnapshotRecord, 'encrypted' | 'kmsKeyArn' | 'sseType'>;

/** StartSnapshot parameters (already constraint-checked). */
export interface StartSnapshotInput {
  volumeSize: number;
  parentSnapshotId?: string;
  tags?: StoredTag[];
  description?: string;
  clientToken?: string;
  encrypted?: boolean;
  kmsKeyArn?: string;
  /** Minutes, 10–4320. */
  timeout?: number;
}

/** StartSnapshot response fields (JSON names as on the wire). */
export interface StartSnapshotOutput {
  Description: string | null;
  SnapshotId: string;
  OwnerId: string;
  Status: SnapshotState;
  /** Epoch seconds. */
  StartTime: number;
  VolumeSize: number;
  BlockSize: number;
  Tags: { Key: string; Value: string }[] | null;
  ParentSnapshotId: string | null;
  KmsKeyArn: string | null;
  SseType: string | null;
}

/** PutSnapshotBlock parameters. */
export interface PutSnapshotBlockInput {
  snapshotId: string;
  index: number;
  data: Uint8Array;
  dataLength: number;
  checksum: string;
  checksumAlgorithm: string;
  progress?: number;
  /** The request's Content-Encoding header, if any (only identity is accepted). */
  contentEncoding?: string;
}

/** CompleteSnapshot parameters. */
export interface CompleteSnapshotInput {
  snapshotId: string;
  changedBlocksCount: number;
  checksum?: string;
  checksumAlgorithm?: string;
  checksumAggregationMethod?: string;
}

/** Paging parameters shared by both list operations. */
export interface PageInput {
  maxResults?: number;
  nextToken?: string;
  startingBlockIndex?: number;
}

/** ListSnapshotBlocks response. */
export interface ListSnapshotBlocksOutput {
  Blocks: { BlockIndex: number; BlockToken: string }[];
  ExpiryTime: number;
  VolumeSize: number;
  BlockSize: number;
  NextToken: string | null;
}

/** ListChangedBlocks response. */
export interface ListChangedBlocksOutput {
  ChangedBlocks: { BlockIndex: number; FirstBlockToken: string | null; SecondBlockToken: string | null }[];
  ExpiryTime: number;
  VolumeSize: number;
  BlockSize: number;
  NextToken: string | null;
}

/** GetSnapshotBlock response. */
export interface GetSnapshotBlockOutput {
  data: Uint8Array;
  dataLength: number;
  checksum: string;
  checksumAlgorithm: 'SHA256';
}

/** The model's state as JSON, for an admin endpoint. */
export interface EmulatorDump {
  now: number;
  config: EbsModelConfig;
  store: string;
  snapshots: (SnapshotView & { deleted: boolean; putsByIndex: Record<string, number> })[];
}

const DEFAULT_CONFIG: EbsModelConfig = {
  completionDelayMs: 1000,
  putAfterStartLagMs: 0,
  readAfterCompleteLagMs: 0,
  maxPendingSnapshots: 100,
  accountId: '111122223333',
  region: 'us-east-1',
  enforceQuotas: false,
  encryptionByDefault: false,
};
/** Requests per second per account (and per snapshot for puts), from the reference's Quotas section. */
const QUOTAS: Record<EbsOperation, number> = {
  PutSnapshotBlock: 1000,
  GetSnapshotBlock: 1000,
  ListSnapshotBlocks: 50,
  ListChangedBlocks: 50,
  StartSnapshot: 10,
  CompleteSnapshot: 10,
};
const BLOCK_TOKEN_TTL_MS = 7 * 24 * 3600 * 1000;
const PAGE_TOKEN_TTL_MS = 60 * 60 * 1000;
const DEFAULT_MAX_RESULTS = 10000;
const EMPTY_SHA256 = '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=';

/** The EBS direct API service, executed over a store. */
export class EbsModel {
  /** Mutable at runtime (a server's admin endpoint may change delays). */
  readonly config: EbsModelConfig;
  readonly store: EmulatorStore;
  private readonly clock: () => number;
  private signer?: Promise<TokenSigner>;
  private faults: { op: EbsOperation; fault: InjectedFault }[] = [];
  private quotas = new Throttle();

  constructor(opts: EbsModelOptions) {
    const { store, clock, ...rest } = opts;
    this.store = store;
    this.clock = clock ?? (() => Date.now());
    this.config = { ...DEFAULT_CONFIG };
    for (const [k, v] of Object.entries(rest)) if (v !== undefined) (this.config as unknown as Record<string, unknown>)[k] = v;
  }

  /** Makes the next call of `op` fail with `fault` (one-shot, in this model instance only). */
  failNext(op: EbsOperation, fault: InjectedFault): void {
    this.faults.push({ op, fault });
  }

  /** Injected faults, then quotas: called first by every operation. */
  private gate(op: EbsOperation, snapshotId?: string): void {
    const i = this.faults.findIndex((f) => f.op === op);
    if (i >= 0) {
      const { fault } = this.faults.splice(i, 1)[0]!;
      throw new EbsError(fault.code, fault.status, fault.message, fault.reason);
    }
    if (!this.config.enforceQuotas) return;
    const now = this.clock();
    const limit = QUOTAS[op];
    if (op === 'PutSnapshotBlock' && snapshotId && !this.quotas.admit(`${op}:${snapshotId}`, limit, now)) {
      throw new EbsError('RequestThrottledException', 400, `The rate of ${op} requests for snapshot ${snapshotId} exceeds ${limit} per second. Slow down and retry.`, 'RESOURCE_LEVEL_THROTTLE');
    }
    if (!this.quotas.admit(op, limit, now)) {
      throw new EbsError('RequestThrottledException', 400, `The rate of ${op} requests for this account exceeds ${limit} per second. Slow down and retry.`, 'ACCOUNT_THROTTLED');
    }
  }

  /** Writes to another account's snapshot are refused. */
  private owned(rec: SnapshotRecord): EbsError | undefined {
    if (rec.ownerId === this.config.accountId) return undefined;
    return new EbsError('AccessDeniedException', 403, `Account ${this.config.accountId} is not authorized to write to snapshot ${rec.id}.`, 'UNAUTHORIZED_ACCOUNT');
  }

  /** Current model time (ms). */
  now(): number {
    return this.clock();
  }

  private tokens(): Promise<TokenSigner> {
    this.signer ??= this.store.getSecret().then((s) => TokenSigner.create(s));
    return this.signer;
  }

  /** The visible state of a record at `now`: lazy completion and timeout resolution. */
  stateOf(rec: SnapshotRecord, now: number): { state: SnapshotState; message: string | null; since: number | null } {
    if (rec.failure) return { state: 'error', message: rec.failure.message, since: rec.failure.at };
    if (rec.completion) {
      if (now >= rec.completion.dueAt) return { state: rec.completion.verdict, message: rec.completion.message, since: rec.completion.dueAt };
      return { state: 'pending', message: null, since: null };
    }
    const deadline = (rec.lastWriteTime ?? rec.startTime) + rec.timeoutMinutes * 60_000;
    if (now >= deadline) return { state: 'error', message: 'Snapshot timed out', since: deadline };
    return { state: 'pending', message: null, since: null };
  }

  /** Whether this model's account owns the record: another account's snapshots are not there for it at all. */
  private mine(rec: SnapshotRecord | undefined): rec is SnapshotRecord {
    return rec !== undefined && !rec.deleted && rec.ownerId === this.config.accountId;
  }

  /** A completed, visible snapshot of this account for List/Get, or 404 as the service answers. */
  private async readable(id: string, now: number): Promise<SnapshotRecord> {
    const rec = await this.store.getSnapshot(id);
    if (!this.mine(rec)) throw snapshotNotFound(id);
    const s = this.stateOf(rec, now);
    if (s.state !== 'completed' || now < (s.since ?? 0) + this.config.readAfterCompleteLagMs) throw snapshotNotFound(id);
    return rec;
  }

  /** The lineage of a snapshot: itself, its parent, its parent's parent… */
  private async chain(rec: SnapshotRecord): Promise<SnapshotRecord[]> {
    const out = [rec];
    const seen = new Set([rec.id]);
    for (let p = rec.parentId; p && !seen.has(p); ) {
      const r = await this.store.getSnapshot(p);
      if (!r) break;
      out.push(r);
      seen.add(p);
      p = r.parentId;
    }
    return out;
  }

  /** StartSnapshot: parameter rules, then (in one store transaction) ClientToken replay, lineage and encryption, the pending limit, creation. */
  async startSnapshot(input: StartSnapshotInput): Promise<StartSnapshotOutput> {
    this.gate('StartSnapshot');
    const now = this.clock();
    this.checkStartInput(input);
    const fingerprint = startFingerprint(input);
    const id = newSnapshotId();
    const rec = await this.store.updateSnapshots((all) => {
      const replay = this.replayOf(all, input.clientToken, fingerprint);
      if (replay) return { result: replay };
      const encryption = this.lineageRules(all, input, now);
      this.checkPendingLimit(all, now);
      const created = this.newRecord(id, input, encryption, fingerprint, now);
      return { put: [created], result: created };
    });
    return startOutput(rec);
  }

  /** StartSnapshot's rules on the request alone: reserved tags, the KMS key's region, Encrypted/KmsKeyArn/parent combinations. */
  private checkStartInput(input: StartSnapshotInput): void {
    const reserved = input.tags?.find((t) => t.key.toLowerCase().startsWith('aws:'));
    if (reserved) throw validation('INVALID_TAG', `Tag key '${reserved.key}' is not valid: keys starting with 'aws:' are reserved for AWS use.`);
    if (input.kmsKeyArn) {
      const region = input.kmsKeyArn.split(':')[3];
      if (region !== this.config.region) {
        throw new EbsError('ValidationException', 400, `The KMS key ${input.kmsKeyArn} is not in region ${this.config.region}. Use a key from the snapshot's region.`, 'INVALID_CUSTOMER_KEY');
      }
    }
    const parentId = input.parentSnapshotId ?? null;
    if (input.encrypted === true && parentId) {
      throw validation(
        'INVALID_PARAMETER_VALUE',
        'Encrypted cannot be specified together with ParentSnapshotId: the snapshot inherits the encryption of its parent.',
      );
    }
    if (input.kmsKeyArn && input.encrypted !== true && !parentId) {
      throw validation('INVALID_PARAMETER_VALUE', 'KmsKeyArn requires Encrypted to be true.');
    }
  }

  /** The snapshot this account started with `clientToken` and the same parameters; a conflict if the parameters differ. */
  private replayOf(all: ReadonlyMap<string, SnapshotRecord>, clientToken: string | undefined, fingerprint: string): SnapshotRecord | undefined {
    if (!clientToken) return undefined;
    for (const r of all.values()) {
      if (r.clientToken !== clientToken || r.ownerId !== this.config.accountId) continue;
      if (r.requestFingerprint === fingerprint) return r;
      throw new EbsError('ConflictException', 409, 'Current request does not match request stored with this token.');
    }
    return undefined;
  }

  /** The parent's rules (this account's, completed, no larger) and the encryption the new snapshot gets. */
  private lineageRules(all: ReadonlyMap<string, SnapshotRecord>, input: StartSnapshotInput, now: number): Encryption {
    const parentId = input.parentSnapshotId ?? null;
    let encrypted = input.encrypted === true || this.config.encryptionByDefault;
    let kmsKeyArn = input.kmsKeyArn ?? null;
    // A key named in the request is a customer key; otherwise the AWS managed key, unless the parent's key is inherited.
    let sseType: SnapshotRecord['sseType'] = input.kmsKeyArn ? 'sse-kms' : 'sse-ebs';
    if (parentId) {
      const parent = all.get(parentId);
      if (!this.mine(parent)) throw snapshotNotFound(parentId);
      if (this.stateOf(parent, now).state !== 'completed') {
        throw validation('INVALID_SNAPSHOT_ID', `Source snapshot (${parentId}) is not complete.`);
      }
      if (input.volumeSize < parent.volumeSize) {
        throw validation(
          'INVALID_VOLUME_SIZE',
          `The volume size ${input.volumeSize} GiB is smaller than the volume size ${parent.volumeSize} GiB of the parent snapshot ${parentId}.`,
        );
      }
      if (parent.encrypted) {
        encrypted = true;
        if (!input.kmsKeyArn) {
          kmsKeyArn = parent.kmsKeyArn;
          if (parent.sseType !== 'none') sseType = parent.sseType;
        }
      }
    }
    if (encrypted) kmsKeyArn ??= `arn:aws:kms:${this.config.region}:${this.config.accountId}:key/00000000-0000-4000-8000-00000000eb50`;
    return { encrypted, kmsKeyArn, sseType: encrypted ? sseType : 'none' };
  }

  /** Refuses a new snapshot when the account already has the maximum of pending ones. */
  private checkPendingLimit(all: ReadonlyMap<string, SnapshotRecord>, now: number): void {
    let pending = 0;
    for (const r of all.values()) if (!r.deleted && this.stateOf(r, now).state === 'pending') pending++;
    if (pending >= this.config.maxPendingSnapshots) {
      throw new EbsError(
        'ConcurrentLimitExceededException',
        400,
        `You have reached the limit of ${this.config.maxPendingSnapshots} concurrent pending snapshots. Complete or wait for some snapshots before starting another.`,
      );
    }
  }

  /** The record of a snapshot started now. */
  private newRecord(
    id: string,
    input: StartSnapshotInput,
    { encrypted, kmsKeyArn, sseType }: Encryption,
    fingerprint: string,
    now: number,
  ): SnapshotRecord {
    return {
      id,
      ownerId: this.config.accountId,
      volumeSize: input.volumeSize,
      parentId: input.parentSnapshotId ?? null,
      description: input.description ?? null,
      tags: input.tags ?? [],
      encrypted,
      kmsKeyArn,
      sseType,
      timeoutMinutes: input.timeout ?? 60,
      startTime: now,
      lastWriteTime: null,
      clientToken: input.clientToken ?? null,
      requestFingerprint: fingerprint,
      completion: null,
      failure: null,
      deleted: false,
      ownBlocks: 0,
      puts: 0,
    };
  }

  /** PutSnapshotBlock: verifies the checksum on the bytes received and answers once the block is durable. */
  async putSnapshotBlock(input: PutSnapshotBlockInput): Promise<{ checksum: string; checksumAlgorithm: 'SHA256' }> {
    this.gate('PutSnapshotBlock', input.snapshotId);
    if (input.contentEncoding && !/^identity$/i.test(input.contentEncoding)) {
      throw validation('INVALID_CONTENT_ENCODING', `Content encoding '${input.contentEncoding}' is not supported: send the block uncompressed.`);
    }
    if (input.checksumAlgorithm !== 'SHA256') {
      throw validation(
        'INVALID_PARAMETER_VALUE',
        `Unsupported Checksum Algorithm '${input.checksumAlgorithm}', supported algorithms are SHA256`,
      );
    }
    if (input.data.length < input.dataLength) throw validation('INVALID_PARAMETER_VALUE', 'Failed to read block data');
    if (input.dataLength !== BLOCK_SIZE || input.data.length !== BLOCK_SIZE) {
      const n = input.dataLength !== BLOCK_SIZE ? input.dataLength : input.data.length;
      throw validation('INVALID_BLOCK', `Block data length ${n} is not valid, expected ${BLOCK_SIZE}`);
    }
    const digest = await sha256Base64(input.data);
    const now = this.clock();
    const reject = (error: EbsError): StoreRejection => ({ rejected: true, error });
    const [outcome] = await this.store.putBlocks([
      {
        snapshotId: input.snapshotId,
        index: input.index,
        digest,
        data: input.data,
        now,
        check: (rec) => {
          if (!rec || rec.deleted) return reject(snapshotNotFound(input.snapshotId));
          if (now < rec.startTime + this.config.putAfterStartLagMs) return reject(snapshotNotFound(input.snapshotId));
          const denied = this.owned(rec);
          if (denied) return reject(denied);
          const s = this.stateOf(rec, now);
          if (s.state === 'error') return reject(snapshotNotFound(input.snapshotId));
          if (s.state === 'completed' || rec.completion) {
            return reject(validation('INVALID_SNAPSHOT_ID', 'Snapshot is already completed'));
          }
          if (input.index >= rec.volumeSize * 2048) {
            return reject(validation('INVALID_BLOCK', `Block index ${input.index} is beyond the volume size extent`));
          }
          if (digest !== input.checksum) return reject(checksumMismatch(digest, input.checksum));
          return { ...rec, lastWriteTime: now };
        },
      },
    ]);
    if (!outcome) throw new Error('store returned no outcome');
    if (isRejection(outcome)) throw outcome.error;
    return { checksum: digest, checksumAlgorithm: 'SHA256' };
  }

  /** CompleteSnapshot: 202 `pending` now; the verdict (completed / error) shows after the completion delay. */
  async completeSnapshot(input: CompleteSnapshotInput): Promise<{ Status: SnapshotState }> {
    this.gate('CompleteSnapshot');
    const hasSum = input.checksum !== undefined;
    if (hasSum && input.checksumAlgorithm === undefined) {
      throw validation('INVALID_PARAMETER_VALUE', 'Invalid parameter combination. Checksum algorithm is missing.');
    }
    if (!hasSum && (input.checksumAlgorithm !== undefined || input.checksumAggregationMethod !== undefined)) {
      throw validation('INVALID_PARAMETER_VALUE', 'Invalid parameter combination. Snapshot checksum is missing.');
    }
    if (hasSum && input.checksumAggregationMethod === undefined) {
      throw validation('INVALID_PARAMETER_VALUE', 'Invalid parameter combination. Checksum aggregation method is missing.');
    }
    for (let attempt = 0; ; attempt++) {
      const now = this.clock();
      const rec = await this.store.getSnapshot(input.snapshotId);
      if (!rec || rec.deleted) throw snapshotNotFound(input.snapshotId);
      const denied = this.owned(rec);
      if (denied) throw denied;
      const s = this.stateOf(rec, now);
      if (s.state !== 'pending' || rec.completion) return { Status: s.state };
      const own = await this.store.listOwnBlocks(rec.id, 0, Number.MAX_SAFE_INTEGER);
      const aggregate = await linearAggregate(own.map((b) => b.digest));
      let message: string | null = null;
      if (own.length !== input.changedBlocksCount) message = 'Changed blocks count mismatch for snapshot';
      else if (hasSum && aggregate !== input.checksum) message = 'Checksum mismatch for snapshot';
      const outcome = await this.store.updateSnapshots((all) => {
        const cur = all.get(rec.id);
        if (!cur || cur.deleted) throw snapshotNotFound(rec.id);
        const cs = this.stateOf(cur, now);
        if (cs.state !== 'pending' || cur.completion) return { result: cs.state };
        // A put landed between our listing and this transaction: recompute over the new blocks.
        if (cur.puts !== rec.puts) return { result: 'retry' as const };
        const completion = {
          requestedAt: now,
          dueAt: now + this.config.completionDelayMs,
          verdict: message ? ('error' as const) : ('completed' as const),
          message,
        };
        return { put: [{ ...cur, completion }], result: 'pending' as const };
      });
      if (outcome !== 'retry' || attempt > 20) return { Status: outcome === 'retry' ? 'pending' : outcome };
    }
  }

  /** The block of a lineage at one index: the nearest snapshot that wrote it. */
  private async effectiveBlock(chain: SnapshotRecord[], index: number): Promise<BlockRecord | undefined> {
    for (const r of chain) {
      const b = await this.store.getOwnBlock(r.id, index);
      if (b) return b;
    }
    return undefined;
  }

  /** Effective blocks of a lineage from `from`, ascending, at most `limit` (nearest snapshot wins). */
  private async effectiveBlocks(chain: SnapshotRecord[], from: number, limit: number, to?: number): Promise<BlockRecord[]> {
    const merged = new Map<number, BlockRecord>();
    for (const r of chain) {
      for (const b of await this.store.listOwnBlocks(r.id, from, limit, to)) if (!merged.has(b.index)) merged.set(b.index, b);
    }
    return [...merged.values()].sort((a, b) => a.index - b.index).slice(0, limit);
  }

  private async startIndex(page: PageInput, op: 'list' | 'changed', secondId: string, firstId: string, now: number): Promise<number> {
    if (page.nextToken === undefined) return page.startingBlockIndex ?? 0;
    const claims = await (await this.tokens()).readPageToken(page.nextToken, now);
    if (!claims || claims.op !== op || claims.secondId !== secondId || claims.firstId !== firstId) {
      throw validation('INVALID_PAGE_TOKEN', `The pagination token ${page.nextToken} is invalid.`);
    }
    return claims.nextIndex;
  }

  /** ListSnapshotBlocks: written blocks of the snapshot and its ancestors, ascending, paged. */
  async listSnapshotBlocks(snapshotId: string, page: PageInput = {}): Promise<ListSnapshotBlocksOutput> {
    this.gate('ListSnapshotBlocks');
    const now = this.clock();
    const rec = await this.readable(snapshotId, now);
    const from = await this.startIndex(page, 'list', snapshotId, '', now);
    const max = page.maxResults ?? DEFAULT_MAX_RESULTS;
    const chain = await this.chain(rec);
    const found = await this.effectiveBlocks(chain, from, max + 1);
    const shown = found.slice(0, max);
    const signer = await this.tokens();
    const expiresAt = now + BLOCK_TOKEN_TTL_MS;
    const Blocks = await Promise.all(
      shown.map(async (b) => ({
        BlockIndex: b.index,
        BlockToken: await signer.blockToken({ snapshotId, index: b.index, digest: b.digest, expiresAt }),
      })),
    );
    const last = shown.at(-1);
    const NextToken =
      found.length > max && last
        ? await signer.pageToken({ op: 'list', secondId: snapshotId, firstId: '', nextIndex: last.index + 1, expiresAt: now + PAGE_TOKEN_TTL_MS })
        : null;
    return { Blocks, ExpiryTime: expiresAt / 1000, VolumeSize: rec.volumeSize, BlockSize: BLOCK_SIZE, NextToken };
  }

  /** ListChangedBlocks between two related snapshots (ancestor/descendant or siblings). */
  async listChangedBlocks(firstSnapshotId: string | undefined, secondSnapshotId: string, page: PageInput = {}): Promise<ListChangedBlocksOutput> {
    this.gate('ListChangedBlocks');
    if (!firstSnapshotId) throw validation('INVALID_SNAPSHOT_ID', 'First snapshot should not be empty or null');
    const now = this.clock();
    const second = await this.readable(secondSnapshotId, now);
    const first = await this.readable(firstSnapshotId, now);
    const chainF = await this.chain(first);
    const chainS = await this.chain(second);
    const idsF = chainF.map((r) => r.id);
    const common = chainS.find((r) => idsF.includes(r.id));
    if (!common) throw validation('UNRELATED_SNAPSHOTS', `${firstSnapshotId} and ${secondSnapshotId} are not related`);
    const from = await this.startIndex(page, 'changed', secondSnapshotId, firstSnapshotId, now);
    const max = page.maxResults ?? DEFAULT_MAX_RESULTS;
    // Changed indices are exactly those written on either path below the common ancestor.
    const contributors = [...chainF.slice(0, idsF.indexOf(common.id)), ...chainS.slice(0, chainS.indexOf(common))];
    const candidates = new Set<number>();
    for (const r of contributors) for (const b of await this.store.listOwnBlocks(r.id, from, max + 1)) candidates.add(b.index);
    const indices = [...candidates].sort((a, b) => a - b).slice(0, max + 1);
    const shown = indices.slice(0, max);
    const signer = await this.tokens();
    const expiresAt = now + BLOCK_TOKEN_TTL_MS;
    const ChangedBlocks: ListChangedBlocksOutput['ChangedBlocks'] = [];
    if (shown.length) {
      const hi = shown.at(-1)!;
      const span = hi - from + 1;
      const inF = new Map((await this.effectiveBlocks(chainF, from, span, hi)).map((b) => [b.index, b]));
      const inS = new Map((await this.effectiveBlocks(chainS, from, span, hi)).map((b) => [b.index, b]));
      for (const index of shown) {
        const f = inF.get(index);
        const s = inS.get(index);
        ChangedBlocks.push({
          BlockIndex: index,
          FirstBlockToken: f ? await signer.blockToken({ snapshotId: firstSnapshotId, index, digest: f.digest, expiresAt }) : null,
          SecondBlockToken: s ? await signer.blockToken({ snapshotId: secondSnapshotId, index, digest: s.digest, expiresAt }) : null,
        });
      }
    }
    const NextToken =
      indices.length > max
        ? await signer.pageToken({
            op: 'changed',
            secondId: secondSnapshotId,
            firstId: firstSnapshotId,
            nextIndex: shown.at(-1)! + 1,
            expiresAt: now + PAGE_TOKEN_TTL_MS,
          })
        : null;
    return { ChangedBlocks, ExpiryTime: expiresAt / 1000, VolumeSize: second.volumeSize, BlockSize: BLOCK_SIZE, NextToken };
  }

  /** GetSnapshotBlock: the content bound to a valid block token. */
  async getSnapshotBlock(snapshotId: string, index: number, blockToken: string): Promise<GetSnapshotBlockOutput> {
    this.gate('GetSnapshotBlock');
    const now = this.clock();
    const rec = await this.readable(snapshotId, now);
    if (index >= rec.volumeSize * 2048) throw validation('INVALID_BLOCK', `Block index ${index} is beyond the volume size extent`);
    const invalid = () => validation('INVALID_BLOCK_TOKEN', `The block token ${blockToken} is invalid.`);
    const claims = await (await this.tokens()).readBlockToken(blockToken, now);
    if (!claims || claims.snapshotId !== snapshotId || claims.index !== index) throw invalid();
    const chain = await this.chain(rec);
    const found = this.store.readEffectiveBlock
      ? await this.store.readEffectiveBlock(chain.map((r) => r.id), index)
      : await this.effectiveBlock(chain, index).then((block) => block && { block, data: undefined });
    if (!found || found.block.digest !== claims.digest) throw invalid();
    const block = found.block;
    const data = found.data ?? (await this.store.readContent(block.digest));
    if (!data) throw new EbsError('InternalServerException', 500, `Block content ${block.digest} is missing from the store.`);
    return { data, dataLength: data.length, checksum: block.digest, checksumAlgorithm: 'SHA256' };
  }

  /** A view of one record at `now`. */
  view(rec: SnapshotRecord, now = this.clock()): SnapshotView {
    const s = this.stateOf(rec, now);
    let progress = 0;
    if (s.state === 'completed') progress = 100;
    else if (s.state === 'pending' && rec.completion) {
      const span = Math.max(1, rec.completion.dueAt - rec.completion.requestedAt);
      progress = Math.min(99, Math.floor(((now - rec.completion.requestedAt) / span) * 100));
    }
    return {
      id: rec.id,
      state: s.state,
      stateMessage: s.message,
      progress,
      volumeSize: rec.volumeSize,
      parentId: rec.parentId,
      description: rec.description,
      tags: rec.tags,
      startTime: rec.startTime,
      encrypted: rec.encrypted,
      kmsKeyArn: rec.kmsKeyArn,
      ownerId: rec.ownerId,
      ownBlocks: rec.ownBlocks,
      ownBytes: rec.ownBlocks * BLOCK_SIZE,
      puts: rec.puts,
    };
  }

  /** Every live (not deleted) snapshot of this account, oldest first, with lineage (`parentId`). */
  async listSnapshots(): Promise<SnapshotView[]> {
    const now = this.clock();
    const all = await this.store.listSnapshots();
    return all
      .filter((r) => this.mine(r))
      .sort((a, b) => a.startTime - b.startTime || a.id.localeCompare(b.id))
      .map((r) => this.view(r, now));
  }

  /** One live snapshot's view, or undefined. */
  async describeSnapshot(id: string): Promise<SnapshotView | undefined> {
    const rec = await this.store.getSnapshot(id);
    return this.mine(rec) ? this.view(rec) : undefined;
  }

  /** EC2 DeleteSnapshot: false when this account has no such live snapshot. Blocks no other snapshot uses are freed. */
  async deleteSnapshot(id: string): Promise<boolean> {
    if (!this.mine(await this.store.getSnapshot(id))) return false;
    return this.store.deleteSnapshot(id);
  }

  /** How many times each index was put on a snapshot (re-sends counted). */
  async putCounts(snapshotId: string): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const b of await this.store.listOwnBlocks(snapshotId, 0, Number.MAX_SAFE_INTEGER)) out[String(b.index)] = b.puts;
    return out;
  }

  /** Everything, as JSON, for an admin endpoint. */
  async dump(): Promise<EmulatorDump> {
    const now = this.clock();
    const all = await this.store.listSnapshots();
    const snapshots = [];
    for (const r of all) snapshots.push({ ...this.view(r, now), deleted: r.deleted, putsByIndex: await this.putCounts(r.id) });
    return { now, config: { ...this.config }, store: this.store.kind, snapshots };
  }

  /** Forgets every snapshot and block (the token key stays). */
  async reset(): Promise<void> {
    await this.store.clear();
  }
}

/** What a ClientToken binds: a replay must repeat every parameter. */
function startFingerprint(input: StartSnapshotInput): string {
  return JSON.stringify([
    input.volumeSize,
    input.parentSnapshotId ?? null,
    input.tags ?? [],
    input.description ?? null,
    input.encrypted ?? null,
    input.kmsKeyArn ?? null,
    input.timeout ?? null,
  ]);
}

/** StartSnapshot's answer for a record, new or replayed (Status is always `pending`). */
function startOutput(rec: SnapshotRecord): StartSnapshotOutput {
  return {
    Description: rec.description,
    SnapshotId: rec.id,
    OwnerId: rec.ownerId,
    Status: 'pending',
    StartTime: rec.startTime / 1000,
    VolumeSize: rec.volumeSize,
    BlockSize: BLOCK_SIZE,
    Tags: rec.tags.length ? rec.tags.map((t) => ({ Key: t.key, Value: t.value })) : null,
    ParentSnapshotId: rec.parentId,
    KmsKeyArn: rec.kmsKeyArn,
    SseType: rec.sseType,
  };
}

/** LINEAR aggregate: base64 SHA-256 over the raw 32-byte digests, in the given (ascending index) order. */
export async function linearAggregate(digests: string[]): Promise<string> {
  if (!digests.length) return EMPTY_SHA256;
  const all = new Uint8Array(digests.length * 32);
  digests.forEach((d, i) => all.set(fromBase64(d), i * 32));
  return sha256Base64(all);
}

/** A fresh snapshot id: `snap-` and 17 hex digits, like EC2's. */
export function newSnapshotId(): string {
  const b = crypto.getRandomValues(new Uint8Array(9));
  return `snap-${[...b].map((x) => x.toString(16).padStart(2, '0')).join('').slice(0, 17)}`;
}

export { toBase64 };
