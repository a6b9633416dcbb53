// tests/sdk/js/sdk.test.mjs: the JavaScript SDK against a live sbxd, with
// Node's built-in test runner: host-mode sandboxes natively, microVMs with
// SBX_SDK_BACKEND=vm (tests/vm/sdk_vm.sh). Every exported method is called
// at least once (exports.test.mjs checks that). Env: SBX_URL, SBX_TOKEN,
// SBX_FINGERPRINT, SBX_CA, SDK_HOST_ADDR, SDK_ALIAS_PORT (set by
// tests/sdk/js.sh). Top-level tests only: js.sh maps each to a line.
import test from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import { Readable } from 'node:stream';
import { execFileSync } from 'node:child_process';

import { SbxClient, getSandbox, Sandbox, Process, SandboxError, parseSSE } from '../../../net/js/src/index.js';
import { pinCheck } from '../../../net/js/src/transport.js';
import { T, vmBackend, freePort, hostHas, makeRepo, gitServe } from '../helpers.mjs';

const env = process.env;
const client = new SbxClient({ url: env.SBX_URL, token: env.SBX_TOKEN, fingerprint: env.SBX_FINGERPRINT });
const sb = getSandbox(client, `js-${process.pid}`);
const W = '/workspace';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// How many processes in the sandbox have a command line starting with
// "sleep MARKER" (/proc, so no procps is needed in the guest).
async function sleepers(marker) {
  const r = await sb.exec(`for p in /proc/[0-9]*; do tr '\\0' ' ' <$p/cmdline 2>/dev/null; echo; done | grep -c '^sleep ${marker} '`);
  return Number(r.stdout.trim());
}

test('client_health_and_list', async () => {
  const h = await client.health();
  assert.equal(h.ok, true);
  assert.ok(sb instanceof Sandbox);
  await sb.ensure();
  const list = await client.listSandboxes();
  assert.ok(list.some((s) => s.id === sb.id));
  const info = await sb.info();
  assert.equal(info.id, sb.id);
});

test('tls_ca_trust', async () => {
  const c = new SbxClient({ url: env.SBX_URL.replace('127.0.0.1', 'localhost'), token: env.SBX_TOKEN, ca: fs.readFileSync(env.SBX_CA) });
  assert.ok(Array.isArray(await c.listSandboxes()));
});

test('tls_wrong_pin_refused', async () => {
  const bad = env.SBX_FINGERPRINT.replace(/^../, env.SBX_FINGERPRINT.startsWith('00') ? '11' : '00');
  const c = new SbxClient({ url: env.SBX_URL, token: env.SBX_TOKEN, fingerprint: bad });
  await assert.rejects(c.listSandboxes(), (e) => e instanceof SandboxError && e.code === 'tls_pin_mismatch');
});

test('tls_untrusted_refused', async () => {
  // fingerprint: undefined (given) overrides $SBX_FINGERPRINT: the system store only.
  const c = new SbxClient({ url: env.SBX_URL.replace('127.0.0.1', 'localhost'), token: env.SBX_TOKEN, fingerprint: undefined });
  await assert.rejects(c.listSandboxes(), (e) => e instanceof SandboxError && e.code === 'tls_error');
});

test('tls_pin_by_signing_cert', async (t) => {
  if (!hostHas('openssl')) return t.skip('openssl is not installed');
  const dir = fs.mkdtempSync('/tmp/sbx-sdk-pki-');
  try {
    const sh = (c) => execFileSync('sh', ['-c', c], { cwd: dir, stdio: 'ignore' });
    sh('openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=ca -addext basicConstraints=critical,CA:TRUE');
    sh('openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout l.key -out l.csr -subj /CN=a.localhost');
    sh('printf "subjectAltName=DNS:a.localhost\\n" > ext && openssl x509 -req -in l.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out leaf.pem -days 1 -extfile ext');
    sh('openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout f.key -out forged.pem -days 1 -subj /CN=a.localhost -addext subjectAltName=DNS:a.localhost');
    const peer = (f) => { const x = new crypto.X509Certificate(fs.readFileSync(`${dir}/${f}`)); return { raw: x.raw, fingerprint256: x.fingerprint256 }; };
    const ca = peer('ca.pem');
    const pin = ca.fingerprint256.replace(/:/g, '').toLowerCase();
    const good = { ...peer('leaf.pem'), issuerCertificate: ca };
    const forged = { ...peer('forged.pem'), issuerCertificate: ca };
    assert.equal(pinCheck(good, pin, 'a.localhost'), null);
    assert.match(pinCheck(good, pin, 'b.localhost'), /does not name/);
    assert.match(pinCheck(forged, pin, 'a.localhost'), /not signed/);
    assert.match(pinCheck(peer('forged.pem'), pin, 'a.localhost'), /does not match/);
    assert.equal(pinCheck(ca, pin, 'anything'), null);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// The API's own answer to a request, with Node's https and the CA file.
function rawCall(method, path) {
  return new Promise((resolve, reject) => {
    const u = new URL(path, env.SBX_URL.replace('127.0.0.1', 'localhost'));
    const req = https.request(u, { method, ca: fs.readFileSync(env.SBX_CA), headers: { Authorization: `Bearer ${env.SBX_TOKEN}` } }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, json: JSON.parse(body) }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('errors_are_typed', async () => {
  const c = new SbxClient({ url: env.SBX_URL, token: 'sbx_bad', fingerprint: env.SBX_FINGERPRINT });
  await assert.rejects(c.listSandboxes(), (e) => e instanceof SandboxError && e.status === 401 && e.code === 'unauthorized');
  // The exception carries the API's own code and message.
  await sb.ensure();
  const raw = await rawCall('GET', `/v1/sandboxes/${sb.id}/processes/no-such-proc`);
  assert.equal(raw.status, 404);
  assert.ok(raw.json.error.message);
  await assert.rejects(sb.getProcess('no-such-proc'), (e) => e instanceof SandboxError && e.name === 'SandboxError' &&
    e.status === 404 && e.code === raw.json.error.code && e.message === raw.json.error.message);
  assert.throws(() => getSandbox(client, 'bad id!'), SandboxError);
  await assert.rejects(sb.readFile(`${W}/does-not-exist`), (e) => e.status === 404);
});

test('keep_alive_and_close', async () => {
  const c = new SbxClient({ url: env.SBX_URL, token: env.SBX_TOKEN, fingerprint: env.SBX_FINGERPRINT });
  const s = getSandbox(c, sb.id);
  for (let i = 0; i < 20; i++) assert.equal((await s.exec('true')).exitCode, 0);
  c.close();
  assert.equal((await s.exec('echo after')).stdout, 'after\n');
  const cold = new SbxClient({ url: env.SBX_URL, token: env.SBX_TOKEN, fingerprint: env.SBX_FINGERPRINT, keepAlive: false });
  assert.equal((await getSandbox(cold, sb.id).exec('echo cold')).stdout, 'cold\n');
});

test('exec_result', async () => {
  const r = await sb.exec('echo out; echo err >&2; exit 3');
  assert.equal(r.exitCode, 3);
  assert.equal(r.success, false);
  assert.equal(r.stdout, 'out\n');
  assert.equal(r.stderr, 'err\n');
  assert.equal(r.command, 'echo out; echo err >&2; exit 3');
  assert.equal(typeof r.duration, 'number');
  assert.ok(!Number.isNaN(Date.parse(r.timestamp)));
});

test('exec_env_cwd', async () => {
  await sb.mkdir(`${W}/sub`, { recursive: true });
  const r = await sb.exec('echo "$GREETING"; pwd', { env: { GREETING: 'hi there' }, cwd: `${W}/sub` });
  assert.equal(r.exitCode, 0);
  assert.match(r.stdout, /^hi there\n.*sub\n$/);
});

test('exec_stream_callbacks', async () => {
  const seen = [];
  const out = [], err = [];
  const r = await sb.exec('echo one; sleep 0.2; echo two >&2; echo three', {
    stream: true,
    onOutput: (stream, data) => seen.push([stream, data]),
    onStdout: (d) => out.push(d),
    onStderr: (d) => err.push(d),
  });
  assert.equal(r.exitCode, 0);
  assert.equal(out.join(''), 'one\nthree\n');
  assert.equal(err.join(''), 'two\n');
  assert.equal(r.stdout, 'one\nthree\n');
  assert.ok(seen.length >= 3);
  assert.equal(seen[0][0], 'stdout');
});

test('exec_stream_iterator', async () => {
  const types = [];
  let exitCode;
  for await (const ev of sb.execStream('echo a; exit 4')) {
    types.push(ev.type);
    if (ev.type === 'complete') exitCode = ev.exitCode;
  }
  assert.deepEqual(types, ['start', 'stdout', 'complete']);
  assert.equal(exitCode, 4);
});

test('exec_timeout_is_not_exit_0', async () => {
  await assert.rejects(sb.exec('sleep 30', { timeout: 300 }), (e) => e instanceof SandboxError && e.code === 'timeout');
  await assert.rejects(sb.exec('sleep 30', { timeout: 300, stream: true }), (e) => e.code === 'timeout');
});

// An AbortSignal rejects the call with code "aborted" and ends the command
// behind it: the sleeper is seen running first (so the check can fail),
// then seen gone.
async function abortedRunsNoMore(marker, opts) {
  const ac = new AbortController();
  const call = sb.exec(`sleep ${marker}`, { ...opts, signal: ac.signal });
  const rejected = assert.rejects(call, (e) => e instanceof SandboxError && e.code === 'aborted');
  let n = 0;
  for (let i = 0; i < T(100) && n === 0; i++) { n = await sleepers(marker); if (!n) await sleep(50); }
  assert.equal(n, 1, 'the command never showed up running');
  ac.abort();
  await rejected;
  for (let i = 0; i < T(100) && n !== 0; i++) { n = await sleepers(marker); if (n) await sleep(50); }
  assert.equal(n, 0, 'the aborted command still runs');
}

test('exec_abort_cancels_server_side', async () => {
  await abortedRunsNoMore(`31.${process.pid}`, { stream: true });
  // A plain (non-streamed) call is cancelled the same way.
  await abortedRunsNoMore(`32.${process.pid}`, {});
  const ac2 = new AbortController();
  ac2.abort();
  await assert.rejects(sb.exec('true', { signal: ac2.signal }), (e) => e.code === 'aborted');
});

test('stream_abort_ends_iteration', async () => {
  // Breaking out of execStream and aborting streamProcessLogs both end the
  // HTTP stream; the process behind a log follow keeps running (it is a
  // background process: only killProcess ends it).
  const marker = `33.${process.pid}`;
  for await (const ev of sb.execStream(`echo go; sleep ${marker}`)) if (ev.type === 'stdout') break;
  let n = 1;
  for (let i = 0; i < T(100) && n !== 0; i++) { n = await sleepers(marker); if (n) await sleep(50); }
  assert.equal(n, 0, 'leaving the loop did not end the command');
  const p = await sb.startProcess('echo up; sleep 600');
  const ac = new AbortController();
  const follow = (async () => { for await (const ev of p.streamLogs({ signal: ac.signal })) if (ev.type === 'stdout') ac.abort(); })();
  await assert.rejects(follow, (e) => e.code === 'aborted');
  assert.equal(await p.getStatus(), 'running');
  await p.kill('SIGKILL');
});

test('files_text_and_binary', async () => {
  const w = await sb.writeFile(`${W}/f/hello.txt`, 'hello ✓');
  assert.equal(w.success, true);
  const r = await sb.readFile(`${W}/f/hello.txt`);
  assert.equal(r.content, 'hello ✓');
  const bytes = new Uint8Array(256).map((_, i) => i);
  await sb.writeFile(`${W}/f/bin`, bytes);
  const b = await sb.readFile(`${W}/f/bin`, { encoding: 'binary' });
  assert.deepEqual(Buffer.from(b.content), Buffer.from(bytes));
  const b64 = await sb.readFile(`${W}/f/bin`, { encoding: 'base64' });
  assert.equal(b64.content, Buffer.from(bytes).toString('base64'));
  await sb.writeFile(`${W}/f/b64`, Buffer.from('via base64').toString('base64'), { encoding: 'base64' });
  assert.equal((await sb.readFile(`${W}/f/b64`)).content, 'via base64');
});

test('files_streams', async () => {
  const chunk = crypto.randomBytes(1 << 20);
  const h = crypto.createHash('sha256');
  async function* gen() { for (let i = 0; i < 8; i++) { h.update(chunk); yield chunk; } }
  await sb.writeFile(`${W}/f/big`, Readable.from(gen()));
  const want = h.digest('hex');
  const res = await sb.readFileStream(`${W}/f/big`);
  const h2 = crypto.createHash('sha256');
  let n = 0;
  for await (const c of res) { h2.update(c); n += c.length; }
  assert.equal(n, 8 << 20);
  assert.equal(h2.digest('hex'), want);
  const web = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('web stream')); c.close(); } });
  await sb.writeFile(`${W}/f/web`, web);
  assert.equal((await sb.readFile(`${W}/f/web`)).content, 'web stream');
});

test('files_ops', async () => {
  await sb.mkdir(`${W}/d/e/f`, { recursive: true });
  await assert.rejects(sb.mkdir(`${W}/d/e/f`), (e) => e.status === 409 || e.code === 'exists');
  await sb.writeFile(`${W}/d/a.txt`, 'a');
  await sb.renameFile(`${W}/d/a.txt`, `${W}/d/b.txt`);
  await sb.moveFile(`${W}/d/b.txt`, `${W}/d/e/c.txt`);
  assert.equal((await sb.exists(`${W}/d/a.txt`)).exists, false);
  assert.equal((await sb.exists(`${W}/d/e/c.txt`)).exists, true);
  const st = await sb.stat(`${W}/d/e/c.txt`);
  assert.equal(st.size, 1);
  const l = await sb.listFiles(`${W}/d`, { recursive: true });
  const names = l.files.map((f) => f.relativePath).sort();
  assert.deepEqual(names, ['e', 'e/c.txt', 'e/f']);
  assert.equal(l.files.find((f) => f.name === 'e').isDirectory, true);
  await sb.writeFile(`${W}/d/.hidden`, 'h');
  assert.equal((await sb.listFiles(`${W}/d`)).files.some((f) => f.name === '.hidden'), false);
  assert.equal((await sb.listFiles(`${W}/d`, { includeHidden: true })).files.some((f) => f.name === '.hidden'), true);
  await sb.deleteFile(`${W}/d/e/c.txt`);
  await assert.rejects(sb.deleteFile(`${W}/d`), (e) => e.status >= 400);
  await sb.deleteFile(`${W}/d`, { recursive: true });
  assert.equal((await sb.exists(`${W}/d`)).exists, false);
});

test('processes', async () => {
  const p = await sb.startProcess('echo started; echo warn >&2; sleep 30', { processId: 'sleeper', env: { X: '1' } });
  assert.ok(p instanceof Process);
  assert.equal(p.id, 'sleeper');
  assert.equal(typeof p.pid, 'number');
  const hit = await p.waitForLog('started', { timeout: T(5000) });
  assert.match(hit.line, /started/);
  const logs = await p.getLogs();
  assert.equal(logs.stdout, 'started\n');
  assert.equal(logs.stderr, 'warn\n');
  assert.equal((await sb.getProcessLogs('sleeper')).stdout, 'started\n');
  assert.ok((await sb.listProcesses()).some((x) => x.id === 'sleeper' && x.status === 'running'));
  assert.equal((await sb.getProcess('sleeper')).status, 'running');
  assert.equal(await p.getStatus(), 'running');
  await p.kill('SIGTERM');
  const ex = await p.waitForExit(T(5000));
  assert.notEqual(ex.status, 'running');
  const q = await sb.startProcess('echo bye; exit 7');
  const qe = await q.waitForExit(T(5000));
  assert.equal(qe.exitCode, 7);
});

test('process_stream_logs', async () => {
  const p = await sb.startProcess('for i in 1 2 3; do echo line$i; sleep 0.1; done; exit 5');
  let text = '', exit = null;
  for await (const ev of sb.streamProcessLogs(p.id)) {
    if (ev.type === 'stdout') text += ev.data;
    if (ev.type === 'exit') exit = ev.exitCode;
  }
  assert.equal(text, 'line1\nline2\nline3\n');
  assert.equal(exit, 5);
  const p2 = await sb.startProcess('echo via-handle');
  let t2 = '';
  for await (const ev of p2.streamLogs()) if (ev.type === 'stdout') t2 += ev.data;
  assert.equal(t2, 'via-handle\n');
});

test('kill_process_and_all', async () => {
  const a = await sb.startProcess('sleep 30');
  const b = await sb.startProcess('sleep 30');
  await sb.killProcess(a.id, 'SIGKILL');
  assert.notEqual((await a.waitForExit(T(5000))).status, 'running');
  const r = await sb.killAllProcesses();
  assert.equal(r.success, true);
  assert.ok(r.killedCount >= 1);
  assert.notEqual((await b.waitForExit(T(5000))).status, 'running');
});

test('ports_and_preview', async () => {
  const port = await freePort();
  const server = `require("http").createServer((q,s)=>s.end("hello from "+q.url)).listen(${port},"127.0.0.1")`;
  const p = await sb.startProcess(`node -e '${server}'`);
  try {
    await p.waitForPort(port, { timeout: T(10000) });
    const e = await sb.exposePort(port, { name: 'web' });
    assert.equal(e.port, port);
    assert.match(e.url, new RegExp(`^https://${port}-${sb.id}-[0-9a-f]+\\.localhost`));
    const list = await sb.getExposedPorts();
    assert.ok(list.some((x) => x.port === port && x.url === e.url));
    const res = await client.fetch(`${e.url.replace(/\/$/, '')}/ping?x=1`);
    assert.equal(res.status, 200);
    assert.equal(res.text(), 'hello from /ping?x=1');
    await sb.unexposePort(port);
    assert.equal((await sb.getExposedPorts()).some((x) => x.port === port), false);
    const gone = await client.fetch(e.url);
    assert.equal(gone.status, 404);
  } finally {
    await p.kill('SIGKILL').catch(() => {});
  }
});

test('code_contexts', async () => {
  const ctx = await sb.createCodeContext({ language: 'python' });
  assert.ok(ctx.id);
  assert.equal(ctx.language, 'python');
  const out = [], results = [], errors = [], chunks = [];
  let r = await sb.runCode('x = 2\nprint(sum([1, 2, 3, 4, 5]))', {
    context: ctx, stream: true, onStdout: (d) => out.push(d), onOutput: (c) => chunks.push(c),
  });
  assert.equal(r.success, true);
  assert.equal(r.output, '15\n');
  assert.equal(out.join(''), '15\n');
  assert.equal(chunks.join(''), '15\n');
  r = await sb.runCode('x * 21', { context: ctx.id, onResult: (x) => results.push(x) });
  assert.equal(r.results[0].text, '42');
  assert.equal(results[0].text, '42');
  const errs = [];
  r = await sb.runCode('import sys\nprint("e", file=sys.stderr)\n1/0', { context: ctx.id, onError: (e) => errors.push(e), onStderr: (d) => errs.push(d) });
  assert.equal(r.success, false);
  assert.equal(r.error.name, 'ZeroDivisionError');
  assert.match(String(r.error), /ZeroDivisionError: division by zero/);
  assert.match(r.error.traceback, /Traceback/);
  assert.equal(errors.length, 1);
  assert.equal(errs.join(''), 'e\n');
  const types = [];
  let text = '';
  for await (const ev of sb.runCodeStream('print("s")', { context: ctx.id })) {
    if (types[types.length - 1] !== ev.type) types.push(ev.type);
    if (ev.type === 'stdout') text += ev.data;
  }
  assert.deepEqual(types, ['stdout', 'complete']);
  assert.equal(text, 's\n');
  assert.ok((await sb.listCodeContexts()).some((c) => c.id === ctx.id));
  await sb.deleteCodeContext(ctx.id);
  assert.equal((await sb.listCodeContexts()).some((c) => c.id === ctx.id), false);
});

test('code_timeout_keeps_context', async () => {
  const ctx = await sb.createCodeContext({ language: 'python' });
  await sb.runCode('kept = 7', { context: ctx.id });
  await assert.rejects(sb.runCode('import time\ntime.sleep(60)', { context: ctx.id, timeout: 300 }), (e) => e instanceof SandboxError && e.code === 'timeout');
  const r = await sb.runCode('print(kept * 6)', { context: ctx.id });
  assert.equal(r.output, '42\n');
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 300);
  await assert.rejects(sb.runCode('import time\ntime.sleep(60)', { context: ctx.id, signal: ac.signal }), (e) => e.code === 'aborted');
  assert.equal((await sb.runCode('print(kept)', { context: ctx.id })).output, '7\n');
  await sb.deleteCodeContext(ctx.id);
});

test('code_javascript', async (t) => {
  let ctx;
  try { ctx = await sb.createCodeContext({ language: 'javascript' }); } catch (e) {
    if (e.code === 'unsupported') return t.skip('no javascript runner');
    throw e;
  }
  const r = await sb.runCode('console.log(6 * 7)', { context: ctx.id });
  assert.equal(r.output, '42\n');
  await sb.deleteCodeContext(ctx);
});

test('set_env_vars', async () => {
  await sb.setEnvVars({ SBX_TEST_VAR: 'from-env' });
  const r = await sb.exec('echo $SBX_TEST_VAR');
  assert.equal(r.stdout, 'from-env\n');
  const u = await sb.update({ sleepAfter: '15m', keepAlive: true });
  assert.equal(u.sleepAfter, 900000);
  assert.equal(u.keepAlive, true);
  assert.equal(u.env.SBX_TEST_VAR, 'from-env');
});

test('git_checkout', async (t) => {
  if (!hostHas('git')) return t.skip('git is not installed');
  const dir = fs.mkdtempSync('/tmp/sbx-sdk-git-');
  let gitd;
  try {
    makeRepo(dir, 'hello', { README: 'hi\n' });
    gitd = await gitServe(dir);
    const r = await sb.gitCheckout(gitd.url('hello'), { branch: 'main', targetDir: 'checkout', timeout: T(30000) });
    assert.equal(r.success, true, r.stderr);
    assert.equal((await sb.readFile(`${W}/checkout/README`)).content, 'hi\n');
    const bad = await sb.gitCheckout(gitd.url('no-such-repo'), { targetDir: 'nothing', timeout: T(30000) });
    assert.equal(bad.success, false);
    assert.notEqual(bad.exitCode, 0);
  } finally {
    if (gitd) await gitd.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('parse_sse_helper', async () => {
  const evs = [];
  for await (const e of parseSSE(Readable.from(['event: stdout\r\ndata: {"data":"x"}\r\n', '\r\n: c\n\nevent: complete\ndata: {"exitCode":0}\n\n']))) evs.push(e);
  assert.deepEqual(evs, [{ type: 'stdout', data: 'x' }, { type: 'complete', exitCode: 0 }]);
});

test('destroy', async () => {
  const other = getSandbox(client, `js-gone-${process.pid}`, { env: { A: 'b' } });
  assert.equal((await other.exec('echo $A')).stdout, 'b\n');
  const r = await other.destroy();
  assert.equal(r.success, true);
  assert.equal((await client.listSandboxes()).some((s) => s.id === other.id), false);
  // A stub outlives its sandbox: the next call creates it again, also when
  // another stub (or client) destroyed it.
  assert.equal((await other.exec('echo again')).stdout, 'again\n');
  // Destroyed by another stub: the SDK's retry is the same with any backend,
  // and each new VM boots (slow under emulation), so the native run checks it.
  if (!vmBackend) {
    await getSandbox(client, other.id).destroy();
    assert.equal((await other.exec('echo back')).stdout, 'back\n');
  }
  await other.destroy();
  assert.equal((await other.destroy()).existed, false);
  await sb.destroy();
});

// Last: stops this test's sbxd (tests/sdk/js.sh exports its pid).
test('server_gone_mid_stream_rejects', async (t) => {
  if (!env.SDK_PID) return t.skip('SDK_PID not set');
  const p = sb.exec('echo started; sleep 20', { onStdout: () => process.kill(Number(env.SDK_PID), 'SIGTERM') });
  await assert.rejects(p, (e) => e instanceof SandboxError && ['network', 'stream_truncated', 'unavailable'].includes(e.code));
});
