// The Temporal Web UI in a real browser (Chromium through playwright-core) against a real Temporal dev
// server whose UI uses this API's /codec as its remote codec: an operator who signed in through
// /auth/login (OpenID Connect with the development issuer) sees a release's input decrypted in the
// UI; a browser without a session (401) or signed in as a viewer (403) never sees it, and the
// Temporal server itself only ever holds ciphertext.
//
// What a user has to do in the UI (Temporal UI 2.42.1, the one in Temporal CLI 1.5.1): the dev
// server's `--ui-codec-endpoint` only sets the endpoint — the UI then calls it WITHOUT cookies
// (the cluster-level `includeCredentials` is false and the CLI has no flag for it). So, once per
// browser: click the Codec Server button in the top bar (the glasses icon, "Codec Server is
// configured"), open "Use Cluster-level setting, where available." and choose "Use my browser
// setting and ignore Cluster-level setting.", paste the API's codec endpoint
// (https://<api>/codec) into "Codec Server browser endpoint", switch on "Include cross-origin
// credentials", and Apply. The UI keeps that in localStorage (overrideRemoteCodecConfiguration=true,
// endpoint="<api>/codec", includeCredentials=true). Then sign in at <api>/auth/login, which sets
// the HttpOnly session cookie for /codec that the UI's decode calls now carry.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client, type WorkflowHandle } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import type { FastifyInstance } from 'fastify';
import { ensureChromium } from '../../infra/chromium.js';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { SESSION_COOKIE } from '../../api/plugins/auth.js';
import type { Config } from '../../domain/config.js';
import { findFreePort, startDevServer, type DevServerHandle } from '../../infra/temporal.js';
import { DevIssuer } from '../../security/dev-issuer.js';
import { ENCRYPTED_ENCODING } from '../../security/payload-codec.js';
import { statusQuery } from '../../workflows/messages.js';
import type { ReleaseWorkflow } from '../../workflows/release.js';
import { buildTestApp, terminateRunningReleases } from '../api/helper.js';
import { DIGEST, eventually, TestEnvironment, type RunningWorkers } from '../helpers/environment.js';

/** Debian's Chromium (the `chromium` package; MEDRELEASE_CHROMIUM names another binary), found in before(). */
let chromiumPath = '';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const OPERATOR = { id: 'op-dave', name: 'Dave Operator', roles: ['operator'] };
const VIEWER = { id: 'vw-frank', name: 'Frank Viewer', roles: ['viewer'] };
const MARKER = `Decrypt-me marker ${randomBytes(6).toString('hex')}`;

/** Free ports on 127.0.0.1, all different (each is free when found; the OS may hand one out twice). */
async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await findFreePort());
  return [...ports];
}

describe('Temporal UI with the codec endpoint, in a browser', () => {
  let workDir: string | undefined;
  let server: DevServerHandle | undefined;
  let issuer: DevIssuer | undefined;
  let env: TestEnvironment | undefined;
  let workers: RunningWorkers | undefined;
  let app: FastifyInstance | undefined;
  let browser: Browser | undefined;
  let handle: WorkflowHandle<typeof ReleaseWorkflow> | undefined;
  let apiUrl = '';
  let uiUrl = '';
  let failed = false;

  const workflowUrl = () => `${uiUrl}/namespaces/default/workflows/${encodeURIComponent(releaseId())}`;
  const releaseId = () => {
    assert.ok(handle, 'the release is started in before()');
    return handle.workflowId;
  };

  before(
    async () => {
      failed = true; // until the setup is complete: keep the server log of a failed start
      // Debian's package, installed as root when missing; otherwise the error names the command.
      chromiumPath = await ensureChromium({ log: (line) => console.log(`[chromium] ${line}`) });
      workDir = await mkdtemp(path.join(tmpdir(), 'medrelease-browser-'));
      // The UI is told the codec endpoint at start, so the API's port is chosen first.
      const [apiPort, temporalPort, uiPort] = await freePorts(3);
      apiUrl = `http://127.0.0.1:${apiPort}`;
      server = await startDevServer({
        dbFile: path.join(workDir, 'temporal.db'),
        logFile: path.join(workDir, 'temporal.log'),
        port: temporalPort,
        uiPort,
        uiCodecEndpoint: `${apiUrl}/codec`,
      });
      assert.ok(server.uiUrl, 'the dev server runs its UI');
      uiUrl = server.uiUrl;
      const uiOrigin = new URL(uiUrl).origin;

      // An issuer whose browser client may return to this API's real port (the environment's own
      // issuer registers http://127.0.0.1/auth/callback only); the API and the workers trust it.
      issuer = await DevIssuer.start({
        users: [OPERATOR, VIEWER],
        audience: 'medrelease-api',
        clients: [{ clientId: 'medrelease-ui', redirectUris: [`${apiUrl}/auth/callback`] }],
      });
      const previousAddress = process.env.TEMPORAL_TEST_ADDRESS;
      process.env.TEMPORAL_TEST_ADDRESS = server.address;
      try {
        env = await TestEnvironment.create({
          clouds: ['aws'],
          configOverrides: {
            auth: { issuer: issuer.issuer, jwksUri: issuer.jwksUri },
            api: { codecOrigins: [uiOrigin] },
          },
        });
      } finally {
        if (previousAddress === undefined) delete process.env.TEMPORAL_TEST_ADDRESS;
        else process.env.TEMPORAL_TEST_ADDRESS = previousAddress;
      }
      const config: Config = { ...env.config, temporal: { ...env.config.temporal, uiUrl } };
      workers = await env.startWorkers();
      app = await buildTestApp(env, { config, temporalUiUrl: uiUrl });
      await app.listen({ host: '127.0.0.1', port: apiPort });

      const model = `model-${randomBytes(4).toString('hex')}`;
      handle = await env.startRelease(
        env.request({
          model: {
            name: model,
            version: '2.0.0',
            image: `registry.example/${model}:2.0.0@${DIGEST}`,
            intendedUse: MARKER,
          },
          // Long enough that the release waits for sign-off for the whole file.
          signoff: { quorum: 2, deadlineSeconds: 600 },
        }),
      );
      const started = handle;
      await eventually(
        async () => (await started.query(statusQuery)).stage === 'awaiting-signoff',
        60_000,
        'the release awaiting sign-off',
      );

      browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: CHROMIUM_ARGS });
      failed = false;
    },
    { timeout: 120_000 },
  );

  after(
    async () => {
      const steps: [string, () => Promise<unknown>][] = [
        ['browser', async () => browser?.close()],
        ['api', async () => app?.close()],
        ['releases', async () => env && terminateRunningReleases(env)],
        ['workers', async () => workers?.stop()],
        ['environment', async () => env?.close()],
        ['issuer', async () => issuer?.close()],
        ['temporal', async () => server?.stop()],
      ];
      for (const [what, step] of steps) {
        try {
          await step();
        } catch (error) {
          console.error(`cleanup of the ${what} failed:`, error);
        }
      }
      // Kept when the setup or a browser step failed: the server log and the screenshots are there.
      if (workDir && failed) console.error(`kept for inspection: ${workDir}`);
      else if (workDir) await rm(workDir, { recursive: true, force: true });
    },
    { timeout: 60_000 },
  );

  /** A fresh browser profile (no cookies, empty localStorage). */
  async function newContext(): Promise<BrowserContext> {
    assert.ok(browser, 'the browser is launched in before()');
    return browser.newContext({ viewport: { width: 1280, height: 900 } });
  }

  /** Runs a browser step; on failure saves a screenshot to the test's folder and says where. */
  async function withScreenshot(page: Page, name: string, step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (error) {
      failed = true;
      const file = path.join(workDir ?? tmpdir(), `${name}-${Date.now()}.png`);
      await page
        .screenshot({ path: file, fullPage: true })
        .then(() => console.error(`screenshot of the failed step '${name}': ${file}`))
        .catch((screenshotError: unknown) => console.error(`no screenshot of '${name}':`, screenshotError));
      throw error;
    }
  }

  /** The statuses of the UI's POST /codec/decode calls, as the page receives them. */
  function watchDecodes(page: Page): number[] {
    const statuses: number[] = [];
    page.on('response', (response) => {
      const url = new URL(response.url());
      if (
        response.request().method() === 'POST' &&
        url.origin === apiUrl &&
        url.pathname === '/codec/decode'
      ) {
        statuses.push(response.status());
      }
    });
    return statuses;
  }

  /**
   * What a user does once per browser (see the top of this file): the Codec Server settings in the
   * UI's top bar, by clicking, so that the UI sends the session cookie to the codec endpoint.
   */
  async function enableCodecCredentials(page: Page): Promise<void> {
    await page.goto(`${uiUrl}/namespaces/default/workflows`);
    await page.getByRole('button', { name: 'Codec Server is configured' }).click();
    const panel = page.locator('aside').filter({ has: page.getByTestId('data-encoder-title') });
    const override = panel.getByTestId('override-accordion').getByRole('button').first();
    await override.click();
    await panel.getByLabel('Use my browser setting and ignore Cluster-level setting.').check();
    // Closed again: while it is open, the panel's switches sit under the sticky top bar.
    await override.click();
    await panel.getByLabel('Codec Server browser endpoint').fill(`${apiUrl}/codec`);
    const credentials = panel.getByRole('switch', { name: 'Include cross-origin credentials' });
    // The switch's input is visually hidden; its label is what a user clicks.
    await panel.getByTestId('data-encoder-include-credentials').click();
    assert.equal(await credentials.isChecked(), true, 'the "Include cross-origin credentials" switch is on');
    await panel.getByRole('button', { name: 'Apply' }).click();
    await panel.waitFor({ state: 'hidden', timeout: 10_000 });
    const stored = await page.evaluate<Record<string, string | null>>(
      '({ override: localStorage.getItem("overrideRemoteCodecConfiguration"), endpoint: localStorage.getItem("endpoint"), credentials: localStorage.getItem("includeCredentials") })',
    );
    assert.deepEqual(
      stored,
      { override: 'true', endpoint: JSON.stringify(`${apiUrl}/codec`), credentials: 'true' },
      'the UI stored the browser codec setting',
    );
  }

  /** The browser sign-in: /auth/login → the issuer's page → the user's button → back to the UI. */
  async function signIn(page: Page, user: { id: string }, returnTo: string): Promise<void> {
    assert.ok(issuer);
    const issuerUrl = issuer.issuer;
    await page.goto(`${apiUrl}/auth/login?return_to=${encodeURIComponent(returnTo)}`);
    assert.ok(
      page.url().startsWith(`${issuerUrl}/authorize?`),
      `at the issuer's sign-in page, not ${page.url()}`,
    );
    await page.getByRole('button', { name: `(${user.id}:`, exact: false }).click();
    await page.waitForURL((url) => url.origin === new URL(uiUrl).origin, { timeout: 20_000 });
    const session = (await page.context().cookies(`${apiUrl}/codec/decode`)).find(
      (cookie) => cookie.name === SESSION_COOKIE,
    );
    assert.ok(session, `the sign-in set the ${SESSION_COOKIE} cookie`);
    assert.equal(session.httpOnly, true, 'the session cookie is HttpOnly');
    assert.equal(session.path, '/codec', 'the session cookie goes to /codec only');
  }

  /**
   * The workflow's page has loaded and its input is shown as the UI shows a payload it could not
   * decode: the encrypted payload itself, its `encoding` metadata in base64 ("binary/encrypted"),
   * with the top bar saying "Codec Server could not connect".
   */
  async function shownEncrypted(page: Page, decodes: number[]): Promise<void> {
    await page.getByText(releaseId()).first().waitFor({ state: 'visible', timeout: 30_000 });
    await page
      .getByText(`"${Buffer.from(ENCRYPTED_ENCODING).toString('base64')}"`)
      .first()
      .waitFor({ state: 'visible', timeout: 30_000 });
    // The top bar's Codec Server button turns to "Codec Server could not connect".
    await codecStatus(page, 'error').waitFor({ state: 'visible', timeout: 10_000 });
    await eventually(() => Promise.resolve(decodes.length > 0), 10_000, 'the UI calling POST /codec/decode');
    // Time for any later decode (history events, a refresh) to land before looking for the marker.
    await page.waitForTimeout(2000);
  }

  /** The top bar's Codec Server button in one of its states (the narrow-screen copy is hidden). */
  function codecStatus(page: Page, state: 'configured' | 'success' | 'error') {
    return page.locator(`[data-testid="data-encoder-status-${state}"]:visible`).first();
  }

  async function assertNoMarker(page: Page): Promise<void> {
    const text = await page.locator('body').innerText();
    assert.ok(!text.includes(MARKER), 'the page shows the decrypted marker');
    assert.ok(!(await page.content()).includes(MARKER), "the page's DOM holds the decrypted marker");
  }

  test(
    'an operator signed in through /auth/login sees the decrypted input in the UI',
    { timeout: 90_000 },
    async () => {
      const context = await newContext();
      try {
        const page = await context.newPage();
        const decodes = watchDecodes(page);
        await withScreenshot(page, 'operator', async () => {
          await enableCodecCredentials(page);
          decodes.length = 0;
          await signIn(page, OPERATOR, workflowUrl());
          await page
            .getByText(MARKER)
            .first()
            .waitFor({ state: 'visible', timeout: 45_000 })
            .catch((error: unknown) => {
              throw new Error(
                `the Temporal UI did not show the decrypted marker within 45 s (codec decode statuses: ${decodes.join(', ') || 'none'}): ${String(error)}`,
              );
            });
          await codecStatus(page, 'success').waitFor({ state: 'visible', timeout: 10_000 });
          assert.ok(decodes.includes(200), `the codec decoded (statuses ${decodes.join(', ')})`);
          assert.ok(
            !decodes.some((status) => status === 401 || status === 403),
            `no refusal: ${decodes.join(', ')}`,
          );
        });
      } finally {
        await context.close();
      }
    },
  );

  // Sessions that must not see the plaintext: none at all (401), and a signed-in viewer (403).
  for (const [who, user, status] of [
    ['a browser without a session', undefined, 401],
    ['a viewer signed in', VIEWER, 403],
  ] as const) {
    test(`${who}: the codec answers ${status} and the marker never shows`, { timeout: 90_000 }, async () => {
      const context = await newContext();
      try {
        const page = await context.newPage();
        const decodes = watchDecodes(page);
        await withScreenshot(page, user ? 'viewer' : 'no-session', async () => {
          // The same UI setting as the operator's: the browser sends its cookie, if it has one.
          await enableCodecCredentials(page);
          decodes.length = 0;
          if (user) await signIn(page, user, workflowUrl());
          else await page.goto(workflowUrl());
          await shownEncrypted(page, decodes);
          assert.ok(
            decodes.length > 0 && decodes.every((answer) => answer === status),
            `codec statuses: ${decodes.join(', ')}`,
          );
          await assertNoMarker(page);
        });
      } finally {
        await context.close();
      }
    });
  }

  test('the Temporal server stores the input as ciphertext', async () => {
    assert.ok(env);
    const raw = new Client({ connection: env.clientConnection, namespace: env.config.temporal.namespace });
    const history = await raw.workflow.getHandle(releaseId()).fetchHistory();
    const started = history.events?.find((event) => event.workflowExecutionStartedEventAttributes);
    const payloads = (started?.workflowExecutionStartedEventAttributes?.input?.payloads ?? []) as Payload[];
    assert.equal(payloads.length, 1, 'the release has one input payload');
    const [payload] = payloads;
    assert.equal(Buffer.from(payload!.metadata?.encoding ?? []).toString('utf8'), ENCRYPTED_ENCODING);
    const bytes = Buffer.from(payload!.data ?? []);
    assert.ok(bytes.length > 0, 'the payload has data');
    assert.ok(!bytes.includes(MARKER), 'the stored payload holds the marker in plain text');
    assert.ok(
      !bytes.includes(Buffer.from(MARKER).toString('base64')),
      'the stored payload holds the marker in base64',
    );
  });
});
