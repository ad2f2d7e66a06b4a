// The admin endpoints under /__admin: health, reset, config, clock, fail-next, accounts and state.

import { jsonResponse, type EmuResponse } from '../src/emulator/http.ts';
import { MODEL_KEYS, runtimeView, validateRuntimePatch } from './config.ts';
import { adminRefusal } from './admin-guard.ts';
import type { EmulatorApp, IncomingRequest, ModelSettings } from './app.ts';

const EBS_OPERATIONS = ['StartSnapshot', 'PutSnapshotBlock', 'CompleteSnapshot', 'GetSnapshotBlock', 'ListSnapshotBlocks', 'ListChangedBlocks'];

function parseJson(body: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(body) || '{}');
  } catch {
    return undefined;
  }
}

/** Answers one /__admin request for `app`, after checking the admin token. */
export async function adminResponse(app: EmulatorApp, req: IncomingRequest): Promise<EmuResponse> {
  const refused = adminRefusal(req, app.config);
  if (refused) return refused;
  const path = req.path.replace(/\/+$/, '');
  switch (`${req.method} ${path}`) {
    case 'GET /__admin/health':
      return health(app);
    case 'POST /__admin/reset':
      return reset(app);
    case 'GET /__admin/config':
      return jsonResponse(200, configView(app));
    case 'POST /__admin/config':
    case 'PUT /__admin/config':
    case 'PATCH /__admin/config':
      return patchConfig(app, req.body);
    case 'POST /__admin/clock':
      return clock(app, req.body);
    case 'POST /__admin/fail-next':
      return failNext(app, req.body);
    case 'POST /__admin/accounts':
      return addAccount(app, req.body);
    case 'GET /__admin/state':
      return jsonResponse(200, {
        config: configView(app),
        ebs: await app.backend.dump(),
        cognito: app.cognito.dump(),
      });
    default:
      return jsonResponse(404, { error: `no admin endpoint ${req.method} ${path}; have GET health, POST reset, GET|POST config, GET state, POST clock, POST fail-next, POST accounts` });
  }
}

function health(app: EmulatorApp): EmuResponse {
  const c = app.config;
  return jsonResponse(200, {
    ok: true,
    store: app.backend.storeKind,
    dataDir: c.dataDir ?? null,
    tls: c.tls,
    uptimeSeconds: Math.round((Date.now() - app.startedAt) / 1000),
    requests: app.requests,
    stalls: { ...app.stalls },
    connections: app.connections,
    identityPools: Object.fromEntries(app.startupPools),
  });
}

async function reset(app: EmulatorApp): Promise<EmuResponse> {
  await app.backend.reset();
  app.cognito.reset();
  app.skewMs = 0;
  app.putThrottle.reset();
  for (const name of [...app.startupPools.keys()]) await app.createStartupPool(name);
  return jsonResponse(200, { ok: true, identityPools: Object.fromEntries(app.startupPools) });
}

async function patchConfig(app: EmulatorApp, body: Uint8Array): Promise<EmuResponse> {
  const c = app.config;
  let patch: unknown;
  try {
    patch = JSON.parse(new TextDecoder().decode(body) || '{}');
  } catch {
    return jsonResponse(400, { error: 'body must be a JSON object' });
  }
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return jsonResponse(400, { error: 'body must be a JSON object' });
  const p = patch as Record<string, unknown>;
  const problems = validateRuntimePatch(p);
  if (problems.length) return jsonResponse(400, { error: problems.join('; ') });
  const { identityPool, ...rest } = p;
  Object.assign(c, rest);
  app.backend.configure(Object.fromEntries(MODEL_KEYS.map((k) => [k, c[k]])) as ModelSettings);
  app.cognito.credentialTtlSeconds = c.credentialTtlSeconds;
  if (typeof identityPool === 'string') await app.createStartupPool(identityPool);
  return jsonResponse(200, configView(app));
}

function clock(app: EmulatorApp, body: Uint8Array): EmuResponse {
  const b = parseJson(body) as { advanceMs?: unknown; freeze?: unknown; skewMs?: unknown } | undefined;
  const ms = b?.advanceMs ?? 0;
  const skewOk = b?.skewMs === undefined || (typeof b.skewMs === 'number' && Number.isFinite(b.skewMs));
  if (!b || typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || (b.freeze !== undefined && typeof b.freeze !== 'boolean') || !skewOk) {
    return jsonResponse(400, { error: 'body must be {"advanceMs"?: N ≥ 0, "freeze"?: true|false, "skewMs"?: N}' });
  }
  if (typeof b.skewMs === 'number') app.skewMs = b.skewMs;
  return jsonResponse(200, { ...app.backend.advanceClock(ms, b.freeze as boolean | undefined), skewMs: app.skewMs });
}

function failNext(app: EmulatorApp, body: Uint8Array): EmuResponse {
  const b = parseJson(body) as { op?: unknown; code?: unknown; status?: unknown; message?: unknown; reason?: unknown; accountId?: unknown } | undefined;
  if (!b || typeof b.op !== 'string' || !EBS_OPERATIONS.includes(b.op) || typeof b.code !== 'string' || typeof b.status !== 'number') {
    return jsonResponse(400, { error: `body must be {"op": one of ${EBS_OPERATIONS.join('|')}, "code": "...", "status": N, "message"?: "...", "reason"?: "..."}` });
  }
  const fault = {
    code: b.code,
    status: b.status,
    message: typeof b.message === 'string' ? b.message : `Injected ${b.code}`,
    ...(typeof b.reason === 'string' ? { reason: b.reason } : {}),
  };
  app.backend.failNext(b.op, fault, typeof b.accountId === 'string' ? b.accountId : undefined);
  return jsonResponse(200, { ok: true });
}

function addAccount(app: EmulatorApp, body: Uint8Array): EmuResponse {
  const b = parseJson(body) as { accessKeyId?: unknown; secretAccessKey?: unknown; accountId?: unknown } | undefined;
  if (!b || typeof b.accessKeyId !== 'string' || !b.accessKeyId || typeof b.secretAccessKey !== 'string' || typeof b.accountId !== 'string' || !/^\d{12}$/.test(b.accountId)) {
    return jsonResponse(400, { error: 'body must be {"accessKeyId": "...", "secretAccessKey": "...", "accountId": "12 digits"}' });
  }
  app.addAccount(b.accessKeyId, b.secretAccessKey, b.accountId);
  return jsonResponse(200, { ok: true, accounts: [...app.accounts].map(([k, v]) => ({ accessKeyId: k, accountId: v.accountId })) });
}

/** The runtime settings and where the server listens, as GET /__admin/config shows them. */
function configView(app: EmulatorApp): Record<string, unknown> {
  const c = app.config;
  return {
    ...runtimeView(c),
    host: c.host,
    port: c.port,
    dataDir: c.dataDir ?? null,
    tls: c.tls,
    region: c.region,
    identityPools: Object.fromEntries(app.startupPools),
  };
}
