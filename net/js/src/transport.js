// net/js/src/transport.js: HTTPS requests to sbxd with our own trust rules.
//
// Theory of operation: every request opens its own TLS connection with
// tls.connect(). Trust is one of: the system CAs (default), a CA PEM given by
// the caller (`ca`), or a pinned SHA-256 fingerprint of the server's leaf
// certificate (`fingerprint`). When pinning, the chain is not checked (a
// developer install's certificate is self-signed) but the fingerprint is, and
// it is checked on 'secureConnect' before a single byte of the request (and so
// the bearer token) is written: the connected socket is only then handed to
// http.request through createConnection. An AbortSignal destroys the socket,
// which sbxd sees as the client going away and which cancels the operation.

import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { Readable } from 'node:stream';
import { X509Certificate } from 'node:crypto';

/** The error every call throws: code and status from sbxd's JSON error. */
export class SandboxError extends Error {
  constructor(message, { code = 'error', status = 0, details, cause } = {}) {
    super(message, cause ? { cause } : undefined);
    this.name = 'SandboxError';
    this.code = code;
    this.status = status;
    if (details !== undefined) this.details = details;
  }
}

/** Normalises "AB:CD:..", "sha256/abcd..", "SHA256 Fingerprint=.." to hex. */
export function normalizeFingerprint(fp) {
  if (!fp) return null;
  let s = String(fp).trim();
  const eq = s.lastIndexOf('=');
  if (eq >= 0 && eq < s.length - 1 && /fingerprint/i.test(s.slice(0, eq))) s = s.slice(eq + 1);
  s = s.replace(/^sha-?256[:/]?/i, '').replace(/[:\s]/g, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(s)) throw new SandboxError('fingerprint must be 64 hex digits (SHA-256)', { code: 'invalid_argument' });
  return s;
}

function abortError(signal) {
  const why = signal && signal.reason;
  return new SandboxError(why instanceof Error ? why.message : 'the operation was aborted', { code: 'aborted' });
}

/**
 * Opens a connection to url (a URL) and resolves with the socket once it is
 * trusted. opts: { fingerprint (hex), ca, connectHost, signal, timeout }.
 */
export function connect(url, opts) {
  return new Promise((resolve, reject) => {
    if (opts.signal && opts.signal.aborted) return reject(abortError(opts.signal));
    const host = opts.connectHost || url.hostname.replace(/^\[|\]$/g, '');
    const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
    let sock;
    const onAbort = () => { sock && sock.destroy(); reject(abortError(opts.signal)); };
    const done = (err) => {
      if (opts.signal) opts.signal.removeEventListener('abort', onAbort);
      clearTimeout(timer);
      if (err) { sock.destroy(); reject(err); } else resolve(sock);
    };
    const timer = setTimeout(() => done(new SandboxError(`connect to ${url.host} timed out`, { code: 'timeout' })), opts.connectTimeout || 30000);
    if (opts.signal) opts.signal.addEventListener('abort', onAbort, { once: true });
    if (url.protocol === 'http:') {
      sock = net.connect({ host, port }, () => done());
    } else {
      const servername = net.isIP(url.hostname.replace(/^\[|\]$/g, '')) ? undefined : url.hostname;
      const o = { host, port, servername, ALPNProtocols: ['http/1.1'] };
      if (opts.fingerprint) o.rejectUnauthorized = false;
      else if (opts.ca) o.ca = opts.ca;
      sock = tls.connect(o, () => {
        if (opts.fingerprint) {
          const why = pinCheck(sock.getPeerCertificate(true), opts.fingerprint, servername);
          if (why) return done(new SandboxError(why, { code: 'tls_pin_mismatch' }));
        }
        done();
      });
    }
    sock.once('error', (e) => done(new SandboxError(`cannot reach ${url.host}: ${e.message}`, { code: e.code === 'ERR_TLS_CERT_ALTNAME_INVALID' || /certificate/i.test(e.message) ? 'tls_error' : 'network', cause: e })));
  });
}

function certFingerprint(c) {
  return c && c.fingerprint256 ? c.fingerprint256.replace(/:/g, '').toLowerCase() : '';
}

/**
 * Checks a peer's chain against a pinned SHA-256. The pin may name the leaf
 * itself, or a CA certificate in the chain the server sent (sbxd signs a
 * leaf per preview host name with its own certificate): then the leaf must
 * be signed by it, be valid now, and name the host. Returns null when
 * trusted, else the reason.
 */
export function pinCheck(cert, pin, host) {
  const got = certFingerprint(cert);
  if (got === pin) return null;
  const seen = new Set();
  for (let c = cert && cert.issuerCertificate; c && !seen.has(c); c = c.issuerCertificate) {
    seen.add(c);
    if (certFingerprint(c) !== pin) continue;
    try {
      const leaf = new X509Certificate(cert.raw);
      const ca = new X509Certificate(c.raw);
      const now = Date.now();
      if (ca.ca === false) return 'the pinned certificate is not a CA';
      if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) return 'the server certificate is not signed by the pinned one';
      if (now < Date.parse(leaf.validFrom) || now > Date.parse(leaf.validTo)) return 'the server certificate is expired or not yet valid';
      if (host && !leaf.checkHost(host)) return `the server certificate does not name ${host}`;
      return null;
    } catch (e) {
      return `cannot check the server certificate: ${e.message}`;
    }
  }
  return `server certificate fingerprint ${got || '(none)'} does not match the pinned one`;
}

/**
 * A keep-alive agent for one client: its connections are opened (and the
 * pin checked) by connect() before the agent may write a request on them,
 * then reused while idle (up to 30 s; sbxd keeps idle ones 120 s).
 */
export function makeAgent(base) {
  const agent = new http.Agent({ keepAlive: true, maxFreeSockets: 8, timeout: 30000 });
  agent.createConnection = (options, cb) => {
    connect(base.url, base).then((sock) => cb(null, sock), (err) => cb(err));
    return undefined;
  };
  return agent;
}

/** Turns a body given by the caller into something to write. */
function bodySource(body) {
  if (body == null) return { buf: null };
  if (typeof body === 'string') return { buf: Buffer.from(body, 'utf8') };
  if (body instanceof Uint8Array) return { buf: Buffer.from(body.buffer, body.byteOffset, body.byteLength) };
  if (body instanceof ArrayBuffer) return { buf: Buffer.from(body) };
  if (typeof body.getReader === 'function') return { stream: Readable.fromWeb(body) };
  if (typeof body.pipe === 'function') return { stream: body };
  if (typeof body[Symbol.asyncIterator] === 'function' || typeof body[Symbol.iterator] === 'function') return { stream: Readable.from(body) };
  throw new SandboxError('body must be a string, Uint8Array or a stream', { code: 'invalid_argument' });
}

/**
 * Sends one request and resolves with the response (an IncomingMessage)
 * once its head arrived. Statuses >= 400 become SandboxError. The response
 * socket is destroyed when opts.signal aborts, also while the body streams.
 */
export async function send(base, method, path, opts = {}) {
  const url = new URL(path, base.url);
  const pooled = base.agent && !opts.connectHost && url.host === base.url.host;
  const sock = pooled ? null : await connect(url, { ...base, connectHost: opts.connectHost, signal: opts.signal });
  const headers = { Host: url.host, 'User-Agent': 'sbx-js/0.1', ...(pooled ? {} : { Connection: 'close' }), ...(opts.headers || {}) };
  if (base.token && !opts.noAuth) headers.Authorization = `Bearer ${base.token}`;
  const src = bodySource(opts.body);
  if (src.buf) headers['Content-Length'] = String(src.buf.length);
  else if (src.stream) headers['Transfer-Encoding'] = 'chunked';
  else if (method !== 'GET' && method !== 'HEAD' && method !== 'DELETE') headers['Content-Length'] = '0';
  return new Promise((resolve, reject) => {
    let settled = false;
    const req = http.request(pooled
      ? { method, path: url.pathname + url.search, headers, agent: base.agent, host: url.hostname, port: url.port, setHost: false }
      : { method, path: url.pathname + url.search, headers, createConnection: () => sock, setHost: false });
    const onAbort = () => {
      req.destroy();
      if (!settled) { settled = true; reject(abortError(opts.signal)); }
    };
    if (opts.signal) {
      if (opts.signal.aborted) return onAbort();
      opts.signal.addEventListener('abort', onAbort, { once: true });
    }
    const timer = opts.timeout ? setTimeout(() => {
      req.destroy();
      if (!settled) { settled = true; reject(new SandboxError(`${method} ${url.pathname} timed out`, { code: 'timeout', status: 0 })); }
    }, opts.timeout) : null;
    req.on('error', (e) => {
      if (timer) clearTimeout(timer);
      if (settled) return;
      settled = true;
      // A kept-alive connection the server closed while idle: send once more
      // on a new one, when nothing was answered and the body can be resent.
      if (req.reusedSocket && !src.stream && !opts.retried && (e.code === 'ECONNRESET' || e.code === 'EPIPE')) {
        resolve(send(base, method, path, { ...opts, retried: true }));
        return;
      }
      reject(e instanceof SandboxError ? e : new SandboxError(`${method} ${url.pathname}: ${e.message}`, { code: 'network', cause: e }));
    });
    req.on('response', async (res) => {
      if (timer) clearTimeout(timer);
      res.on('close', () => { if (opts.signal) opts.signal.removeEventListener('abort', onAbort); });
      if (res.statusCode >= 400) {
        const text = (await readAll(res).catch(() => Buffer.alloc(0))).toString('utf8');
        settled = true;
        reject(httpError(res.statusCode, text));
        return;
      }
      settled = true;
      resolve(res);
    });
    if (src.buf) req.end(src.buf);
    else if (src.stream) {
      src.stream.on('error', (e) => req.destroy(e));
      src.stream.pipe(req);
    } else req.end();
  });
}

/** Builds a SandboxError from an error response body. */
export function httpError(status, text) {
  let code = `http_${status}`, message = text.trim() || `HTTP ${status}`, details;
  try {
    const j = JSON.parse(text);
    const e = j && (j.error && typeof j.error === 'object' ? j.error : j);
    if (e.code) code = e.code;
    if (e.message) message = e.message;
    else if (typeof j.error === 'string') message = j.error;
    details = j;
  } catch { /* not JSON: keep the text */ }
  return new SandboxError(message, { code, status, details });
}

/** Reads a whole response body into a Buffer. */
export async function readAll(res) {
  const parts = [];
  for await (const c of res) parts.push(c);
  return Buffer.concat(parts);
}

/**
 * Parses a Server-Sent Events byte stream into events. Yields
 * { event, data, id } with data parsed as JSON when it is JSON; when the
 * JSON is an object without `type`, the event name is set as its type.
 */
export async function* parseSSE(stream) {
  let buf = '';
  let ev = { event: 'message', data: [], id: undefined };
  const decoder = new TextDecoder();
  const source = typeof stream.getReader === 'function' ? Readable.fromWeb(stream) : stream;
  for await (const chunk of source) {
    buf += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let nl;
    while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + (buf[nl] === '\r' && buf[nl + 1] === '\n' ? 2 : 1));
      if (line === '') {
        if (ev.data.length) yield finishEvent(ev);
        ev = { event: 'message', data: [], id: undefined };
        continue;
      }
      if (line[0] === ':') continue;
      const c = line.indexOf(':');
      const field = c < 0 ? line : line.slice(0, c);
      let value = c < 0 ? '' : line.slice(c + 1);
      if (value[0] === ' ') value = value.slice(1);
      if (field === 'event') ev.event = value;
      else if (field === 'data') ev.data.push(value);
      else if (field === 'id') ev.id = value;
    }
  }
  if (ev.data.length) yield finishEvent(ev);
}

function finishEvent(ev) {
  const text = ev.data.join('\n');
  let data = text;
  try { data = JSON.parse(text); } catch { /* plain text */ }
  if (data && typeof data === 'object' && !Array.isArray(data)) {
    if (data.type === undefined) data = { type: ev.event, ...data };
    return data;
  }
  return { type: ev.event, data };
}
