// tests/sdk/examples/examples.test.mjs: the seed guide's four examples, as
// ported in net/js/examples/, run against a live sbxd (host-mode sandboxes,
// or microVMs with SBX_SDK_BACKEND=vm). Each Worker's fetch() gets web
// Requests, as on Cloudflare; one test serves a Worker with
// examples/serve.mjs and calls it over loopback HTTP. The LLM is a stub
// server on loopback (the Worker calls it, not the sandbox). The CI run
// clones from a git daemon on loopback (tests/sdk/helpers.mjs). npm is
// pointed at nothing: a closed port as its registry, set in the sandbox's
// environment, so `npm install express` SKIPs unless SBX_SDK_NETWORK=1 and
// the sandbox can reach a registry.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { spawn, execFileSync } from 'node:child_process';

import codeExecution from '../../../net/js/examples/code-execution.mjs';
import devEnvironment from '../../../net/js/examples/dev-environment.mjs';
import ciRun from '../../../net/js/examples/ci-run.mjs';
import llmFeedback from '../../../net/js/examples/llm-feedback.mjs';
import { makeEnv } from '../../../net/js/examples/env.mjs';
import { getSandbox } from '../../../net/js/src/index.js';
import { T, vmBackend, freePort, makeRepo, gitServe } from '../helpers.mjs';

const EX = new URL('../../../net/js/examples/', import.meta.url).pathname;
const quiet = { log: console.log };

// npm settings that keep a sandbox's npm off the network: a closed port on
// the sandbox's own loopback as the registry, no retries, no audit.
const offlineNpm = {
  npm_config_registry: 'http://127.0.0.1:9/', npm_config_fetch_retries: '0',
  npm_config_fetch_timeout: '5000', npm_config_audit: 'false', npm_config_fund: 'false',
  npm_config_update_notifier: 'false',
};
const npmrc = `${Object.entries(offlineNpm).map(([k, v]) => `${k.slice(11)}=${v}`).join('\n')}\n`;

function post(url, body) {
  return new Request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

async function silently(fn) {
  console.log = () => {};
  try { return await fn(); } finally { console.log = quiet.log; }
}

test('code_execution_15', async () => {
  const env = makeEnv();
  const res = await silently(() => codeExecution.fetch(post('http://w/', { userId: 'alice', code: 'print(sum([1, 2, 3, 4, 5]))' }), env));
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { success: true, output: '15\n', error: null });
  const bad = await silently(() => codeExecution.fetch(post('http://w/', { userId: 'alice', code: 'raise ValueError("no")' }), env));
  const j = await bad.json();
  assert.equal(j.success, false);
  assert.equal(j.error.name, 'ValueError');
  assert.equal((await codeExecution.fetch(new Request('http://w/'), env)).status, 405);
});

test('code_execution_served_over_http', async () => {
  const port = await freePort();
  const child = spawn(process.execPath, [`${EX}serve.mjs`, `${EX}code-execution.mjs`, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise((resolve, reject) => {
      child.stdout.once('data', resolve);
      child.once('exit', (c) => reject(new Error(`serve.mjs exited ${c}`)));
    });
    const res = await fetch(`http://127.0.0.1:${port}/`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      // alice again: her sandbox is warm (a new one boots a VM: slow under emulation).
      body: JSON.stringify({ userId: 'alice', code: 'print(sum([1, 2, 3, 4, 5]))' }),
    });
    assert.deepEqual(await res.json(), { success: true, output: '15\n', error: null });
  } finally {
    child.kill();
    await getSandbox(makeEnv().Sandbox, 'user-alice').destroy().catch(() => {});
  }
});

const dev = { env: null, user: `u${process.pid}` };

test('dev_env_init', async () => {
  dev.env = makeEnv({ PREVIEW_PORT: String(await freePort()), PREVIEW_WAIT_MS: String(T(15000)) });
  // The example's sandbox, made first with npm kept off the network (a VM
  // sandbox does not inherit sbxd's environment as a host-mode one does).
  if (!process.env.SBX_SDK_NETWORK) await getSandbox(dev.env.Sandbox, `dev-env-${dev.user}`, { env: offlineNpm }).ensure();
  const res = await devEnvironment.fetch(new Request(`http://w/init?userId=${dev.user}`), dev.env);
  assert.deepEqual(await res.json(), { status: 'initialized' });
  assert.equal((await devEnvironment.fetch(new Request('http://w/init'), dev.env)).status, 400);
});

test('dev_env_npm_install', async (t) => {
  // npm in an emulated guest takes minutes to find out that nothing answers.
  if (vmBackend && !process.env.SBX_SDK_NETWORK) return t.skip('the host VM has no network and tests send no traffic off the machine (SBX_SDK_NETWORK=1 to try)');
  const res = await silently(() => devEnvironment.fetch(new Request(`http://w/install?userId=${dev.user}`), dev.env));
  const j = await res.json();
  dev.installed = j.success;
  if (!j.success) {
    const why = /ENOTFOUND|ECONNREFUSED|EAI_AGAIN|ETIMEDOUT|network|registry|fetch/i.test(j.error)
      ? 'the sandbox reaches no npm registry (tests keep traffic on loopback; SBX_SDK_NETWORK=1 to try)'
      : `npm install failed: ${j.error.slice(0, 200)}`;
    if (/reaches no npm registry/.test(why) || !process.env.SBX_SDK_NETWORK) return t.skip(why);
    assert.fail(why);
  }
});

test('dev_env_write_and_read', async () => {
  if (!dev.installed) {
    // Without express, the same app on node:http (written through /write).
    const port = dev.env.PREVIEW_PORT;
    const res = await devEnvironment.fetch(post(`http://w/write?userId=${dev.user}`, {
      path: 'index.js',
      content: `require('http').createServer((req, res) => res.end('Hello from Sandbox!')).listen(${port}, () => console.log('Server running on port ${port}'));`,
    }), dev.env);
    assert.deepEqual(await res.json(), { status: 'written' });
  }
  const r = await devEnvironment.fetch(new Request(`http://w/read?userId=${dev.user}&path=package.json`), dev.env);
  assert.equal(r.headers.get('content-type'), 'text/plain');
  assert.equal(JSON.parse(await r.text()).name, dev.installed ? 'my-app' : 'my-app');
});

test('dev_env_preview_url', async () => {
  const res = await devEnvironment.fetch(new Request(`http://w/preview?userId=${dev.user}`), dev.env);
  const j = await res.json();
  assert.match(j.previewUrl.url, /^https:\/\/\d+-dev-env-.*\.localhost/);
  const page = await dev.env.Sandbox.fetch(j.previewUrl.url);
  assert.equal(page.status, 200);
  assert.equal(page.text(), 'Hello from Sandbox!');
  assert.equal((await devEnvironment.fetch(new Request(`http://w/nope?userId=${dev.user}`), dev.env)).status, 404);
  await getSandbox(dev.env.Sandbox, `dev-env-${dev.user}`).destroy();
});

test('ci_run_pass_and_fail', async (t) => {
  try { execFileSync('sh', ['-c', 'command -v git'], { stdio: 'ignore' }); } catch { return t.skip('git is not installed'); }
  const env = makeEnv();
  const base = fs.mkdtempSync('/tmp/sbx-sdk-ci-');
  // Each repository carries an .npmrc that keeps npm in the sandbox offline.
  const repo = (name, testJs) => makeRepo(base, name, {
    'package.json': JSON.stringify({ name: 'ci-demo', version: '1.0.0', scripts: { test: 'node test.js' } }),
    'test.js': testJs, '.npmrc': npmrc,
  });
  repo('ok', "console.log('1 test passed')");
  repo('bad', "console.log('1 test failed'); process.exit(1)");
  let gitd;
  try {
    gitd = await gitServe(base);
    let res = await silently(() => ciRun.fetch(post('http://w/', { repository: gitd.url('ok'), ref: 'main' }), env));
    let j = await res.json();
    assert.equal(j.success, true, JSON.stringify(j));
    assert.equal(j.commit, 'main');
    assert.match(j.output, /1 test passed/);
    assert.equal(typeof j.duration, 'number');
    // A failing run reports failure (one run is enough with VMs: each boots one).
    if (!vmBackend) {
      res = await silently(() => ciRun.fetch(post('http://w/', { repository: gitd.url('bad'), ref: 'main' }), env));
      j = await res.json();
      assert.equal(j.success, false);
      assert.match(j.output, /1 test failed/);
    }
    // Every run's sandbox is destroyed in the finally block.
    assert.equal((await env.Sandbox.listSandboxes()).some((s) => s.id.startsWith('ci-')), false);
  } finally {
    if (gitd) await gitd.stop();
    fs.rmSync(base, { recursive: true, force: true });
  }
});

/** A stand-in for the model API: answers from a list, records prompts. */
async function stubLLM(answers) {
  const prompts = [];
  const server = http.createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    const j = JSON.parse(body);
    prompts.push({ auth: req.headers.authorization, content: j.messages[0].content });
    const code = answers[Math.min(prompts.length - 1, answers.length - 1)];
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ choices: [{ message: { content: code } }] }));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { prompts, server, url: `http://127.0.0.1:${server.address().port}/api/v1/chat/completions` };
}

test('llm_feedback_loop', async () => {
  const llm = await stubLLM(['print(undefined_name)', 'print(sum(range(10)))']);
  try {
    const env = makeEnv({ LLM_URL: llm.url, OPENROUTER_API_KEY: 'stub-key' });
    const res = await silently(() => llmFeedback.fetch(post('http://w/', { prompt: 'sum 0..9', userId: 'carol' }), env));
    const j = await res.json();
    assert.equal(j.success, true, JSON.stringify(j));
    assert.equal(j.iterations, 2);
    assert.equal(j.output, '45\n');
    assert.equal(j.code, 'print(sum(range(10)))');
    assert.equal(llm.prompts.length, 2);
    assert.equal(llm.prompts[0].auth, 'Bearer stub-key');
    assert.match(llm.prompts[1].content, /Previous attempts failed:\n1\. Attempt 1 failed: NameError: name 'undefined_name' is not defined/);
  } finally {
    llm.server.close();
  }
});

test('llm_feedback_gives_up', async () => {
  const llm = await stubLLM(['1/0']);
  try {
    const env = makeEnv({ LLM_URL: llm.url });
    const res = await silently(() => llmFeedback.fetch(post('http://w/', { prompt: 'x', userId: 'carol' }), env));
    const j = await res.json();
    assert.equal(j.success, false);
    assert.equal(j.error, 'Failed after 3 iterations');
    assert.equal(j.history.length, 3);
    assert.match(j.history[2], /ZeroDivisionError/);
    assert.equal((await getSandbox(env.Sandbox, 'ai-carol').listCodeContexts()).length, 0);
    await getSandbox(env.Sandbox, 'ai-carol').destroy();
  } finally {
    llm.server.close();
  }
});
