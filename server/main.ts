// `npm run emulator`: the Blockport EBS emulator over HTTP (EBS direct APIs, Cognito Identity, EC2 snapshot subset).

import { parseFlags, HELP, FlagError } from './flags.ts';
import { EmulatorApp } from './app.ts';
import { createBackend } from './backend.ts';
import { listen } from './transport.ts';
import { DirLockedError } from '../src/emulator/stores/dir-lock.ts';
import { mibpsToBytes } from './link-shaper.ts';
import { IamPolicyFileError, loadRolePolicies } from './iam.ts';
import { DEFAULT_ACCOUNT } from './backend.ts';

/** Says why the emulator cannot start, and exits 2 (a usage error) once the event loop is done. */
function refuse(message: string): void {
  console.error(`emulator: ${message}`);
  process.exitCode = 2;
}

/** Runs `step`; an error of one of the given kinds is refused with its message (undefined returned), others thrown. */
async function refusing<T>(kinds: (abstract new (...args: never[]) => Error)[], step: () => T | Promise<T>): Promise<T | undefined> {
  try {
    return await step();
  } catch (err) {
    if (kinds.some((k) => err instanceof k)) {
      refuse((err as Error).message);
      return undefined;
    }
    throw err;
  }
}

async function main(): Promise<void> {
  // Node 20.19+ is supported with the locked SDK versions; the SDK's notice about its future releases is noise here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const parsed = await refusing([FlagError], () => parseFlags(process.argv.slice(2)));
  if (!parsed) return;
  if (parsed.help) {
    process.stdout.write(HELP);
    return;
  }
  const config = parsed.config;
  config.adminToken ||= process.env.BLOCKPORT_ADMIN_TOKEN ?? '';
  if (config.adminToken && !/^[\x21-\x7e]{16,256}$/.test(config.adminToken)) return refuse('BLOCKPORT_ADMIN_TOKEN needs 16 to 256 printable characters without spaces');
  // Checked before the store is opened (and its directory locked), so a bad file leaves nothing behind.
  const policiesRead = await refusing([IamPolicyFileError], () => {
    loadRolePolicies(config.iamPolicy, config.region, DEFAULT_ACCOUNT);
    return true;
  });
  if (!policiesRead) return;
  const backend = await refusing([DirLockedError], () =>
    createBackend({
      dataDir: config.dataDir,
      completionDelayMs: config.completionDelayMs,
      putAfterStartLagMs: config.putAfterStartLagMs,
      readAfterCompleteLagMs: config.readAfterCompleteLagMs,
      maxPendingSnapshots: config.maxPendingSnapshots,
      enforceQuotas: config.enforceQuotas,
      encryptionByDefault: config.encryptionByDefault,
    }),
  );
  if (!backend) return;
  const app = new EmulatorApp(config, backend);
  for (const a of config.accounts) app.addAccount(a.accessKeyId, a.secretAccessKey, a.accountId);
  const server = await listen(app, { host: config.host, port: config.port, tls: config.tls, bodyTimeoutMs: config.bodyTimeoutMs, maxConnections: config.maxConnections, linkBytesPerSecond: () => mibpsToBytes(app.config.bandwidthMiBps) });
  config.port = server.port;
  app.setOrigin(server.url);
  const poolId = config.identityPool ? await app.createStartupPool(config.identityPool) : undefined;

  // One write, so a reader that waits for the URL line sees the whole banner.
  const banner = [
    `Blockport EBS emulator listening on ${server.url}`,
    `  store: ${backend.storeKind}${config.dataDir ? ` (${config.dataDir})` : ''}; CORS ${config.cors ? 'on' : 'off'}; keys ${config.accessKeyId}/${config.secretAccessKey}`,
    ...(app.oidc ? [`  sign-in (OpenID Connect): issuer ${app.oidc.issuer}, client ${config.oidcClientId}, users ${config.oidcUsers.map((u) => u.username).join(', ') || '(none: add --oidc-user NAME:PASSWORD)'}`] : []),
    `  IAM: ${app.iam ? `Cognito-issued credentials limited by ${config.iamPolicy ?? 'deploy/blockport.json'}` : 'off'}; unauthenticated identities ${config.unauthenticated ? 'on' : 'off'}`,
    ...(poolId ? [`  identity pool ${config.identityPool}: ${poolId}`] : []),
    ...(config.encryptionByDefault ? ['  encryption by default: every new snapshot is encrypted (StartSnapshot answers SseType sse-ebs)'] : []),
    ...(config.bandwidthMiBps > 0 || config.latencyMs > 0 ? [`  link: ${config.bandwidthMiBps > 0 ? `${config.bandwidthMiBps} MiB/s shared by all bodies` : 'unlimited bandwidth'}, ${config.latencyMs} ms latency${config.latencyJitterMs > 0 ? ` + 0..${config.latencyJitterMs} ms jitter` : ''}`] : []),
    ...(config.tls ? ['  TLS: self-signed certificate (HTTP/2 and HTTP/1.1); clients must trust it or skip verification'] : []),
    `  admin token: ${app.config.adminToken} (send it as "Authorization: Bearer <token>" or "X-Blockport-Admin-Token: <token>")`,
    `  admin: curl -H 'Authorization: Bearer ${app.config.adminToken}' ${server.url}/__admin/health`,
  ];
  console.log(banner.join('\n'));

  const shutdown = (signal: string): void => {
    console.log(`emulator: ${signal}, finishing requests in flight`);
    server.stop().then(
      () => {
        console.log('emulator: stopped');
        process.exit(0);
      },
      (err: unknown) => {
        console.error('emulator: stop failed', err);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

await main();
