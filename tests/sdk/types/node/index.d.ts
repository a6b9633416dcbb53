// tests/sdk/types/node/index.d.ts: the few Node declarations net/js/index.d.ts
// names (Buffer, IncomingMessage, Readable), for tsc where @types/node is not
// installed (Debian packages TypeScript but not @types/node). Only the
// members the type test uses; not a copy of @types/node.
interface Buffer extends Uint8Array {
  toString(encoding?: string): string;
}
declare var Buffer: { from(data: string | Uint8Array | ArrayBuffer, encoding?: string): Buffer };

declare var process: { env: Record<string, string | undefined>; pid: number };

declare module 'node:stream' {
  export class Readable implements AsyncIterable<any> {
    static from(source: Iterable<any> | AsyncIterable<any>): Readable;
    [Symbol.asyncIterator](): AsyncIterableIterator<any>;
  }
}

declare module 'node:http' {
  import { Readable } from 'node:stream';
  export class IncomingMessage extends Readable {
    statusCode?: number;
    headers: Record<string, string | string[] | undefined>;
  }
}
