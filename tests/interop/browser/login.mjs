// Drives Debian's headless Chromium (playwright-core over the DevTools protocol) through
// a browser login at an app behind zt and a real OpenID Provider:
//
//   protected URL -> IdP login form -> wrong password refused -> sign in -> consent ->
//   back at the app as user 1 -> logout (IdP end-session confirmation) -> protected URL
//   asks to sign in again -> sign in as user 2 -> denied URL answers 403.
//
// Every flag can also come from the environment (--protected-url <-> PROTECTED_URL).
// Screenshots of every step go to ARTIFACT_DIR (step-01-login-form.png, ...). Prints one
// JSON line on stdout; exits 1 at the first failed step (with a screenshot of that page),
// 2 on bad arguments or when Chromium does not start.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { chromium } from 'playwright-core';

const OPTIONS = {
  'protected-url': { type: 'string' },
  'logout-url': { type: 'string' },
  'denied-url': { type: 'string' },
  'after-logout-url': { type: 'string' },
  issuer: { type: 'string' },
  user1: { type: 'string', default: 'alice' },
  password1: { type: 'string', default: 'alice-pw' },
  expect1: { type: 'string', default: 'alice@example.com' },
  user2: { type: 'string', default: 'bob' },
  password2: { type: 'string', default: 'bob-pw' },
  expect2: { type: 'string', default: 'bob@example.com' },
  'denied-status': { type: 'string', default: '403' },
  'denied-text': { type: 'string', default: 'Forbidden' },
  'session-cookie': { type: 'string', default: '__Host-zt-session' },
  'artifact-dir': { type: 'string', default: 'interop-artifacts' },
  chromium: { type: 'string', default: '/usr/bin/chromium' },
  'timeout-ms': { type: 'string', default: '15000' },
};

function options() {
  const { values } = parseArgs({ options: OPTIONS, strict: true });
  for (const flag of Object.keys(OPTIONS)) {
    const env = process.env[flag.toUpperCase().replaceAll('-', '_')];
    const fromCli = process.argv.some((a) => a === `--${flag}` || a.startsWith(`--${flag}=`));
    if (env !== undefined && !fromCli) values[flag] = env;
  }
  for (const required of ['protected-url', 'logout-url', 'denied-url', 'issuer']) {
    if (!values[required]) {
      console.log(JSON.stringify({ ok: false, error: `--${required} (or ${required.toUpperCase().replaceAll('-', '_')}) is required` }));
      process.exit(2);
    }
  }
  return values;
}

const opts = options();
const timeout = Number(opts['timeout-ms']);
const issuer = opts.issuer.replace(/\/$/, '');
const afterLogout = opts['after-logout-url'] || `${new URL(opts['protected-url']).origin}/`;
fs.mkdirSync(opts['artifact-dir'], { recursive: true });

class StepFailed extends Error {}
function check(condition, message) {
  if (!condition) throw new StepFailed(message);
}

const started = Date.now();
const steps = [];
let shot = 0;
let page;
let context;
let userDataDir;
let current = 'launch';

async function screenshot(name) {
  shot += 1;
  const file = path.join(opts['artifact-dir'], `step-${String(shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

// The page's URL for the record, without tokens (the logout URL carries the ID token).
function shownUrl() {
  const url = new URL(page.url());
  for (const name of ['id_token_hint', 'code', 'state']) {
    if (url.searchParams.has(name)) url.searchParams.set(name, '...');
  }
  return url.href;
}

// Runs one step: `fn` returns what to record; a screenshot is taken after it.
async function step(name, fn) {
  current = name;
  const t0 = Date.now();
  const detail = (await fn()) || {};
  const file = await screenshot(name);
  steps.push({
    step: name, url: shownUrl(), ...detail, screenshot: path.basename(file), ms: Date.now() - t0,
  });
  process.stderr.write(`browser: ok ${name} (${Date.now() - t0} ms) at ${shownUrl()}\n`);
}

const onIdp = (url) => url.startsWith(`${issuer}/`);
const text = async () => page.locator('body').innerText();

async function expectLoginForm() {
  await page.waitForURL((u) => onIdp(u.href) && u.pathname.startsWith('/interaction/'), { timeout });
  await page.locator('form input[name="username"]').waitFor({ timeout });
  check(await page.locator('input[name="password"][type="password"]').count() === 1, 'the IdP page has no password field');
}

async function submitLogin(user, password) {
  await page.fill('input[name="username"]', user);
  await page.fill('input[name="password"]', password);
  const [response] = await Promise.all([
    page.waitForNavigation({ timeout }),
    page.click('button[type="submit"]'),
  ]);
  return response;
}

async function consent(user) {
  await page.waitForURL((u) => onIdp(u.href) && u.pathname.startsWith('/interaction/'), { timeout });
  const body = await text();
  check(/Authorize/.test(body), `expected the consent page, got: ${JSON.stringify(body.slice(0, 300))}`);
  check(body.includes(`Signed in as ${user}`), `the consent page does not name ${user}`);
  check(await page.locator('#continue').count() === 1, 'the consent page has no Continue button');
  return { scopes: await page.locator('#scopes li').allInnerTexts() };
}

async function continueToApp(expect) {
  // Continue -> IdP -> the app's callback -> 303 to the protected URL.
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url() === opts['protected-url'] && r.request().isNavigationRequest(), { timeout }),
    page.click('#continue'),
  ]);
  await page.waitForURL(opts['protected-url'], { timeout });
  check(response.status() === 200, `the protected URL answered ${response.status()} after sign-in`);
  const body = await text();
  check(body.includes(expect), `the app page does not show ${JSON.stringify(expect)}: ${JSON.stringify(body.slice(0, 300))}`);
  return { shows: expect };
}

async function sessionCookie() {
  const cookies = await context.cookies();
  return cookies.find((c) => c.name === opts['session-cookie']);
}

async function main() {
  // A fresh profile every run (playwright takes it as the persistent context's dir).
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'zt-chromium-'));
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: opts.chromium,
      headless: true,
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
      viewport: { width: 900, height: 700 },
      timeout,
    });
  } catch (err) {
    console.log(JSON.stringify({ ok: false, step: 'launch', error: `Chromium did not start (${opts.chromium}): ${err.message.split('\n')[0]}` }));
    process.exit(2);
  }
  page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(timeout);
  const u1 = opts.user1;
  const u2 = opts.user2;

  await step('login-form', async () => {
    const response = await page.goto(opts['protected-url'], { timeout });
    check(response, 'no response for the protected URL');
    await expectLoginForm();
    return { status: response.status() };
  });

  await step('wrong-password', async () => {
    const response = await submitLogin(u1, `${opts.password1}-wrong`);
    check(response && response.status() === 401, `a wrong password answered ${response?.status()}, not 401`);
    await expectLoginForm();
    const body = await text();
    check(body.includes('Invalid username or password'), 'no error message for a wrong password');
    return { status: response.status() };
  });

  await step(`consent-${u1}`, async () => {
    await submitLogin(u1, opts.password1);
    return consent(u1);
  });

  let cookie;
  await step(`signed-in-${u1}`, async () => {
    const detail = await continueToApp(opts.expect1);
    cookie = await sessionCookie();
    check(cookie, `no ${opts['session-cookie']} cookie after sign-in (was it refused over http?)`);
    check(cookie.secure && cookie.httpOnly && cookie.sameSite === 'Lax' && cookie.path === '/' && !cookie.domain.startsWith('.'),
      `the session cookie lacks its attributes: ${JSON.stringify({ ...cookie, value: undefined })}`);
    return detail;
  });

  await step('logout-confirm', async () => {
    await page.goto(opts['logout-url'], { timeout });
    check(onIdp(page.url()), `logout did not go to the IdP's end_session endpoint: ${shownUrl()}`);
    const logout = new URL(page.url()).searchParams;
    check(logout.get('post_logout_redirect_uri') === afterLogout && logout.has('id_token_hint'),
      `the end_session request lacks post_logout_redirect_uri=${afterLogout} or id_token_hint: ${shownUrl()}`);
    check(!(await sessionCookie()), 'the session cookie survived logout');
    const yes = page.getByRole('button', { name: 'Yes, sign me out' });
    check(await yes.count() === 1, `no "Yes, sign me out" button at ${shownUrl()}: ${JSON.stringify((await text()).slice(0, 300))}`);
    return {};
  });

  await step('signed-out', async () => {
    await Promise.all([
      page.waitForURL(afterLogout, { timeout }),
      page.getByRole('button', { name: 'Yes, sign me out' }).click(),
    ]);
    check(!(await sessionCookie()), 'the session cookie came back');
    return {};
  });

  await step('login-form-again', async () => {
    const response = await page.goto(opts['protected-url'], { timeout });
    check(response, 'no response for the protected URL');
    await expectLoginForm();
    return {};
  });

  await step(`consent-${u2}`, async () => {
    await submitLogin(u2, opts.password2);
    return consent(u2);
  });

  await step(`signed-in-${u2}`, async () => continueToApp(opts.expect2));

  await step('denied', async () => {
    const response = await page.goto(opts['denied-url'], { timeout });
    check(response, 'no response for the denied URL');
    const status = response.status();
    check(String(status) === opts['denied-status'], `the denied URL answered ${status}, not ${opts['denied-status']}`);
    check(page.url() === opts['denied-url'], `the denied URL redirected to ${page.url()}`);
    const body = await text();
    check(body.includes(opts['denied-text']), `the ${status} page does not say ${JSON.stringify(opts['denied-text'])}: ${JSON.stringify(body.slice(0, 300))}`);
    return { status };
  });

  const { value: _value, ...cookieAttributes } = cookie;
  console.log(JSON.stringify({
    ok: true, steps, session_cookie: cookieAttributes, chromium: await page.evaluate(() => navigator.userAgent.match(/Chrome\/([\d.]+)/)?.[1]), ms: Date.now() - started,
  }));
}

try {
  await main();
  await context.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
} catch (err) {
  let file;
  try {
    if (page) file = path.basename(await screenshot(`FAILED-${current}`));
  } catch { /* the page may be gone */ }
  let body;
  try { body = page ? (await text()).slice(0, 500) : undefined; } catch { /* ignore */ }
  console.log(JSON.stringify({
    ok: false,
    step: current,
    error: err instanceof StepFailed ? err.message : (err.message || String(err)).split('\n')[0],
    url: page ? shownUrl() : undefined,
    page_text: body,
    screenshot: file,
    steps,
    ms: Date.now() - started,
  }));
  process.stderr.write(`browser: FAILED at step ${current}: ${err.message}\n`);
  await context?.close().catch(() => {});
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
  process.exit(1);
}
