// The request pipeline, independent of sockets: admin (admin-routes.ts), CORS, routing by service, SigV4, faults, then the service.

import type { EmuRequest, EmuResponse } from '../src/emulator/http.ts';
import { verifySigV4, hasSignature, parseSigV4, checkSigV4Head, type KnownCredential, type SignedRequest } from '../src/emulator/sigv4.ts';
import { CognitoService } from '../src/emulator/cognito.ts';
import { cognitoOperation, handleCognitoRequest, UNSIGNED_COGNITO_OPERATIONS } from '../src/emulator/cognito-wire.ts';
import type { MODEL_KEYS, ServerConfig } from './config.ts';
import { isPreflight, preflightResponse, withCors } from './cors.ts';
import { drawFault, drawStall } from './faults.ts';
import { Throttle } from '../src/emulator/throttle.ts';
import { adminRefusal, randomAdminToken } from './admin-guard.ts';
import { adminResponse } from './admin-routes.ts';
import { authErrorResponse, ebsErrorResponse, internalErrorResponse, throttleResponse, type ServiceName } from './aws-errors.ts';
import { OIDC_PATH, OidcProvider } from './oidc.ts';
import { authorize, loadRolePolicies } from './iam.ts';
import type { RolePolicies } from '../src/emulator/iam-template.ts';
import { DEFAULT_ACCOUNT as COGNITO_ACCOUNT } from './backend.ts';

/** The EBS and EC2 services behind the pipeline (the shared emulator model and its wire code). */
export interface EmulatorBackend {
  readonly storeKind: string;
  /** Answers an EBS request as `account` (12 digits; default: the default account). */
  ebs(req: EmuRequest, account?: string): Promise<EmuResponse>;
  ec2(req: EmuRequest, account?: string): Promise<EmuResponse>;
  /** Tags of a live snapshot of `account` (for IAM's aws:ResourceTag); undefined when there is none. */
  /** Tags of a snapshot or an image (ami-…) of the account, for IAM conditions. */
  snapshotTags(id: string, account?: string): Promise<{ key: string; value: string }[] | undefined>;
  /** Makes the next call of an EBS operation by `account` answer the given error. */
  failNext(op: string, fault: { code: string; status: number; message: string; reason?: string }, account?: string): void;
  /** Changes settings the EBS model holds. */
  configure(patch: Partial<ModelSettings>): void;
  /** Moves the model's clock forward, and freezes (true) or releases (false) it; returns the clock's state. */
  advanceClock(ms: number, freeze?: boolean): { offsetMs: number; frozen: boolean; now: number };
  reset(): Promise<void>;
  dump(): Promise<unknown>;
  /** Waits until every acknowledged write is durable, then releases the store. */
  close(): Promise<void>;
}

/** Settings of the EBS model the server passes through. */
export type ModelSettings = Pick<ServerConfig, (typeof MODEL_KEYS)[number]>;

/** A request plus what the transport knows beyond EmuRequest. */
export interface IncomingRequest extends EmuRequest {
  /** Query string exactly as sent (SigV4 needs it undecoded). */
  rawQuery: string;
  remoteAddress: string;
}

/** A request before its body was read. */
export type RequestHead = Omit<IncomingRequest, 'body'>;

/** What the transport counts about connections (shown by GET /__admin/health). */
export interface ConnectionStats {
  open: number;
  /** Closed on arrival because --max-connections were open. */
  refused: number;
  /** Answered from their headers alone, their bodies never read (bad or missing signature, bad admin call). */
  refusedBeforeBody: number;
}

/** What the transport must do: send a response, or drop the connection unanswered. */
export type Outcome = { drop: false; response: EmuResponse } | { drop: true };

const PUT_BLOCK = /^\/snapshots\/([^/]+)\/blocks\/[^/]+$/;

const EMPTY = new Uint8Array(0);

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The emulator server's behaviour, given a config (mutated at runtime by /__admin/config), a backend and Cognito. */
export class EmulatorApp {
  readonly cognito: CognitoService;
  /** PutSnapshotBlock calls per snapshot (--put-rate-limit). */
  readonly putThrottle = new Throttle();
  readonly startedAt = Date.now();
  /** Ids of pools created from the command line or /__admin/config, by name (recreated on reset). */
  readonly startupPools = new Map<string, string>();
  requests = 0;
  /** Requests stalled on purpose (--stall-rate): in all, and still held open because the client has not left. */
  /** Stalled requests: drawn in all, held open now, and the longest any was held before the client gave up (ms). */
  readonly stalls = { total: 0, open: 0, longestMs: 0 };
  readonly connections: ConnectionStats = { open: 0, refused: 0, refusedBeforeBody: 0 };
  /**
   * How far the service's wall clock runs ahead of this host (negative: behind): what SigV4 checks, what Cognito
   * stamps on credentials and the Date header, as a client whose clock lags the service's sees it.
   */
  skewMs = 0;
  /** Extra long-term key pairs, each standing for another account. */
  readonly accounts = new Map<string, { secretAccessKey: string; accountId: string }>();
  /** The sign-in provider at /oidc (--oidc); its issuer is known once the server listens (setOrigin). */
  readonly oidc: OidcProvider | undefined;
  /** Policies enforced for Cognito-issued credentials; undefined = none (--iam-policy off). */
  readonly iam: RolePolicies | undefined;

  constructor(
    readonly config: ServerConfig,
    readonly backend: EmulatorBackend,
  ) {
    // No empty token: an app made without one (tests, embedding) still refuses admin calls from strangers.
    if (!config.adminToken) config.adminToken = randomAdminToken();
    this.cognito = new CognitoService({ credentialTtlSeconds: config.credentialTtlSeconds, region: config.region, clock: () => this.wallNow() });
    this.iam = loadRolePolicies(config.iamPolicy, config.region, COGNITO_ACCOUNT);
    this.oidc = config.oidc
      ? new OidcProvider({ users: new Map(config.oidcUsers.map((u) => [u.username, u.password])), clientId: config.oidcClientId, clock: () => this.wallNow() })
      : undefined;
  }

  /** Tells the app the URL it is reached at: the sign-in provider's issuer derives from it. */
  setOrigin(url: string): void {
    if (!this.oidc) return;
    this.oidc.issuer = `${url}${OIDC_PATH}`;
    const oidc = this.oidc;
    this.cognito.verifiers.set(oidc.providerName, (token) => oidc.verifyIdToken(token));
  }

  /** The service's wall-clock time (epoch ms). */
  wallNow(): number {
    return Date.now() + this.skewMs;
  }

  /** Creates (or recreates) a pool with unauthenticated access whose id derives from its name. */
  async createStartupPool(name: string): Promise<string> {
    const input: Record<string, unknown> = { IdentityPoolName: name, AllowUnauthenticatedIdentities: this.config.unauthenticated };
    // The pool accepts the sign-in provider's ID tokens, as the deploy template wires its user pool.
    if (this.oidc?.issuer) input.CognitoIdentityProviders = [{ ProviderName: this.oidc.providerName, ClientId: this.config.oidcClientId, ServerSideTokenCheck: false }];
    const pool = await this.cognito.createIdentityPool(input, this.config.region, true);
    this.startupPools.set(name, pool.IdentityPoolId);
    return pool.IdentityPoolId;
  }

  private lookup = (id: string): KnownCredential | undefined =>
    id === this.config.accessKeyId ? { secretAccessKey: this.config.secretAccessKey } : (this.accounts.get(id) ?? this.cognito.lookup(id));

  /** Registers a key pair for another account (`--account` or POST /__admin/accounts). */
  addAccount(accessKeyId: string, secretAccessKey: string, accountId: string): void {
    this.accounts.set(accessKeyId, { secretAccessKey, accountId });
  }

  /** Which service a request is for: Cognito by X-Amz-Target, else the signature scope, else path or Action. */
  route(req: IncomingRequest): ServiceName | undefined {
    if (cognitoOperation(req) !== undefined) return 'cognito';
    if (req.headers.authorization !== undefined || /(^|&)X-Amz-Credential=/.test(req.rawQuery)) {
      const p = parseSigV4({ method: req.method, rawPath: req.path, rawQuery: req.rawQuery, headers: req.headers, body: req.body });
      if (!('ok' in p)) {
        if (p.service === 'ec2') return 'ec2';
        if (p.service === 'ebs') return 'ebs';
        if (p.service === 'cognito-identity') return 'cognito';
      }
    }
    if (req.path === '/snapshots' || req.path.startsWith('/snapshots/')) return 'ebs';
    if ('Action' in req.query) return 'ec2';
    const ct = req.headers['content-type'] ?? '';
    if (req.method === 'POST' && ct.startsWith('application/x-www-form-urlencoded') && /(^|&)Action=/.test(new TextDecoder().decode(req.body))) {
      return 'ec2';
    }
    return undefined;
  }

  /** Whether to stall this request (never answer it): EBS and EC2 calls at the configured stall rate. */
  drawStall(method: string, path: string, headers: Record<string, string>, random: () => number = Math.random): boolean {
    const c = this.config;
    if (c.stallRate <= 0 || method === 'OPTIONS' || path.startsWith('/__admin')) return false;
    // Cognito calls are spared: the faults model the EBS and EC2 endpoints.
    if ((headers['x-amz-target'] ?? '').startsWith('AWSCognitoIdentityService')) return false;
    if (!drawStall(c, random)) return false;
    this.stalls.total++;
    return true;
  }

  /**
   * Checks what can be checked from the headers alone, before any body is read: an admin call's credentials, or a
   * signature's presence, shape, credential scope and known key. Undefined: read the body and handle the request.
   */
  screen(head: RequestHead): EmuResponse | undefined {
    if (head.path.startsWith('/__admin')) return adminRefusal(head, this.config);
    // The sign-in provider's pages and forms carry no signature: they are answered by handle(), unscreened.
    if (this.oidc && (head.path === OIDC_PATH || head.path.startsWith(`${OIDC_PATH}/`))) return undefined;
    const r = this.screenService(head);
    // A page must be able to read why it was refused, as with any other answer.
    return r && this.config.cors ? withCors({ ...head, body: EMPTY }, r, this.config.corsOrigins) : r;
  }

  private screenService(head: RequestHead): EmuResponse | undefined {
    if (this.config.cors && isPreflight({ ...head, body: EMPTY })) return undefined;
    const probe: IncomingRequest = { ...head, body: EMPTY };
    const signed: SignedRequest = { method: head.method, rawPath: head.path, rawQuery: head.rawQuery, headers: head.headers, body: EMPTY };
    const cognitoOp = cognitoOperation(probe);
    if (cognitoOp && UNSIGNED_COGNITO_OPERATIONS.has(cognitoOp) && !hasSignature(signed)) return undefined;
    const form = head.method === 'POST' && (head.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded');
    const service = this.route(probe) ?? (form ? 'ec2' : undefined);
    if (!service) return ebsErrorResponse('UnknownOperationException', 404, `No operation at ${head.method} ${head.path}`);
    const h = checkSigV4Head(signed, { lookup: this.lookup, now: this.wallNow() });
    return 'ok' in h ? authErrorResponse(service, h.code, h.message) : undefined;
  }

  /** Answers one request. */
  async handle(req: IncomingRequest): Promise<Outcome> {
    this.requests++;
    const c = this.config;
    if (req.path.startsWith('/__admin')) return { drop: false, response: await adminResponse(this, req) };
    if (this.oidc && (req.path === OIDC_PATH || req.path.startsWith(`${OIDC_PATH}/`))) {
      const r = this.oidc.handle(req) ?? { status: 404, headers: { 'Content-Type': 'text/plain' }, body: new TextEncoder().encode(`No sign-in endpoint at ${req.method} ${req.path}.`) };
      return { drop: false, response: c.cors ? withCors(req, r, c.corsOrigins) : r };
    }
    if (c.cors && isPreflight(req)) return { drop: false, response: preflightResponse(req, c.corsOrigins) };
    const out = await this.serve(req);
    if (out.drop || !c.cors) return out;
    return { drop: false, response: withCors(req, out.response, c.corsOrigins) };
  }

  private async serve(req: IncomingRequest): Promise<Outcome> {
    const c = this.config;
    const service = this.route(req);
    if (!service) {
      return { drop: false, response: ebsErrorResponse('UnknownOperationException', 404, `No operation at ${req.method} ${req.path}`) };
    }
    const cognitoOp = service === 'cognito' ? cognitoOperation(req) : undefined;
    const signed = { method: req.method, rawPath: req.path, rawQuery: req.rawQuery, headers: req.headers, body: req.body };
    let region: string | undefined;
    let account: string | undefined;
    if (!(cognitoOp && UNSIGNED_COGNITO_OPERATIONS.has(cognitoOp) && !hasSignature(signed))) {
      const allowUnsignedPayload = service === 'ebs' && req.method === 'PUT' && PUT_BLOCK.test(req.path);
      const v = await verifySigV4(signed, { lookup: this.lookup, allowUnsignedPayload, now: this.wallNow() });
      if (!v.ok) return { drop: false, response: authErrorResponse(service, v.code, v.message) };
      region = v.region;
      account = this.accounts.get(v.accessKeyId)?.accountId;
      const principal = service !== 'cognito' && this.iam ? this.cognito.principalOf(v.accessKeyId) : undefined;
      if (principal && this.iam && service !== 'cognito') {
        const denied = await authorize(service, req, {
          roles: this.iam,
          principal,
          region: v.region ?? c.region,
          accountId: COGNITO_ACCOUNT,
          tagsOf: (id) => this.backend.snapshotTags(id, account),
        });
        if (denied) return { drop: false, response: denied };
      }
    }
    if (service === 'cognito') {
      this.cognito.credentialTtlSeconds = c.credentialTtlSeconds;
      return { drop: false, response: await handleCognitoRequest(this.cognito, req, region) };
    }

    const delay = c.latencyMs + (c.latencyJitterMs > 0 ? Math.random() * c.latencyJitterMs : 0);
    if (delay > 0) await sleep(delay);
    let drop = false;
    if (service === 'ebs') {
      const f = drawFault(c);
      if (f.kind === 'error') return { drop: false, response: internalErrorResponse(service) };
      if (f.kind === 'throttle') return { drop: false, response: throttleResponse(service, f.pick) };
      drop = f.kind === 'drop';
      const m = req.method === 'PUT' ? PUT_BLOCK.exec(req.path) : null;
      if (m && !this.putThrottle.admit(m[1]!, c.putRateLimit, Date.now())) {
        return {
          drop: false,
          response: ebsErrorResponse(
            'RequestThrottledException',
            400,
            `The PutSnapshotBlock request rate for snapshot ${decodeURIComponent(m[1]!)} exceeds ${c.putRateLimit} per second.`,
            'RESOURCE_LEVEL_THROTTLE',
          ),
        };
      }
    }
    let response: EmuResponse;
    try {
      response = service === 'ebs' ? await this.backend.ebs(req, account) : await this.backend.ec2(req, account);
    } catch (err) {
      if (c.verbose) console.error(err);
      response = internalErrorResponse(service);
    }
    return drop ? { drop: true } : { drop: false, response };
  }
}
