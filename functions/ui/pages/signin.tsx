// The sign-in page: paste a token, or sign in with the configured OpenID provider; and the page
// an error or an action's result is shown on.
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { Page, RecordView, type Viewer } from '../layout.tsx';
import { MAX_TOKEN_CHARS } from '../session.ts';

export function SignInPage(props: { csrf: string; next: string; oidc: boolean; message?: string; error?: string }) {
  return (
    <Page title="Sign in">
      {props.message && <p class="notice">{props.message}</p>}
      {props.error && (
        <p class="error" role="alert">
          {props.error}
        </p>
      )}
      {props.oidc && (
        <p>
          <a class="button" href={`/ui/signin/oidc?next=${encodeURIComponent(props.next)}`}>
            Sign in with your identity provider
          </a>
        </p>
      )}
      <form class="action" method="post" action="/ui/signin">
        <input type="hidden" name="csrf" value={props.csrf} />
        <input type="hidden" name="next" value={props.next} />
        <label>
          Token (from POST /v1/tokens, or npm run admin-token)
          <input type="password" name="token" required autocomplete="off" maxlength={MAX_TOKEN_CHARS} />
        </label>
        <button type="submit">Sign in with a token</button>
      </form>
      <p class="muted">The session is a cookie that lasts as long as the token, at most 8 hours.</p>
    </Page>
  );
}

export function ErrorPage(props: { status: ContentfulStatusCode; message: string; viewer?: Viewer; back?: string }) {
  return (
    <Page title={`${props.status}: ${TITLES[props.status] ?? 'Error'}`} viewer={props.viewer}>
      <p class="error" role="alert">
        {props.message}
      </p>
      <p>
        <a href={props.back ?? '/ui'}>Back</a>
      </p>
    </Page>
  );
}

const TITLES: Partial<Record<number, string>> = {
  400: 'Bad request',
  401: 'Not signed in',
  403: 'Not allowed',
  404: 'Not found',
  409: 'Conflict',
  413: 'Too large',
  415: 'Unsupported form',
  503: 'Unavailable',
};

export function ResultPage(props: { title: string; record: unknown; viewer: Viewer; back: string }) {
  return (
    <Page title={`Done: ${props.title}`} viewer={props.viewer}>
      <p class="notice" role="status">
        The control plane recorded this:
      </p>
      <RecordView value={props.record} />
      <p>
        <a href={props.back}>Back</a>
      </p>
    </Page>
  );
}
