// net/js/examples/env.mjs: the `env` a ported Worker receives.
//
// On Cloudflare, env.Sandbox is a Durable Object binding; with sbx it is an
// SbxClient: the server URL, a token, and how to trust the server (a pinned
// certificate fingerprint or a CA file). The rest of env holds the Worker's
// secrets and settings, taken here from the process environment.
import fs from 'node:fs';
import { SbxClient } from '../src/index.js';

export function makeEnv(extra = {}) {
  const e = process.env;
  return {
    Sandbox: new SbxClient({
      url: e.SBX_URL,
      token: e.SBX_TOKEN,
      fingerprint: e.SBX_FINGERPRINT || undefined,
      ca: !e.SBX_FINGERPRINT && e.SBX_CA ? fs.readFileSync(e.SBX_CA) : undefined,
    }),
    GITHUB_TOKEN: e.GITHUB_TOKEN,
    OPENROUTER_API_KEY: e.OPENROUTER_API_KEY,
    LLM_URL: e.LLM_URL,
    PREVIEW_PORT: e.PREVIEW_PORT,
    ...extra,
  };
}
