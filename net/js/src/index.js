// net/js/src/index.js: the sbx JavaScript SDK.
//
// Mirrors the hosted Sandbox SDK: getSandbox(client, id) returns a Sandbox
// stub at once; its first call creates the sandbox (PUT, create-or-get) and
// later calls reuse it. Each method is one HTTP call to sbxd (see
// net/openapi.yaml); streaming calls ask for text/event-stream and hand the
// events to callbacks or to an async iterator. No dependency beyond Node.

import { SandboxError, normalizeFingerprint, send, readAll, parseSSE, makeAgent } from './transport.js';

export { SandboxError, parseSSE };

const SSE = 'text/event-stream';

/** Connection settings for one sbxd: URL, token and the way to trust it. */
export class SbxClient {
  /**
   * opts: { url, token, fingerprint?, ca?, timeout? }. fingerprint pins the
   * server certificate's SHA-256; ca is a PEM to trust instead of the system
   * store. Both absent: the system CAs.
   */
  constructor(opts = {}) {
    const url = opts.url || process.env.SBX_URL;
    if (!url) throw new SandboxError('SbxClient needs a url', { code: 'invalid_argument' });
    this.url = new URL(url);
    if (!/^https?:$/.test(this.url.protocol)) throw new SandboxError('url must be https://', { code: 'invalid_argument' });
    this.token = opts.token || process.env.SBX_TOKEN;
    // $SBX_FINGERPRINT applies unless the options name a CA or a fingerprint
    // (even an empty one, to trust the system store only).
    const fp = Object.hasOwn(opts, 'fingerprint') || opts.ca ? opts.fingerprint : process.env.SBX_FINGERPRINT;
    this.fingerprint = normalizeFingerprint(fp);
    this.ca = opts.ca;
    this.timeout = opts.timeout;
    // Connections are kept open between calls unless keepAlive: false.
    this._agent = opts.keepAlive === false ? null : makeAgent({ url: this.url, fingerprint: this.fingerprint, ca: this.ca });
  }

  /** @internal transport settings */
  get _base() {
    return { url: this.url, token: this.token, fingerprint: this.fingerprint, ca: this.ca, agent: this._agent };
  }

  /** Closes the idle connections this client keeps (it stays usable). */
  close() {
    if (this._agent) this._agent.destroy();
    this._agent = makeAgent({ url: this.url, fingerprint: this.fingerprint, ca: this.ca });
  }

  /** @internal one call; returns the response (stream) */
  async _send(method, path, opts = {}) {
    const o = { ...opts };
    if (o.timeout === undefined) o.timeout = this.timeout;
    return send(this._base, method, path, o);
  }

  /** @internal one call whose answer is JSON (or nothing) */
  async _json(method, path, { json, signal, query, timeout } = {}) {
    const headers = { Accept: 'application/json' };
    let body;
    if (json !== undefined) { headers['Content-Type'] = 'application/json'; body = JSON.stringify(json); }
    const res = await this._send(method, withQuery(path, query), { headers, body, signal, timeout });
    const text = (await readBody(res, signal)).toString('utf8');
    if (!text.trim()) return {};
    try { return JSON.parse(text); } catch {
      throw new SandboxError(`${method} ${path}: the answer is not JSON`, { code: 'bad_response', status: res.statusCode });
    }
  }

  /** Lists this token's sandboxes. */
  async listSandboxes(opts = {}) {
    const j = await this._json('GET', '/v1/sandboxes', opts);
    return Array.isArray(j) ? j : (j.sandboxes || []);
  }

  /** The server's health document (no token needed). */
  async health(opts = {}) {
    return this._json('GET', '/v1/health', opts);
  }

  /**
   * Fetches a URL through this client's trust settings, e.g. a preview URL.
   * A host under `.localhost` is reached at the client's own address.
   * Returns { status, headers, body (Buffer), text(), json() }.
   */
  async fetch(target, init = {}) {
    const u = new URL(target);
    const connectHost = u.hostname.endsWith('.localhost') ? this.url.hostname.replace(/^\[|\]$/g, '') : undefined;
    const base = { ...this._base, url: u, token: null, agent: null };
    const res = await send(base, init.method || 'GET', u.pathname + u.search, {
      headers: init.headers, body: init.body, signal: init.signal, connectHost, noAuth: true,
      timeout: init.timeout,
    }).catch((e) => {
      if (e.status) return { statusCode: e.status, headers: {}, errBody: Buffer.from(e.details ? JSON.stringify(e.details) : e.message) };
      throw e;
    });
    const body = res.errBody || await readBody(res, init.signal);
    return {
      status: res.statusCode, ok: res.statusCode < 400, headers: res.headers, body,
      text: () => body.toString('utf8'), json: () => JSON.parse(body.toString('utf8')),
    };
  }
}

/** Returns the stub of sandbox id; options go with its creation (env, sleepAfter, keepAlive, limits, network). */
export function getSandbox(client, id, options = {}) {
  if (!(client instanceof SbxClient)) throw new SandboxError('getSandbox needs an SbxClient', { code: 'invalid_argument' });
  if (!/^[A-Za-z0-9_-]{1,63}$/.test(String(id))) throw new SandboxError('sandbox id must be 1-63 of [A-Za-z0-9_-]', { code: 'invalid_argument' });
  return new Sandbox(client, String(id), options);
}

function withQuery(path, query) {
  if (!query) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== false) q.set(k, v === true ? 'true' : String(v));
  const s = q.toString();
  return s ? `${path}${path.includes('?') ? '&' : '?'}${s}` : path;
}

async function readBody(res, signal) {
  try { return await readAll(res); } catch (e) {
    if (signal && signal.aborted) throw new SandboxError('the operation was aborted', { code: 'aborted' });
    throw new SandboxError(`connection lost: ${e.message}`, { code: 'network', cause: e });
  }
}

async function* events(res, signal) {
  try {
    yield* parseSSE(res);
  } catch (e) {
    if (signal && signal.aborted) throw new SandboxError('the operation was aborted', { code: 'aborted' });
    throw new SandboxError(`stream lost: ${e.message}`, { code: 'network', cause: e });
  }
}

function encodePath(p) {
  const s = String(p);
  if (!s) throw new SandboxError('path is empty', { code: 'invalid_argument' });
  return s.split('/').filter((x) => x !== '').map(encodeURIComponent).join('/');
}

/** An error of a code run, printable as "Name: message". */
class ExecutionError {
  constructor(e) {
    Object.assign(this, e);
    if (this.message === undefined && this.value !== undefined) this.message = this.value;
    if (this.value === undefined) this.value = this.message;
    if (Array.isArray(this.traceback)) this.traceback = this.traceback.join('\n');
  }
  toString() { return `${this.name || 'Error'}: ${this.message || ''}`; }
}

/** One sandbox: every SDK method, as calls to /v1/sandboxes/{id}/... */
export class Sandbox {
  constructor(client, id, options) {
    this.client = client;
    this.id = id;
    this.options = options;
    this._ready = null;
  }

  get _p() { return `/v1/sandboxes/${encodeURIComponent(this.id)}`; }

  /** Creates the sandbox once (create-or-get); later calls reuse the answer. */
  async ensure(signal) {
    if (!this._ready) {
      const o = this.options || {};
      const body = {};
      if (o.env || o.envVars) body.env = o.env || o.envVars;
      if (o.sleepAfter !== undefined) body.sleepAfter = o.sleepAfter;
      if (o.keepAlive !== undefined) body.keepAlive = o.keepAlive;
      if (o.limits) body.limits = o.limits;
      if (o.network !== undefined) body.network = o.network;
      this._ready = this.client._json('PUT', this._p, { json: body, signal });
      this._ready.catch(() => { this._ready = null; });
    }
    return this._ready;
  }

  // A sandbox destroyed behind this stub's back (another client, `sbx rm`)
  // answers 404 "no such sandbox": create it again and retry once, when the
  // request body can be sent again.
  async _retry(fn, replayable) {
    await this.ensure();
    try {
      return await fn();
    } catch (e) {
      if (!replayable || !sandboxGone(e)) throw e;
      this._ready = null;
      await this.ensure();
      return fn();
    }
  }

  async _json(method, sub, opts = {}) {
    if (opts.signal && opts.signal.aborted) throw new SandboxError('the operation was aborted', { code: 'aborted' });
    return this._retry(() => this.client._json(method, this._p + sub, opts), true);
  }

  async _send(method, sub, opts = {}) {
    if (opts.signal && opts.signal.aborted) throw new SandboxError('the operation was aborted', { code: 'aborted' });
    const replayable = opts.body == null || typeof opts.body === 'string' || opts.body instanceof Uint8Array;
    return this._retry(() => this.client._send(method, withQuery(this._p + sub, opts.query), opts), replayable);
  }

  /** The sandbox's own record (status, env, exposed ports). */
  async info(opts = {}) { return this._json('GET', '', opts); }

  /** Stops and removes the sandbox and its workspace. */
  async destroy(opts = {}) {
    this._ready = null;
    try {
      const r = await this.client._json('DELETE', this._p, opts);
      return { success: true, ...r };
    } catch (e) {
      // Already gone: destroy() is idempotent (it often runs in `finally`).
      if (sandboxGone(e)) return { success: true, id: this.id, existed: false };
      throw e;
    }
  }

  /** Changes settings: { env, sleepAfter, keepAlive, limits, network } (PATCH). */
  async update(settings, opts = {}) {
    return this._json('PATCH', '', { ...opts, json: settings });
  }

  /** Merges env vars into the sandbox's environment for later commands. */
  async setEnvVars(env, opts = {}) {
    return this._json('PATCH', '', { ...opts, json: { env } });
  }

  // ---- commands ----

  /**
   * Runs command (a shell line) and resolves with the ExecResult. With
   * stream: true (or any callback) output arrives as it is produced:
   * onOutput(stream, data), onStdout(data), onStderr(data).
   */
  async exec(command, opts = {}) {
    const body = execBody(command, opts);
    const streaming = opts.stream || opts.onOutput || opts.onStdout || opts.onStderr || opts.onComplete;
    if (!streaming) {
      const r = await this._json('POST', '/exec', { json: body, signal: opts.signal });
      return normalizeExec(r, command);
    }
    let out = '', err = '', result = null;
    for await (const ev of this.execStream(command, opts)) {
      if (ev.type === 'stdout' || ev.type === 'stderr') {
        const d = ev.data ?? '';
        if (ev.type === 'stdout') { out += d; opts.onStdout && opts.onStdout(d); } else { err += d; opts.onStderr && opts.onStderr(d); }
        opts.onOutput && opts.onOutput(ev.type, d);
      } else if (ev.type === 'complete' || ev.type === 'exit') {
        result = ev;
      } else if (ev.type === 'error') {
        const e = ev.error && typeof ev.error === 'object' ? ev.error : ev;
        const msg = typeof ev.error === 'string' ? ev.error : (e.message || 'exec failed');
        const se = new SandboxError(msg, { code: e.code || 'exec_error', status: e.status || 0, details: ev });
        opts.onError && opts.onError(se);
        throw se;
      }
    }
    if (!result) throw new SandboxError('the exec stream ended without a complete event', { code: 'stream_truncated' });
    const r = normalizeExec({ ...(result.result || {}), ...result, stdout: out, stderr: err }, command);
    opts.onComplete && opts.onComplete(r);
    return r;
  }

  /** Runs command and yields its SSE events: start, stdout, stderr, complete | error. */
  async *execStream(command, opts = {}) {
    const res = await this._send('POST', '/exec', {
      headers: { Accept: SSE, 'Content-Type': 'application/json' },
      body: JSON.stringify(execBody(command, opts)), signal: opts.signal, timeout: 0,
    });
    if (!isSSE(res)) {
      const r = normalizeExec(JSON.parse((await readBody(res, opts.signal)).toString('utf8')), command);
      yield { type: 'start', command };
      if (r.stdout) yield { type: 'stdout', data: r.stdout };
      if (r.stderr) yield { type: 'stderr', data: r.stderr };
      yield { type: 'complete', ...r };
      return;
    }
    try { yield* events(res, opts.signal); } finally { res.destroy(); }
  }

  // ---- background processes ----

  /** Starts a background process; resolves with a Process handle. */
  async startProcess(command, opts = {}) {
    const body = { command };
    if (opts.processId) body.processId = opts.processId;
    if (opts.env) body.env = opts.env;
    if (opts.cwd) body.cwd = opts.cwd;
    if (opts.timeout) body.timeout = opts.timeout;
    const r = await this._json('POST', '/processes', { json: body, signal: opts.signal });
    return new Process(this, r.process || r);
  }

  /** Lists background processes (Process handles). */
  async listProcesses(opts = {}) {
    const r = await this._json('GET', '/processes', opts);
    const list = Array.isArray(r) ? r : (r.processes || []);
    return list.map((p) => new Process(this, p));
  }

  /** One process by id (Process handle); SandboxError not_found otherwise. */
  async getProcess(id, opts = {}) {
    const r = await this._json('GET', `/processes/${encodeURIComponent(id)}`, opts);
    return new Process(this, r.process || r);
  }

  /** Sends signal (default SIGTERM) to a process's group. */
  async killProcess(id, signal = 'SIGTERM', opts = {}) {
    return this._json('DELETE', `/processes/${encodeURIComponent(id)}`, { ...opts, query: { signal } });
  }

  /** Signals every background process; resolves with { killedCount }. */
  async killAllProcesses(opts = {}) {
    const r = await this._json('DELETE', '/processes', { signal: opts.signal, query: { signal: opts.killSignal } });
    return { success: true, killedCount: r.killed ?? r.killedCount ?? 0, ...r };
  }

  /** The output kept so far: { stdout, stderr, processId }. */
  async getProcessLogs(id, opts = {}) {
    const r = await this._json('GET', `/processes/${encodeURIComponent(id)}/logs`, opts);
    return { processId: id, stdout: r.stdout ?? '', stderr: r.stderr ?? '', ...r };
  }

  /** Follows a process's output: yields stdout/stderr events, then exit. */
  async *streamProcessLogs(id, opts = {}) {
    const res = await this._send('GET', `/processes/${encodeURIComponent(id)}/logs`, {
      headers: { Accept: SSE }, signal: opts.signal, timeout: 0,
    });
    if (!isSSE(res)) {
      const r = JSON.parse((await readBody(res, opts.signal)).toString('utf8'));
      if (r.stdout) yield { type: 'stdout', data: r.stdout };
      if (r.stderr) yield { type: 'stderr', data: r.stderr };
      return;
    }
    try { yield* events(res, opts.signal); } finally { res.destroy(); }
  }

  // ---- files ----

  /** Writes content (string, Uint8Array, Node or web stream) to path. */
  async writeFile(path, content, opts = {}) {
    let body = content;
    if (typeof content === 'string' && opts.encoding === 'base64') body = Buffer.from(content, 'base64');
    const res = await this._send('PUT', `/files/${encodePath(path)}`, {
      headers: { 'Content-Type': 'application/octet-stream' },
      query: opts.mode ? { mode: opts.mode.toString(8) } : undefined,
      body, signal: opts.signal, timeout: opts.timeout ?? 0,
    });
    const text = (await readBody(res, opts.signal)).toString('utf8');
    let r = {};
    try { r = text ? JSON.parse(text) : {}; } catch { /* empty */ }
    return { success: true, path, ...r };
  }

  /**
   * Reads path. Resolves with { success, path, content, encoding, size }:
   * content is a string (utf-8, or base64 with encoding: 'base64'), or a
   * Uint8Array with encoding: 'binary'.
   */
  async readFile(path, opts = {}) {
    const res = await this._send('GET', `/files/${encodePath(path)}`, { headers: { Accept: '*/*' }, signal: opts.signal, timeout: opts.timeout ?? 0 });
    const buf = await readBody(res, opts.signal);
    const encoding = opts.encoding || 'utf-8';
    let content;
    if (encoding === 'base64') content = buf.toString('base64');
    else if (encoding === 'binary' || encoding === 'bytes') content = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    else content = buf.toString('utf8');
    return { success: true, path, content, encoding, size: buf.length, mimeType: res.headers['content-type'] };
  }

  /** Reads path as a stream (an async iterable of Buffers; a Node Readable). */
  async readFileStream(path, opts = {}) {
    return this._send('GET', `/files/${encodePath(path)}`, { headers: { Accept: '*/*' }, signal: opts.signal, timeout: 0 });
  }

  /** Makes a directory (recursive: like mkdir -p). */
  async mkdir(path, opts = {}) {
    const r = await this._json('POST', `/files/${encodePath(path)}`, { signal: opts.signal, query: { op: 'mkdir', recursive: !!opts.recursive } });
    return { success: true, path, ...r };
  }

  /** Deletes a file (or a directory tree with recursive: true). */
  async deleteFile(path, opts = {}) {
    const r = await this._json('DELETE', `/files/${encodePath(path)}`, { signal: opts.signal, query: { recursive: !!opts.recursive } });
    return { success: true, path, ...r };
  }

  /** Renames oldPath to newPath. */
  async renameFile(oldPath, newPath, opts = {}) {
    const r = await this._json('POST', `/files/${encodePath(oldPath)}`, { signal: opts.signal, query: { op: 'rename', to: newPath } });
    return { success: true, path: oldPath, newPath, ...r };
  }

  /** Moves sourcePath to destinationPath (same operation as rename). */
  async moveFile(sourcePath, destinationPath, opts = {}) {
    const r = await this._json('POST', `/files/${encodePath(sourcePath)}`, { signal: opts.signal, query: { op: 'move', to: destinationPath } });
    return { success: true, path: sourcePath, destinationPath, ...r };
  }

  /** stat of path: { exists, name, type, size, mode, modifiedAt }. */
  async stat(path, opts = {}) {
    return this._json('GET', `/files/${encodePath(path)}`, { signal: opts.signal, query: { stat: true } });
  }

  /** Lists a directory: { success, path, files: [{ name, type, size, ... }], count }. */
  async listFiles(path, opts = {}) {
    const r = await this._json('GET', `/files/${encodePath(path)}`, { signal: opts.signal, query: { list: 'true', recursive: opts.recursive ? 'true' : undefined, hidden: opts.includeHidden ? 'true' : undefined } });
    const files = (Array.isArray(r) ? r : (r.files || r.entries || [])).map(normalizeEntry);
    return { success: true, path, ...r, files, count: files.length };
  }

  /** Resolves with { success, exists } for path. */
  async exists(path, opts = {}) {
    try {
      const res = await this._send('HEAD', `/files/${encodePath(path)}`, { signal: opts.signal });
      res.resume();
      return { success: true, exists: true, path };
    } catch (e) {
      if (e.status === 404 && e.code !== 'sandbox_not_found') return { success: true, exists: false, path };
      throw e;
    }
  }

  // ---- git ----

  /** Clones repoUrl (branch/ref, targetDir, depth) inside the sandbox. */
  async gitCheckout(repoUrl, opts = {}) {
    const body = { repoUrl };
    if (opts.branch || opts.ref) body.branch = opts.branch || opts.ref;
    if (opts.ref) body.ref = opts.ref;
    if (opts.targetDir) body.targetDir = opts.targetDir;
    if (opts.depth) body.depth = opts.depth;
    const r = await this._json('POST', '/git/checkout', { json: body, signal: opts.signal, timeout: opts.timeout });
    return { success: true, repoUrl, ...r };
  }

  // ---- ports ----

  /** Exposes port; resolves with { url, port, name }. */
  async exposePort(port, opts = {}) {
    const body = { port };
    if (opts.name) body.name = opts.name;
    const r = await this._json('POST', '/ports', { json: body, signal: opts.signal });
    return { port, ...r };
  }

  /** Stops exposing port. */
  async unexposePort(port, opts = {}) {
    const r = await this._json('DELETE', `/ports/${Number(port)}`, opts);
    return { success: true, port, ...r };
  }

  /** Lists exposed ports: [{ port, url, name, status }]. */
  async getExposedPorts(opts = {}) {
    const r = await this._json('GET', '/ports', opts);
    return Array.isArray(r) ? r : (r.ports || r.exposedPorts || []);
  }

  // ---- code interpreter ----

  /** Creates a code context ({ language: 'python' | 'javascript', cwd, envVars }). */
  async createCodeContext(opts = {}) {
    const body = { language: opts.language || 'python' };
    if (opts.cwd) body.cwd = opts.cwd;
    if (opts.envVars || opts.env) body.envVars = opts.envVars || opts.env;
    const r = await this._json('POST', '/contexts', { json: body, signal: opts.signal });
    return r.context || r;
  }

  /** Lists code contexts. */
  async listCodeContexts(opts = {}) {
    const r = await this._json('GET', '/contexts', opts);
    return Array.isArray(r) ? r : (r.contexts || []);
  }

  /** Deletes a code context (id or context object). */
  async deleteCodeContext(ctx, opts = {}) {
    const id = typeof ctx === 'object' ? ctx.id : ctx;
    const r = await this._json('DELETE', `/contexts/${encodeURIComponent(id)}`, opts);
    return { success: true, id, ...r };
  }

  /**
   * Runs code in a context (opts.context: id or object; without one, a
   * default context of opts.language). Callbacks: onStdout, onStderr,
   * onOutput(chunk), onResult, onError. Resolves with the Execution:
   * { success, output, logs: { stdout[], stderr[] }, results[], error }.
   */
  async runCode(code, opts = {}) {
    const exe = { code, success: true, output: '', logs: { stdout: [], stderr: [] }, results: [], error: null };
    let completed = false;
    for await (const ev of this.runCodeStream(code, opts)) {
      switch (ev.type) {
      case 'stdout': case 'stderr': {
        const d = ev.data ?? ev.text ?? '';
        exe.logs[ev.type].push(d);
        if (ev.type === 'stdout') { exe.output += d; opts.onStdout && opts.onStdout(d); } else { opts.onStderr && opts.onStderr(d); }
        opts.onOutput && opts.onOutput(d, ev.type);
        break;
      }
      case 'result': {
        const r = { ...(ev.result || ev) };
        delete r.type;
        exe.results.push(r);
        opts.onResult && opts.onResult(r);
        break;
      }
      case 'error': {
        if (ev.code && !ev.name && !ev.traceback) {
          // Not the code's exception: the run itself failed (timeout, sandbox gone).
          const se = new SandboxError(typeof ev.error === 'string' ? ev.error : (ev.message || 'run failed'), { code: ev.code, status: 0, details: ev });
          throw se;
        }
        const e = new ExecutionError(ev.error && typeof ev.error === 'object' ? ev.error : ev);
        delete e.type;
        exe.error = e;
        exe.success = false;
        opts.onError && opts.onError(e);
        break;
      }
      case 'complete': case 'done':
        completed = true;
        if (ev.executionCount !== undefined) exe.executionCount = ev.executionCount;
        if (ev.duration !== undefined) exe.duration = ev.duration;
        break;
      default: break;
      }
    }
    if (!completed) throw new SandboxError('the code run ended without a complete event', { code: 'stream_truncated' });
    return exe;
  }

  /** Runs code and yields its events: stdout, stderr, result, error, complete. */
  async *runCodeStream(code, opts = {}) {
    const body = { code };
    const ctx = opts.context;
    if (ctx) body.context = typeof ctx === 'object' ? ctx.id : ctx;
    if (opts.language) body.language = opts.language;
    if (opts.timeout) body.timeout = opts.timeout;
    const res = await this._send('POST', '/code', {
      headers: { Accept: SSE, 'Content-Type': 'application/json' },
      body: JSON.stringify(body), signal: opts.signal, timeout: 0,
    });
    if (!isSSE(res)) {
      const r = JSON.parse((await readBody(res, opts.signal)).toString('utf8'));
      for (const s of ['stdout', 'stderr']) {
        const v = r.logs ? r.logs[s] : r[s];
        for (const d of (Array.isArray(v) ? v : (v ? [v] : []))) yield { type: s, data: d };
      }
      for (const x of (r.results || [])) yield { type: 'result', ...x };
      if (r.error) yield { type: 'error', ...r.error };
      yield { type: 'complete' };
      return;
    }
    try { yield* events(res, opts.signal); } finally { res.destroy(); }
  }
}

/** A background process: its record, plus methods that act on it. */
export class Process {
  constructor(sandbox, rec) {
    Object.defineProperty(this, 'sandbox', { value: sandbox, enumerable: false });
    this._update(rec);
  }

  _update(rec) {
    Object.assign(this, rec);
    if (this.id === undefined) this.id = rec.processId ?? String(rec.pid);
    if (this.processId === undefined) this.processId = this.id;
    return this;
  }

  /** Sends signal (default SIGTERM). */
  async kill(signal = 'SIGTERM') { return this.sandbox.killProcess(this.id, signal); }

  /** Refreshes and returns the status (running, completed, failed, killed). */
  async getStatus() {
    const p = await this.sandbox.getProcess(this.id);
    this._update({ ...p });
    return this.status;
  }

  /** { stdout, stderr } kept so far. */
  async getLogs() { return this.sandbox.getProcessLogs(this.id); }

  /** Follows the output as events. */
  streamLogs(opts) { return this.sandbox.streamProcessLogs(this.id, opts); }

  /** Resolves once the process's exit is known: { exitCode, status }. */
  async waitForExit(timeout = 0) {
    const end = timeout ? Date.now() + timeout : Infinity;
    for (let delay = 20; ; delay = Math.min(delay * 2, 250)) {
      const st = await this.getStatus();
      if (st !== 'running' && st !== 'starting') return { exitCode: this.exitCode, status: st, signal: this.signal };
      if (Date.now() >= end) throw new SandboxError(`process ${this.id} still running after ${timeout} ms`, { code: 'timeout' });
      await sleep(Math.min(delay, end - Date.now()));
    }
  }

  /**
   * Resolves when the output (stdout or stderr) shows pattern (a string or
   * RegExp): { line, match }. Rejects on timeout or when the process ends first.
   */
  async waitForLog(pattern, opts = {}) {
    const timeout = typeof opts === 'number' ? opts : opts.timeout;
    const ac = new AbortController();
    const timer = timeout ? setTimeout(() => ac.abort(), timeout) : null;
    let text = '';
    const test = () => {
      const lines = text.split('\n');
      for (const line of lines) {
        const m = typeof pattern === 'string' ? (line.includes(pattern) ? [pattern] : null) : line.match(pattern);
        if (m) return { line, match: m };
      }
      return null;
    };
    try {
      for await (const ev of this.streamLogs({ signal: ac.signal })) {
        if (ev.type === 'stdout' || ev.type === 'stderr') {
          text += ev.data ?? '';
          const hit = test();
          if (hit) { ac.abort(); return hit; }
        }
      }
      throw new SandboxError(`process ${this.id} ended before its output showed ${pattern}`, { code: 'process_exited' });
    } catch (e) {
      if (e.code === 'aborted') throw new SandboxError(`no ${pattern} in the output of ${this.id} after ${timeout} ms`, { code: 'timeout' });
      throw e;
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  /** Resolves once something accepts TCP connections on port inside the sandbox. */
  async waitForPort(port, opts = {}) {
    const timeout = (typeof opts === 'number' ? opts : opts.timeout) || 30000;
    const p = Number(port);
    if (!(p > 0 && p < 65536)) throw new SandboxError('port must be 1..65535', { code: 'invalid_argument' });
    const secs = Math.ceil(timeout / 1000);
    const script = `end=$(( $(date +%s) + ${secs} )); until (exec 3<>/dev/tcp/127.0.0.1/${p}) 2>/dev/null; do [ "$(date +%s)" -ge "$end" ] && exit 1; sleep 0.1; done`;
    const r = await this.sandbox.exec(`bash -c '${script}'`, { timeout: timeout + 5000 });
    if (r.exitCode !== 0) throw new SandboxError(`nothing listens on port ${p} after ${timeout} ms`, { code: 'timeout' });
    return { port: p, ready: true };
  }
}

/** True for sbxd's answer about a sandbox that does not exist (404). */
function sandboxGone(e) {
  return e.status === 404 && (e.code === 'sandbox_not_found' || /no such sandbox/i.test(e.message));
}

function sleep(ms) { return new Promise((r) => setTimeout(r, Math.max(0, ms))); }

function isSSE(res) { return String(res.headers['content-type'] || '').startsWith(SSE); }

function execBody(command, opts) {
  if (typeof command !== 'string' || !command) throw new SandboxError('command must be a non-empty string', { code: 'invalid_argument' });
  const body = { command };
  if (opts.env) body.env = opts.env;
  if (opts.cwd) body.cwd = opts.cwd;
  if (opts.timeout) body.timeout = opts.timeout;
  return body;
}

function normalizeExec(rec, command) {
  const { type, ...r } = rec;
  const exitCode = r.exitCode ?? r.code ?? null;
  return {
    ...r,
    success: r.success ?? exitCode === 0,
    exitCode,
    stdout: r.stdout ?? '',
    stderr: r.stderr ?? '',
    command: r.command ?? command,
    duration: r.duration ?? r.durationMs,
    timestamp: r.timestamp ?? new Date().toISOString(),
  };
}

function normalizeEntry(e) {
  const type = e.type || (e.isDirectory ? 'directory' : 'file');
  return {
    ...e, type, absolutePath: e.absolutePath ?? e.path, relativePath: e.relativePath ?? e.name,
    isDirectory: type === 'directory', isFile: type === 'file', isSymlink: type === 'symlink',
  };
}
