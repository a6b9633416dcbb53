// net/js/index.d.ts: TypeScript declarations of the sbx JavaScript SDK.
/// <reference types="node" />
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';

export interface SbxClientOptions {
  /** https://host:port of sbxd (default: $SBX_URL). */
  url?: string;
  /** Bearer token (default: $SBX_TOKEN). */
  token?: string;
  /** SHA-256 of the server certificate (hex, colons allowed). Trusts that
   * certificate, or leaves it signed for the host (default: $SBX_FINGERPRINT). */
  fingerprint?: string;
  /** CA certificate(s) in PEM to trust instead of the system store. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Per-request timeout in ms for non-streaming calls. */
  timeout?: number;
  /** Reuse connections between calls (default true). */
  keepAlive?: boolean;
}

export class SandboxError extends Error {
  name: 'SandboxError';
  /** Stable code: sbxd's error code (not_found, unauthorized, timeout, ...)
   * or a client one (network, aborted, tls_error, tls_pin_mismatch). */
  code: string;
  /** HTTP status, 0 when no answer came. */
  status: number;
  details?: unknown;
}

export interface FetchResult {
  status: number;
  ok: boolean;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text(): string;
  json(): any;
}

/** Egress policy of a VM sandbox (applied at its next boot). Private,
 * loopback and metadata addresses are never reachable. */
export interface NetworkPolicy {
  /** Public addresses reachable (default true). */
  internet?: boolean;
  /** CIDRs, addresses, "example.com" or "*.example.com" (at most 32). */
  allow?: string[];
  /** The same forms; deny wins over allow. */
  deny?: string[];
}

export interface SandboxInfo {
  id: string;
  status: 'running' | 'stopped' | string;
  createdAt: string;
  env: Record<string, string>;
  sleepAfter: number;
  keepAlive: boolean;
  limits: Record<string, unknown>;
  network?: NetworkPolicy;
  exposedPorts: ExposedPort[];
}

export class SbxClient {
  constructor(options?: SbxClientOptions);
  readonly url: URL;
  /** Closes idle kept-alive connections; the client stays usable. */
  close(): void;
  listSandboxes(opts?: CallOptions): Promise<SandboxInfo[]>;
  health(opts?: CallOptions): Promise<{ ok: boolean; backend: string }>;
  /** Fetches a URL (e.g. a preview URL) with this client's TLS trust;
   * hosts under .localhost are reached at the client's own address. */
  fetch(url: string, init?: { method?: string; headers?: Record<string, string>; body?: BodyInput; signal?: AbortSignal; timeout?: number }): Promise<FetchResult>;
}

export interface SandboxOptions {
  env?: Record<string, string>;
  envVars?: Record<string, string>;
  /** ms, or a string like "10m". */
  sleepAfter?: number | string;
  keepAlive?: boolean;
  limits?: { memoryMiB?: number; cpus?: number };
  /** sbx extension: the sandbox's egress policy; null restores the default. */
  network?: NetworkPolicy | null;
}

export function getSandbox(client: SbxClient, id: string, options?: SandboxOptions): Sandbox;

export interface CallOptions {
  /** Cancels the call; for exec/runCode/log streams the server stops the work too. */
  signal?: AbortSignal;
}

export interface ExecOptions extends CallOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** ms; a timeout rejects with code "timeout", never a false exit 0. */
  timeout?: number;
  stream?: boolean;
  onOutput?: (stream: 'stdout' | 'stderr', data: string) => void;
  onStdout?: (data: string) => void;
  onStderr?: (data: string) => void;
  onComplete?: (result: ExecResult) => void;
  onError?: (error: SandboxError) => void;
}

export interface ExecResult {
  success: boolean;
  exitCode: number;
  stdout: string;
  stderr: string;
  command: string;
  duration: number;
  timestamp: string;
  signal?: number;
  truncated?: boolean;
}

export type ExecEvent =
  | { type: 'start'; command: string; pid?: number; timestamp?: string }
  | { type: 'stdout' | 'stderr'; data: string }
  | { type: 'complete'; exitCode: number; success: boolean; duration: number; timestamp: string; command: string }
  | { type: 'error'; error: string; code: string; timedOut?: boolean; exitCode?: number };

export interface ProcessOptions extends CallOptions {
  processId?: string;
  env?: Record<string, string>;
  cwd?: string;
}

export interface ProcessRecord {
  id: string;
  pid: number;
  command: string;
  status: 'starting' | 'running' | 'completed' | 'failed' | 'killed' | string;
  startTime: string;
  endTime?: string;
  exitCode?: number;
  signal?: number;
}

export type LogEvent =
  | { type: 'stdout' | 'stderr'; data: string }
  | { type: 'exit'; exitCode?: number; signal?: number }
  | { type: 'complete' }
  | { type: 'error'; error: string; code: string };

export class Process implements ProcessRecord {
  id: string;
  processId: string;
  pid: number;
  command: string;
  status: string;
  startTime: string;
  endTime?: string;
  exitCode?: number;
  signal?: number;
  readonly sandbox: Sandbox;
  kill(signal?: string | number): Promise<{ success: boolean }>;
  getStatus(): Promise<string>;
  getLogs(): Promise<ProcessLogs>;
  streamLogs(opts?: CallOptions): AsyncGenerator<LogEvent>;
  waitForExit(timeout?: number): Promise<{ exitCode?: number; status: string; signal?: number }>;
  waitForLog(pattern: string | RegExp, opts?: number | { timeout?: number }): Promise<{ line: string; match: RegExpMatchArray | string[] }>;
  waitForPort(port: number, opts?: number | { timeout?: number }): Promise<{ port: number; ready: true }>;
}

export interface ProcessLogs {
  processId: string;
  stdout: string;
  stderr: string;
}

export type BodyInput = string | Uint8Array | ArrayBuffer | Readable | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

export interface FileEntry {
  name: string;
  path?: string;
  absolutePath?: string;
  relativePath: string;
  type: 'file' | 'directory' | 'symlink' | 'other';
  size: number;
  mode: number;
  modifiedAt: string;
  target?: string;
  isFile: boolean;
  isDirectory: boolean;
  isSymlink: boolean;
}

export interface ReadFileResult<C = string> {
  success: true;
  path: string;
  content: C;
  encoding: string;
  size: number;
  mimeType?: string;
}

export interface ExposedPort {
  port: number;
  url: string;
  name: string;
  status?: string;
}

export interface CodeContext {
  id: string;
  language: 'python' | 'javascript';
  cwd: string;
}

export interface RunCodeOptions extends CallOptions {
  /** A context id or object; without it, the sandbox's default context of `language`. */
  context?: string | CodeContext;
  language?: 'python' | 'javascript';
  timeout?: number;
  stream?: boolean;
  onStdout?: (data: string) => void;
  onStderr?: (data: string) => void;
  /** Called with each stdout/stderr chunk (the guide's runCode callback). */
  onOutput?: (chunk: string, stream: 'stdout' | 'stderr') => void;
  onResult?: (result: RichResult) => void;
  onError?: (error: ExecutionError) => void;
}

export interface RichResult {
  text?: string;
  html?: string;
  png?: string;
  json?: unknown;
  [mime: string]: unknown;
}

export interface ExecutionError {
  name: string;
  message: string;
  /** The same as message (the hosted SDK's name). */
  value: string;
  traceback: string;
  /** "Name: message". */
  toString(): string;
}

export interface Execution {
  code: string;
  success: boolean;
  /** All stdout, joined. */
  output: string;
  logs: { stdout: string[]; stderr: string[] };
  results: RichResult[];
  error: ExecutionError | null;
  duration?: number;
}

export type CodeEvent =
  | { type: 'stdout' | 'stderr'; data: string }
  | ({ type: 'result' } & RichResult)
  | { type: 'error'; name: string; message: string; traceback: string }
  | { type: 'complete'; success: boolean; duration: number };

export class Sandbox {
  readonly id: string;
  readonly client: SbxClient;
  /** Creates the sandbox if needed (PUT, create-or-get); every call does this first, once. */
  ensure(signal?: AbortSignal): Promise<SandboxInfo>;
  info(opts?: CallOptions): Promise<SandboxInfo>;
  destroy(opts?: CallOptions): Promise<{ success: boolean; id: string }>;
  setEnvVars(env: Record<string, string>, opts?: CallOptions): Promise<SandboxInfo>;
  /** Changes settings (sbx extension): sleepAfter, keepAlive, env, limits. */
  update(settings: SandboxOptions, opts?: CallOptions): Promise<SandboxInfo>;

  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  execStream(command: string, opts?: ExecOptions): AsyncGenerator<ExecEvent>;

  startProcess(command: string, opts?: ProcessOptions): Promise<Process>;
  listProcesses(opts?: CallOptions): Promise<Process[]>;
  getProcess(id: string, opts?: CallOptions): Promise<Process>;
  killProcess(id: string, signal?: string | number, opts?: CallOptions): Promise<{ success: boolean }>;
  killAllProcesses(opts?: CallOptions & { killSignal?: string | number }): Promise<{ success: boolean; killedCount: number }>;
  getProcessLogs(id: string, opts?: CallOptions): Promise<ProcessLogs>;
  streamProcessLogs(id: string, opts?: CallOptions): AsyncGenerator<LogEvent>;

  writeFile(path: string, content: BodyInput, opts?: CallOptions & { encoding?: 'utf-8' | 'base64'; mode?: number; timeout?: number }): Promise<{ success: boolean; path: string; size: number }>;
  readFile(path: string, opts?: CallOptions & { encoding?: 'utf-8' | 'base64'; timeout?: number }): Promise<ReadFileResult<string>>;
  readFile(path: string, opts: CallOptions & { encoding: 'binary' | 'bytes'; timeout?: number }): Promise<ReadFileResult<Uint8Array>>;
  /** The file as a Node stream of Buffers (the raw response). */
  readFileStream(path: string, opts?: CallOptions): Promise<IncomingMessage>;
  mkdir(path: string, opts?: CallOptions & { recursive?: boolean }): Promise<{ success: boolean; path: string }>;
  deleteFile(path: string, opts?: CallOptions & { recursive?: boolean }): Promise<{ success: boolean; path: string }>;
  renameFile(oldPath: string, newPath: string, opts?: CallOptions): Promise<{ success: boolean; path: string; newPath: string }>;
  moveFile(sourcePath: string, destinationPath: string, opts?: CallOptions): Promise<{ success: boolean; path: string; destinationPath: string }>;
  stat(path: string, opts?: CallOptions): Promise<FileEntry & { exists: true }>;
  listFiles(path: string, opts?: CallOptions & { recursive?: boolean; includeHidden?: boolean }): Promise<{ success: boolean; path: string; files: FileEntry[]; count: number }>;
  exists(path: string, opts?: CallOptions): Promise<{ success: boolean; exists: boolean; path: string }>;

  gitCheckout(repoUrl: string, opts?: CallOptions & { branch?: string; ref?: string; targetDir?: string; depth?: number; timeout?: number }): Promise<ExecResult & { repoUrl: string; branch: string | null; targetDir: string }>;

  exposePort(port: number, opts?: CallOptions & { name?: string }): Promise<ExposedPort>;
  unexposePort(port: number, opts?: CallOptions): Promise<{ success: boolean; port: number }>;
  getExposedPorts(opts?: CallOptions): Promise<ExposedPort[]>;

  createCodeContext(opts?: CallOptions & { language?: 'python' | 'javascript'; cwd?: string; envVars?: Record<string, string> }): Promise<CodeContext>;
  runCode(code: string, opts?: RunCodeOptions): Promise<Execution>;
  runCodeStream(code: string, opts?: RunCodeOptions): AsyncGenerator<CodeEvent>;
  listCodeContexts(opts?: CallOptions): Promise<CodeContext[]>;
  deleteCodeContext(context: string | CodeContext, opts?: CallOptions): Promise<{ success: boolean; id: string }>;
}

/** Parses a text/event-stream into events ({ type, ...data }). */
export function parseSSE(stream: Readable | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array | string>): AsyncGenerator<any>;
