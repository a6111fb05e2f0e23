// The page shell every dashboard page shares: header with navigation and who is signed in, the
// sign-out form, and the parts pages repeat (status words with colour and symbol, records, forms).
// Rendered with hono/jsx, which escapes every interpolated value.
import type { Child } from 'hono/jsx';
import type { Principal } from '../auth/tokens.ts';

export interface Viewer {
  principal: Principal;
  csrf: string;
}

export function Page(props: { title: string; viewer?: Viewer; children?: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · Flotilla`}</title>
        <link rel="stylesheet" href="/ui/assets/style.css" />
      </head>
      <body>
        <header>
          <a class="brand" href="/ui">Flotilla</a>
          {props.viewer && (
            <nav aria-label="Main">
              <a href="/ui">Fleet</a>
              <a href="/ui/clusters">Clusters</a>
              <a href="/ui/events">Events</a>
              <a href="/docs">API docs</a>
            </nav>
          )}
          {props.viewer && (
            <form class="who" method="post" action="/ui/signout">
              <span>
                {props.viewer.principal.subject} ({roles(props.viewer.principal)})
              </span>
              <input type="hidden" name="csrf" value={props.viewer.csrf} />
              <button type="submit">Sign out</button>
            </form>
          )}
        </header>
        <main>
          <h1>{props.title}</h1>
          {props.children}
        </main>
      </body>
    </html>
  );
}

export function roles(principal: Principal): string {
  return principal.grants
    .map((grant) => [grant.role, grant.apps && `apps ${grant.apps.join(',')}`, grant.environments && `envs ${grant.environments.join(',')}`].filter(Boolean).join(' '))
    .join('; ');
}

export type Tone = 'good' | 'warn' | 'bad' | 'idle';
const SYMBOL: Record<Tone, string> = { good: '✓', warn: '⚠', bad: '✗', idle: '–' };

/** A status as a word with a symbol; the colour only repeats what they say. */
export const Status = (props: { tone: Tone; children: Child }) => (
  <span class={`status ${props.tone}`}>
    <span aria-hidden="true">{SYMBOL[props.tone]} </span>
    {props.children}
  </span>
);

export const Time = (props: { at: string | null | undefined }) => (props.at ? <time datetime={props.at}>{props.at.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}</time> : <span>never</span>);

/** A stored record as a definition list: its top-level fields, nested ones as compact JSON (a list item each). */
export function RecordView(props: { value: unknown }) {
  if (props.value === null || typeof props.value !== 'object') return <pre>{JSON.stringify(props.value)}</pre>;
  return (
    <dl class="record">
      {Object.entries(props.value as object).map(([key, value]) => (
        <>
          <dt>{key}</dt>
          <dd>
            {typeof value === 'string' ? (
              value
            ) : Array.isArray(value) ? (
              <ul>
                {value.slice(0, 100).map((item) => (
                  <li>
                    <code>{clip(JSON.stringify(item) ?? 'null', 500)}</code>
                  </li>
                ))}
              </ul>
            ) : (
              <code>{clip(JSON.stringify(value) ?? 'null', 2000)}</code>
            )}
          </dd>
        </>
      ))}
    </dl>
  );
}

export const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max)}…` : text);

/** A POST form to an action, with the CSRF token and the reason every action asks for. */
export function ActionForm(props: { viewer: Viewer; action: string; label: string; children?: Child; reasonLabel?: string }) {
  return (
    <form class="action" method="post" action={`/ui/actions/${props.action}`}>
      <input type="hidden" name="csrf" value={props.viewer.csrf} />
      {props.children}
      <label>
        {props.reasonLabel ?? 'Reason'}
        <input name="reason" required maxlength={500} />
      </label>
      <button type="submit">{props.label}</button>
    </form>
  );
}

/** A table's column headings. */
export const Head = ({ columns }: { columns: string[] }) => (
  <thead>
    <tr>
      {columns.map((column) => (
        <th scope="col">{column}</th>
      ))}
    </tr>
  </thead>
);

/** A row's heading cell, a link when given one. */
export const RowHead = (props: { href?: string; children: Child }) => <th scope="row">{props.href ? <a href={props.href}>{props.children}</a> : props.children}</th>;

export function Field(props: { label: string; name: string; value?: string; required?: boolean; placeholder?: string; type?: string }) {
  return (
    <label>
      {props.label}
      <input name={props.name} value={props.value} required={props.required} placeholder={props.placeholder} type={props.type ?? 'text'} maxlength={200} />
    </label>
  );
}

export function Select(props: { label: string; name: string; options: string[]; optional?: boolean }) {
  return (
    <label>
      {props.label}
      <select name={props.name} required={!props.optional}>
        {props.optional && <option value="">(any)</option>}
        {props.options.map((option) => (
          <option value={option}>{option}</option>
        ))}
      </select>
    </label>
  );
}

/** A link to the next page, keeping the query's other parameters. */
export function NextPage(props: { base: string; params: Record<string, string | undefined>; cursorName?: string; cursor: string | null; label?: string }) {
  if (!props.cursor) return <></>;
  const query = new URLSearchParams(Object.entries(props.params).filter((entry): entry is [string, string] => !!entry[1]));
  query.set(props.cursorName ?? 'cursor', props.cursor);
  return (
    <p class="paging">
      <a href={`${props.base}?${query}`}>{props.label ?? 'Next page →'}</a>
    </p>
  );
}
