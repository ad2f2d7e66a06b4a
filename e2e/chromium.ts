import type { LaunchOptions } from '@playwright/test';

/** Debian's Chromium, never a downloaded browser; BLOCKPORT_CHROMIUM overrides the path. */
export function chromiumLaunchOptions(): LaunchOptions {
  return {
    executablePath: process.env.BLOCKPORT_CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--no-first-run',
    ],
  };
}
