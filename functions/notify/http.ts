// One HTTP attempt to a destination: the SSRF-checked address only, redirects not followed (a 3xx
// is a failure), one deadline for the whole exchange (a receiver that hangs or trickles is cut
// off), and at most a few KiB of the response read.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type BlockList } from 'node:net';
import { guardedLookup, refusal } from './ssrf.ts';

export interface AttemptResult {
  ok: boolean;
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
  /** The start of the response body (at most maxResponseBytes). */
  body: string;
}

export interface SendOptions {
  timeoutMs: number;
  allowed: BlockList;
  maxResponseBytes?: number;
}

const USER_AGENT = 'flotilla-notifications/1';

export function send(target: string, init: { method?: string; headers: Record<string, string>; body: string }, options: SendOptions): Promise<AttemptResult> {
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
  const max = options.maxResponseBytes ?? 4096;
  return new Promise((resolve) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const done = (result: Omit<AttemptResult, 'latencyMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...result, latencyMs: elapsed() });
    };
    const fail = (error: string, statusCode: number | null = null) => done({ ok: false, statusCode, error, body: '' });
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      return fail('not a URL');
    }
    const host = url.hostname.replace(/^\[|\]$/g, '');
    // Node connects to an IP literal without a lookup: check it here.
    const literal = isIP(host) ? refusal(host, options.allowed) : null;
    if (literal) return fail(`refused: ${literal}`);
    const body = Buffer.from(init.body);
    const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
      method: init.method ?? 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(body.length), 'user-agent': USER_AGENT, ...init.headers },
      lookup: guardedLookup(options.allowed),
      agent: false,
    });
    timer = setTimeout(() => {
      fail(`no complete response within ${options.timeoutMs} ms`);
      request.destroy();
    }, options.timeoutMs);
    request.on('error', (err: Error) => fail(err.name === 'TargetRefused' ? `refused: ${err.message}` : `${(err as NodeJS.ErrnoException).code ?? err.name}: ${err.message}`));
    request.on('response', (response: IncomingMessage) => {
      const status = response.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let size = 0;
      const finish = () => {
        const text = Buffer.concat(chunks).subarray(0, max).toString('utf8');
        const ok = status >= 200 && status < 300;
        done({ ok, statusCode: status, error: ok ? null : status >= 300 && status < 400 ? `redirect to ${response.headers.location ?? '?'} not followed` : `HTTP ${status}`, body: text });
        response.destroy();
      };
      response.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        if (size >= max) finish();
      });
      response.on('end', finish);
      response.on('error', () => finish());
    });
    request.end(body);
  });
}
