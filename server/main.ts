// `npm run emulator`: the Blockport EBS emulator over HTTP (EBS direct APIs, Cognito Identity, EC2 snapshot subset).

import { parseFlags, HELP, FlagError } from './flags.ts';
import { EmulatorApp } from './app.ts';
import { createBackend } from './backend.ts';
import { listen } from './transport.ts';

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseFlags(process.argv.slice(2));
  } catch (err) {
    if (err instanceof FlagError) {
      console.error(`emulator: ${err.message}`);
      process.exitCode = 2;
      return;
    }
    throw err;
  }
  if (parsed.help) {
    process.stdout.write(HELP);
    return;
  }
  const config = parsed.config;
  const backend = await createBackend({
    dataDir: config.dataDir,
    completionDelayMs: config.completionDelayMs,
    putAfterStartLagMs: config.putAfterStartLagMs,
    readAfterCompleteLagMs: config.readAfterCompleteLagMs,
    maxPendingSnapshots: config.maxPendingSnapshots,
    enforceQuotas: config.enforceQuotas,
  });
  const app = new EmulatorApp(config, backend);
  for (const a of config.accounts) app.addAccount(a.accessKeyId, a.secretAccessKey, a.accountId);
  const server = await listen(app, { host: config.host, port: config.port, tls: config.tls, bodyTimeoutMs: config.bodyTimeoutMs });
  config.port = server.port;
  app.setOrigin(server.url);
  const poolId = config.identityPool ? await app.createStartupPool(config.identityPool) : undefined;

  console.log(`Blockport EBS emulator listening on ${server.url}`);
  console.log(`  store: ${backend.storeKind}${config.dataDir ? ` (${config.dataDir})` : ''}; CORS ${config.cors ? 'on' : 'off'}; keys ${config.accessKeyId}/${config.secretAccessKey}`);
  if (app.oidc) console.log(`  sign-in (OpenID Connect): issuer ${app.oidc.issuer}, client ${config.oidcClientId}, users ${config.oidcUsers.map((u) => u.username).join(', ') || '(none: add --oidc-user NAME:PASSWORD)'}`);
  console.log(`  IAM: ${app.iam ? `Cognito-issued credentials limited by ${config.iamPolicy ?? 'deploy/blockport.json'}` : 'off'}; unauthenticated identities ${config.unauthenticated ? 'on' : 'off'}`);
  if (poolId) console.log(`  identity pool ${config.identityPool}: ${poolId}`);
  if (config.tls) console.log('  TLS: self-signed certificate (HTTP/2 and HTTP/1.1); clients must trust it or skip verification');
  console.log(`  admin: ${server.url}/__admin/health`);

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
