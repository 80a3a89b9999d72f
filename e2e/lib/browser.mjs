// The real browser for end-to-end tests: Debian's Chromium driven through
// playwright-core (no browser download), headless, with a fresh user-data
// directory per launch so no cookie or cache survives between test files.
//
//   const browser = await launchBrowser({ hostMap: ['*.test'] });  // *.test -> 127.0.0.1
//   const page = await browser.context.newPage();
//   await page.goto(`http://app.test:${port}/dashboard/1?tab=2`);
//   await browser.context.cookies();                   // what the browser holds
//   await browser.close();                              // in after(); removes the profile
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const chromiumPath = process.env.GATEHOUSE_CHROMIUM ?? '/usr/bin/chromium';

export const kChromiumArgs = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
];

// hostMap: host patterns that resolve to 127.0.0.1 inside this browser only
// (Chromium's --host-resolver-rules), so tests can use names like app.test.
export async function launchBrowser({ hostMap = [] } = {}) {
  const profile = mkdtempSync(path.join(tmpdir(), 'gh-chromium-'));
  const args = [...kChromiumArgs];
  if (hostMap.length) args.push(`--host-resolver-rules=${hostMap.map((h) => `MAP ${h} 127.0.0.1`).join(',')}`);
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath,
      headless: true,
      args,
      ignoreDefaultArgs: ['--headless=new'],
      timeout: 30000,
    });
  } catch (e) {
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
  return {
    context,
    profile,
    async close() {
      try { await context.close(); } finally { rmSync(profile, { recursive: true, force: true }); }
    },
  };
}
