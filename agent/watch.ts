// Drift in seconds: the agent watches the objects it owns. One watch per (apiVersion, kind,
// namespace) present in the apps' inventories, started from the resourceVersion of a LIST limited
// to the agent's owner labels, with bookmarks; a 410 (expired resourceVersion) re-lists, other
// errors reconnect with backoff, and kinds that leave every inventory stop being watched. Per object
// only its app, uid and last resourceVersion are kept, never the object. A change to an owned object
// that the agent did not make (the newest managedFields entry is another manager's) or its deletion
// asks for a reconcile of that app alone, debounced so a burst of events is one reconcile. Watching
// is best effort: while a kind is not watched (RBAC forbids it, the apiserver is away) the agent's
// periodic full check covers its apps, as it does without watches.
import type { InventoryEntry } from './inventory.ts';
import { KubeApiError, type KubeClient, type KubeObject } from './kube/client.ts';
import type { Logger } from './log.ts';
import { AGENT_METRICS, type Metrics } from './metrics.ts';
import { FIELD_MANAGER, MANAGED_BY_LABEL, ownerLabelsOf } from './ownership.ts';
import { messageOf } from './ssa/errors.ts';

export interface WatcherOptions {
  client: KubeClient;
  logger: Logger;
  metrics: Metrics;
  /** Called (debounced) with an app whose objects were changed or deleted by someone else. */
  onDrift: (app: string) => void;
  /** Events for one app within this window are one reconcile (default 250 ms: a kubectl apply of many objects is one burst). */
  debounceMs?: number;
  /** Reconnect backoff after an error: first delay, doubled up to the maximum (default 1 s … 60 s). */
  backoff?: { baseMs: number; maxMs: number };
  /** How often a forbidden watch is tried again (default 10 min). */
  forbiddenRetryMs?: number;
  /** The server ends each watch after this long and it is resumed from its last resourceVersion (default 5 min). */
  watchTimeoutSeconds?: number;
  /** Longest watch event accepted; a longer line ends the stream (default 4 MiB: objects are at most ~1.5 MiB in etcd). */
  maxLineBytes?: number;
}

/** What is kept per watched object. */
interface Tracked {
  app: string;
  uid?: string;
  resourceVersion?: string;
}

type WatchState = 'starting' | 'watching' | 'retrying' | 'forbidden';

interface KindWatch {
  apiVersion: string;
  kind: string;
  namespace: string;
  /** Object name → what is known of it. */
  objects: Map<string, Tracked>;
  state: WatchState;
  resourceVersion?: string;
  abort: AbortController;
  /** Set when the watch is asked to resume from a given resourceVersion (resumeAt). */
  resumeFrom?: string;
  stopped: boolean;
  /** The metrics label: `apps/v1/Deployment`. */
  label: string;
}

interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: KubeObject & { code?: number; reason?: string; message?: string };
}

class ExpiredError extends Error {}

const LIST_PAGE = '500';

function keyOf(apiVersion: string, kind: string, namespace: string): string {
  return `${apiVersion}|${kind}|${namespace}`;
}

/** `<ns>_<name>_<group>_<kind>`: names and namespaces cannot hold `_`, so the split is exact. */
function parseId(id: string): { namespace: string; name: string; kind: string } {
  const [namespace = '', name = '', , kind = ''] = id.split('_');
  return { namespace, name, kind };
}

/**
 * Whether the agent made this version of the object: the newest managedFields entry (status
 * subresource writes aside) is the agent's. A tie between managers within the same second counts as
 * someone else's change: one reconcile too many writes nothing, one too few misses drift.
 */
export function changedByAgent(object: KubeObject): boolean {
  const entries = ((object.metadata['managedFields'] as { manager?: string; time?: string; subresource?: string }[] | undefined) ?? []).filter(
    (entry) => entry.subresource !== 'status',
  );
  if (entries.length === 0) return false;
  const newest = entries.reduce((latest, entry) => ((entry.time ?? '') > latest ? (entry.time ?? '') : latest), '');
  return entries.filter((entry) => (entry.time ?? '') === newest).every((entry) => entry.manager === FIELD_MANAGER);
}

export class ObjectWatcher {
  private readonly watches = new Map<string, KindWatch>();
  /** Per app, the watch keys its inventory needs. */
  private readonly appKeys = new Map<string, Set<string>>();
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private readonly debounceMs: number;
  private readonly backoff: { baseMs: number; maxMs: number };
  private forbiddenLogged = false;
  private stopped = false;

  constructor(private readonly options: WatcherOptions) {
    this.debounceMs = options.debounceMs ?? 250;
    this.backoff = options.backoff ?? { baseMs: 1_000, maxMs: 60_000 };
  }

  /** The objects of an app's inventory; an empty list forgets the app. Starts and stops watches as kinds come and go. */
  track(app: string, entries: readonly InventoryEntry[]): void {
    if (this.stopped) return;
    const wanted = new Map<string, { apiVersion: string; kind: string; namespace: string; names: string[] }>();
    for (const entry of entries) {
      const { namespace, name, kind } = parseId(entry.id);
      const key = keyOf(entry.v, kind, namespace);
      const group = wanted.get(key) ?? { apiVersion: entry.v, kind, namespace, names: [] };
      group.names.push(name);
      wanted.set(key, group);
    }
    for (const key of this.appKeys.get(app) ?? []) {
      const watch = this.watches.get(key);
      if (!watch) continue;
      const names = new Set(wanted.get(key)?.names);
      for (const [name, tracked] of watch.objects) if (tracked.app === app && !names.has(name)) watch.objects.delete(name);
    }
    for (const [key, group] of wanted) {
      let watch = this.watches.get(key);
      if (!watch) {
        watch = {
          apiVersion: group.apiVersion,
          kind: group.kind,
          namespace: group.namespace,
          objects: new Map(),
          state: 'starting',
          abort: new AbortController(),
          stopped: false,
          label: `${group.apiVersion}/${group.kind}`,
        };
        this.watches.set(key, watch);
        void this.run(watch);
      }
      for (const name of group.names) {
        const tracked = watch.objects.get(name);
        if (tracked?.app === app) continue;
        watch.objects.set(name, { app });
      }
    }
    if (wanted.size > 0) this.appKeys.set(app, new Set(wanted.keys()));
    else {
      this.appKeys.delete(app);
      // A forgotten app has nothing left to reconcile.
      clearTimeout(this.pending.get(app));
      this.pending.delete(app);
    }
    this.stopUnused();
  }

  /** True when every kind of the app's inventory is being watched: its drift is seen as it happens. */
  covers(app: string): boolean {
    const keys = this.appKeys.get(app);
    if (!keys) return false;
    return [...keys].every((key) => this.watches.get(key)?.state === 'watching');
  }

  /** Ends every watch and pending reconcile. */
  stop(): void {
    this.stopped = true;
    for (const timer of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
    for (const watch of this.watches.values()) this.end(watch);
    this.watches.clear();
    this.appKeys.clear();
    this.updateGauges();
  }

  /**
   * Drops every connection and resumes each watch from `resourceVersion` (for tests and
   * diagnostics: an old one makes the apiserver answer 410 Gone, which re-lists).
   */
  resumeAt(resourceVersion: string): void {
    for (const watch of this.watches.values()) {
      watch.resumeFrom = resourceVersion;
      watch.abort.abort();
    }
  }

  private stopUnused(): void {
    const used = new Set([...this.appKeys.values()].flatMap((keys) => [...keys]));
    for (const [key, watch] of this.watches) {
      if (used.has(key)) continue;
      this.end(watch);
      this.watches.delete(key);
      this.options.logger.debug('watch stopped: the kind left every inventory', { kind: watch.label, namespace: watch.namespace || undefined });
    }
    this.updateGauges();
  }

  private end(watch: KindWatch): void {
    watch.stopped = true;
    watch.abort.abort();
  }

  private updateGauges(): void {
    let objects = 0;
    for (const watch of this.watches.values()) objects += watch.objects.size;
    this.options.metrics.set(AGENT_METRICS.watches, {}, [...this.watches.values()].filter((watch) => watch.state === 'watching').length);
    this.options.metrics.set(AGENT_METRICS.watchedObjects, {}, objects);
  }

  private setState(watch: KindWatch, state: WatchState): void {
    watch.state = state;
    this.updateGauges();
  }

  /** One kind's loop: list, watch until it ends, resume; re-list on 410; back off on errors. */
  private async run(watch: KindWatch): Promise<void> {
    const { client, logger, metrics } = this.options;
    let failures = 0;
    let expiredInRow = 0;
    let listReason: 'start' | 'expired' | 'error' | null = 'start';
    while (!watch.stopped) {
      try {
        const path = await client.pathFor({ apiVersion: watch.apiVersion, kind: watch.kind, namespace: watch.namespace });
        if (listReason) {
          await this.list(watch, path);
          metrics.inc(AGENT_METRICS.watchRelists, { kind: watch.label, reason: listReason });
          listReason = null;
        }
        this.setState(watch, 'watching');
        const started = Date.now();
        await this.watchOnce(watch, path);
        expiredInRow = 0;
        // A server (or proxy) that ends watches at once must not make this a busy loop: back off as after an error.
        if (Date.now() - started < 1_000) await this.pause(watch, Math.max(1_000, this.backoffMs(++failures)));
        else failures = 0;
      } catch (error) {
        if (watch.stopped) break;
        if (error instanceof ExpiredError || (error instanceof KubeApiError && error.status === 410)) {
          logger.info('watch expired; listing again', { kind: watch.label, namespace: watch.namespace || undefined });
          listReason = 'expired';
          // One re-list at once; a watch that keeps expiring right after it must not become a list storm.
          if (expiredInRow++ > 0) await this.pause(watch, this.backoffMs(expiredInRow - 1));
          continue;
        }
        if (watch.abort.signal.aborted && watch.resumeFrom) {
          watch.resourceVersion = watch.resumeFrom;
          watch.resumeFrom = undefined;
          watch.abort = new AbortController();
          // Resumed as asked, even when a list was cut short by it.
          listReason = null;
          continue;
        }
        metrics.inc(AGENT_METRICS.watchErrors, { kind: watch.label });
        const forbidden = error instanceof KubeApiError && (error.status === 403 || error.status === 405);
        failures++;
        if (forbidden) {
          this.setState(watch, 'forbidden');
          // Once per process: the periodic full check covers every app meanwhile.
          if (!this.forbiddenLogged) {
            this.forbiddenLogged = true;
            logger.warn('watching owned objects is not allowed; drift is found by the periodic full check only', { kind: watch.label, error: messageOf(error) });
          }
        } else {
          this.setState(watch, 'retrying');
          logger.warn('watch failed; reconnecting', { kind: watch.label, namespace: watch.namespace || undefined, error: messageOf(error), failures });
        }
        await this.pause(watch, forbidden ? (this.options.forbiddenRetryMs ?? 10 * 60_000) * (0.8 + Math.random() * 0.4) : this.backoffMs(failures));
        // Events may have been missed while disconnected for long: a list tells what changed.
        listReason = 'error';
      }
    }
  }

  /** The jittered reconnect delay after `failures` failures in a row. */
  private backoffMs(failures: number): number {
    return Math.min(this.backoff.baseMs * 2 ** (failures - 1), this.backoff.maxMs) * (0.8 + Math.random() * 0.4);
  }

  private async pause(watch: KindWatch, ms: number): Promise<void> {
    if (watch.stopped) return;
    const { signal } = watch.abort;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      // The controller outlives many pauses: a listener left behind by each would pile up.
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
    if (!watch.stopped && watch.abort.signal.aborted) watch.abort = new AbortController();
  }

  private selector(): string {
    return `${MANAGED_BY_LABEL}=${ownerLabelsOf('')[MANAGED_BY_LABEL]}`;
  }

  /** Lists the owned objects of the kind; what changed or went since they were last seen asks for reconciles. */
  private async list(watch: KindWatch, path: string): Promise<void> {
    const seen = new Map<string, { uid?: string; resourceVersion?: string; object: KubeObject }>();
    let next: string | undefined;
    let resourceVersion: string | undefined;
    do {
      const page = await this.options.client.request<{ items: KubeObject[]; metadata: { continue?: string; resourceVersion?: string } }>('GET', path, {
        query: { labelSelector: this.selector(), limit: LIST_PAGE, continue: next },
        signal: watch.abort.signal,
      });
      for (const item of page?.items ?? []) {
        if (watch.objects.has(item.metadata.name)) seen.set(item.metadata.name, { uid: item.metadata.uid, resourceVersion: item.metadata.resourceVersion, object: item });
      }
      next = page?.metadata.continue || undefined;
      resourceVersion = page?.metadata.resourceVersion;
    } while (next);
    for (const [name, tracked] of watch.objects) {
      const live = seen.get(name);
      if (!live) {
        // Known to exist before and gone now: deleted while not watched.
        if (tracked.uid) this.drifted(tracked.app);
        tracked.uid = undefined;
        tracked.resourceVersion = undefined;
        continue;
      }
      if (tracked.resourceVersion && tracked.resourceVersion !== live.resourceVersion && !changedByAgent(live.object)) this.drifted(tracked.app);
      tracked.uid = live.uid;
      tracked.resourceVersion = live.resourceVersion;
    }
    watch.resourceVersion = resourceVersion;
  }

  private async watchOnce(watch: KindWatch, path: string): Promise<void> {
    const signal = watch.abort.signal;
    await this.options.client.stream(path, {
      query: {
        watch: 'true',
        labelSelector: this.selector(),
        resourceVersion: watch.resourceVersion,
        allowWatchBookmarks: 'true',
        timeoutSeconds: String(this.options.watchTimeoutSeconds ?? 300),
      },
      signal,
      maxLineBytes: this.options.maxLineBytes ?? 4 * 1024 * 1024,
      // The server ends every watch after timeoutSeconds: silence for longer is a dead connection.
      idleTimeoutMs: ((this.options.watchTimeoutSeconds ?? 300) + 60) * 1000,
      onLine: (line) => this.onEvent(watch, JSON.parse(line) as WatchEvent),
    });
  }

  private onEvent(watch: KindWatch, event: WatchEvent): void {
    const { metrics } = this.options;
    metrics.inc(AGENT_METRICS.watchEvents, { kind: watch.label, type: event.type });
    if (event.type === 'ERROR') {
      if (event.object.code === 410) throw new ExpiredError(event.object.message ?? 'resourceVersion expired');
      throw new KubeApiError(event.object.code ?? 500, event.object.reason ?? 'Unknown', event.object.message ?? 'watch error');
    }
    const metadata = event.object.metadata;
    if (metadata?.resourceVersion) watch.resourceVersion = metadata.resourceVersion;
    if (event.type === 'BOOKMARK' || !metadata) return;
    const tracked = watch.objects.get(metadata.name);
    if (!tracked) return;
    if (event.type === 'DELETED') {
      tracked.uid = undefined;
      tracked.resourceVersion = undefined;
      this.drifted(tracked.app);
      return;
    }
    if (tracked.resourceVersion === metadata.resourceVersion) return;
    const foreign = !changedByAgent(event.object);
    tracked.uid = metadata.uid;
    tracked.resourceVersion = metadata.resourceVersion;
    if (foreign) this.drifted(tracked.app);
  }

  /** Asks for a reconcile of the app, once per debounce window however many events arrive. */
  private drifted(app: string): void {
    if (this.pending.has(app) || this.stopped) return;
    this.pending.set(
      app,
      setTimeout(() => {
        this.pending.delete(app);
        this.options.onDrift(app);
      }, this.debounceMs),
    );
  }
}
